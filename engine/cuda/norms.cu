// Layer norm and group norm (one kernel: a norm over groups of `group` consecutive values, the
// affine weight indexed by the position in the row). One warp per group.
#include <cuda_runtime.h>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"

namespace rwkv::cuda {
namespace {

__global__ void norm_forward_kernel(int64_t groups, int C, int group, float eps,
                                    const bf16_t* __restrict__ x, const float* __restrict__ weight,
                                    const float* __restrict__ bias, bf16_t* __restrict__ y,
                                    float* __restrict__ mean_out, float* __restrict__ rstd_out) {
  const int64_t g = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (g >= groups) return;
  const int64_t base = g * group;
  const int col0 = (int)(base % C);
  float s = 0.f;
  for (int c = lane; c < group; c += 32) s += ld(x, base + c);
  const float mean = warp_sum(s) / group;
  float q = 0.f;
  for (int c = lane; c < group; c += 32) { float d = ld(x, base + c) - mean; q += d * d; }
  const float rstd = rsqrtf(warp_sum(q) / group + eps);
  for (int c = lane; c < group; c += 32)
    st(y, base + c, (ld(x, base + c) - mean) * rstd * weight[col0 + c] + bias[col0 + c]);
  if (lane == 0) { mean_out[g] = mean; rstd_out[g] = rstd; }
}

__global__ void norm_backward_kernel(int64_t groups, int C, int group, const bf16_t* __restrict__ x,
                                     const float* __restrict__ weight, const float* __restrict__ mean_in,
                                     const float* __restrict__ rstd_in, const bf16_t* __restrict__ dy,
                                     bf16_t* __restrict__ dx) {
  const int64_t g = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (g >= groups) return;
  const int64_t base = g * group;
  const int col0 = (int)(base % C);
  const float mean = mean_in[g], rstd = rstd_in[g];
  float sg = 0.f, sgx = 0.f;
  for (int c = lane; c < group; c += 32) {
    float gv = ld(dy, base + c) * weight[col0 + c];
    float xh = (ld(x, base + c) - mean) * rstd;
    sg += gv;
    sgx += gv * xh;
  }
  sg = warp_sum(sg) / group;
  sgx = warp_sum(sgx) / group;
  for (int c = lane; c < group; c += 32) {
    float gv = ld(dy, base + c) * weight[col0 + c];
    float xh = (ld(x, base + c) - mean) * rstd;
    st(dx, base + c, rstd * (gv - sg - xh * sgx));
  }
}

// dweight[c] += sum_rows dy * xhat, dbias[c] += sum_rows dy. Grid: (C/256 columns, row slices).
__global__ void norm_param_grad_kernel(int rows, int C, int group, const bf16_t* __restrict__ x,
                                       const float* __restrict__ mean_in, const float* __restrict__ rstd_in,
                                       const bf16_t* __restrict__ dy, float* __restrict__ dweight,
                                       float* __restrict__ dbias) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float sw = 0.f, sb = 0.f;
  for (int r = r0; r < r1; r++) {
    const int64_t idx = (int64_t)r * C + c;
    const int64_t g = idx / group;
    float d = ld(dy, idx);
    sw += d * (ld(x, idx) - mean_in[g]) * rstd_in[g];
    sb += d;
  }
  if (dweight) atomicAdd(dweight + c, sw);
  if (dbias) atomicAdd(dbias + c, sb);
}

}  // namespace

void norm_forward(int rows, int C, int group, float eps, const bf16_t* x, const float* weight,
                  const float* bias, bf16_t* y, float* mean, float* rstd, cudaStream_t stream) {
  const int64_t groups = (int64_t)rows * C / group;
  const int warps = 8;
  norm_forward_kernel<<<(unsigned)((groups + warps - 1) / warps), warps * 32, 0, stream>>>(
      groups, C, group, eps, x, weight, bias, y, mean, rstd);
  check_cuda(cudaGetLastError(), "norm_forward");
}

void norm_backward(int rows, int C, int group, const bf16_t* x, const float* weight,
                   const float* mean, const float* rstd, const bf16_t* dy, bf16_t* dx,
                   float* dweight, float* dbias, cudaStream_t stream) {
  const int64_t groups = (int64_t)rows * C / group;
  const int warps = 8;
  norm_backward_kernel<<<(unsigned)((groups + warps - 1) / warps), warps * 32, 0, stream>>>(
      groups, C, group, x, weight, mean, rstd, dy, dx);
  check_cuda(cudaGetLastError(), "norm_backward");
  if (dweight || dbias) {
    dim3 grid((C + 255) / 256, std::min(rows, 128));
    norm_param_grad_kernel<<<grid, 256, 0, stream>>>(rows, C, group, x, mean, rstd, dy, dweight, dbias);
    check_cuda(cudaGetLastError(), "norm_param_grad");
  }
}

}  // namespace rwkv::cuda
