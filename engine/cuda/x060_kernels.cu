// The x060 block's element-wise kernels (see x060_kernels.h for the math).
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/x060_kernels.h"

namespace rwkv::cuda {
namespace {
constexpr int K = kX060Mixes;

unsigned blocks_for(int64_t n, int threads) {
  return (unsigned)std::min<int64_t>((n + threads - 1) / threads, 1 << 20);
}

// xx = x[t-1] - x at flat index i of [B,T,C] (x[-1]: the carried row or zero).
__device__ __forceinline__ float shift_delta(const bf16_t* x, const float* prev, int64_t i, int T, int C) {
  const int t = (int)((i / C) % T);
  const float before = t > 0 ? ld(x, i - C) : prev ? prev[(i / ((int64_t)T * C)) * C + i % C] : 0.f;
  return before - ld(x, i);
}

__global__ void ddlerp_fwd_kernel(int64_t n, int T, int C, const bf16_t* __restrict__ x, X060MixVectors mu,
                                  const bf16_t* __restrict__ m, bf16_t* __restrict__ out,
                                  const float* __restrict__ prev) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % C);
    const float xv = ld(x, i), xx = shift_delta(x, prev, i, T, C);
#pragma unroll
    for (int j = 0; j < K; j++) st(out, j * n + i, xv + xx * (mu.mu[j][c] + ld(m, j * n + i)));
  }
}

// dx[t] = sum_j dout_j[t] (1 - mu_j - m_j[t]) + sum_j dout_j[t+1] (mu_j + m_j[t+1]);
// dm_j[t] = dout_j[t] xx[t].
__global__ void ddlerp_bwd_kernel(int64_t n, int T, int C, const bf16_t* __restrict__ x, X060MixVectors mu,
                                  const bf16_t* __restrict__ m, const bf16_t* __restrict__ dout,
                                  bf16_t* __restrict__ dx, bf16_t* __restrict__ dm, const float* __restrict__ prev) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % C);
    const int t = (int)((i / C) % T);
    const float xx = shift_delta(x, prev, i, T, C);
    float g = 0.f;
#pragma unroll
    for (int j = 0; j < K; j++) {
      const float d = ld(dout, j * n + i), mix = mu.mu[j][c] + ld(m, j * n + i);
      g += d * (1.f - mix);
      if (t + 1 < T) g += ld(dout, j * n + i + C) * (mu.mu[j][c] + ld(m, j * n + i + C));
      st(dm, j * n + i, d * xx);
    }
    st(dx, i, g);
  }
}

// dmu_j[c] += sum over rows of dout_j * xx, in fp32 from the inputs (not from the bf16 dm).
__global__ void ddlerp_dmu_kernel(int rows, int T, int C, const bf16_t* __restrict__ x,
                                  const bf16_t* __restrict__ dout, X060MixGrads dmu, const float* __restrict__ prev) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t n = (int64_t)rows * C;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float acc[K] = {0, 0, 0, 0, 0};
  for (int r = r0; r < r1; r++) {
    const int64_t i = (int64_t)r * C + c;
    const float xx = shift_delta(x, prev, i, T, C);
#pragma unroll
    for (int j = 0; j < K; j++) acc[j] += ld(dout, j * n + i) * xx;
  }
#pragma unroll
  for (int j = 0; j < K; j++)
    if (dmu.dmu[j]) atomicAdd(dmu.dmu[j] + c, acc[j]);
}

__global__ void mul_add_kernel(int64_t n, const bf16_t* a, const bf16_t* b, const bf16_t* res, bf16_t* out) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(out, i, (res ? ld(res, i) : 0.f) + ld(a, i) * ld(b, i));
}
}  // namespace

void ddlerp_combine_forward(int B, int T, int C, const bf16_t* x, const X060MixVectors& mu, const bf16_t* m,
                            bf16_t* out, cudaStream_t stream, const float* prev) {
  const int64_t n = (int64_t)B * T * C;
  ddlerp_fwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, T, C, x, mu, m, out, prev);
  check_cuda(cudaGetLastError(), "ddlerp_combine_forward");
}

void ddlerp_combine_backward(int B, int T, int C, const bf16_t* x, const X060MixVectors& mu, const bf16_t* m,
                             const bf16_t* dout, bf16_t* dx, bf16_t* dm, const X060MixGrads& dmu,
                             cudaStream_t stream, const float* prev) {
  const int64_t n = (int64_t)B * T * C;
  ddlerp_bwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, T, C, x, mu, m, dout, dx, dm, prev);
  check_cuda(cudaGetLastError(), "ddlerp_combine_backward");
  bool any = false;
  for (float* p : dmu.dmu) any = any || p;
  if (any) {
    const int rows = B * T;
    dim3 grid((C + 255) / 256, std::min(rows, 128));
    ddlerp_dmu_kernel<<<grid, 256, 0, stream>>>(rows, T, C, x, dout, dmu, prev);
    check_cuda(cudaGetLastError(), "ddlerp_combine_backward(dmu)");
  }
}

void mul_add_forward(int64_t n, const bf16_t* a, const bf16_t* b, const bf16_t* res, bf16_t* out,
                     cudaStream_t stream) {
  mul_add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, a, b, res, out);
  check_cuda(cudaGetLastError(), "mul_add_forward");
}

}  // namespace rwkv::cuda
