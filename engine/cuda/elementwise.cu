// Fused element-wise chains: token shift + lerps, the low-rank paths' activations (with their
// bias vectors), relu^2, RWKV-6's silu gate, residual adds, and dtype conversions.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"

namespace rwkv::cuda {
namespace {

unsigned blocks_for(int64_t n, int threads) {
  return (unsigned)std::min<int64_t>((n + threads - 1) / threads, 1 << 20);
}

// x[t-1] at t = 0: zero, or the previous chunk's last row (infctx).
__device__ __forceinline__ float shifted_first(const float* prev, int64_t i, int T, int C) {
  return prev ? prev[(i / ((int64_t)T * C)) * C + i % C] : 0.f;
}

__global__ void shift_lerp_fwd_kernel(int64_t n, int T, int C, int K, const bf16_t* __restrict__ x,
                                      const float* __restrict__ mu, bf16_t* __restrict__ out,
                                      const float* __restrict__ prev) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % C);
    const int t = (int)((i / C) % T);
    const float xv = ld(x, i);
    const float xx = (t > 0 ? ld(x, i - C) : shifted_first(prev, i, T, C)) - xv;
    for (int k = 0; k < K; k++) st(out, k * n + i, xv + xx * mu[k * C + c]);
  }
}

__global__ void shift_lerp_bwd_kernel(int64_t n, int T, int C, int K, const float* __restrict__ mu,
                                      const bf16_t* __restrict__ dout, bf16_t* __restrict__ dx) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % C);
    const int t = (int)((i / C) % T);
    float g = 0.f;
    for (int k = 0; k < K; k++) {
      const float m = mu[k * C + c];
      g += ld(dout, k * n + i) * (1.f - m);
      if (t + 1 < T) g += ld(dout, k * n + i + C) * m;
    }
    st(dx, i, g);
  }
}

// dmu[k][c] += sum over (b,t) of dout_k * (x[t-1] - x[t]).
__global__ void shift_lerp_dmu_kernel(int rows, int T, int C, int K, const bf16_t* __restrict__ x,
                                      const bf16_t* __restrict__ dout, float* __restrict__ dmu,
                                      const float* __restrict__ prev) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t n = (int64_t)rows * C;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int r = r0; r < r1; r++) {
    const int64_t i = (int64_t)r * C + c;
    const float xx = ((r % T) > 0 ? ld(x, i - C) : shifted_first(prev, i, T, C)) - ld(x, i);
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (k < K) acc[k] += ld(dout, k * n + i) * xx;
  }
  for (int k = 0; k < K && k < 8; k++) atomicAdd(dmu + k * C + c, acc[k]);
}

__device__ __forceinline__ float act_f(Act act, float x, float bias) {
  switch (act) {
    case Act::Tanh: return tanhf(x);
    case Act::Sigmoid: return 1.f / (1.f + __expf(-(x + bias)));
    case Act::DecayClamp: {
      const float z = -(x + bias);  // -softplus(z) - 0.5, softplus stable for large |z|
      const float sp = z > 20.f ? z : log1pf(__expf(z));
      return -sp - 0.5f;
    }
    case Act::ReluSquare: { const float r = fmaxf(x, 0.f); return r * r; }
    case Act::BiasAdd: return x + bias;
    case Act::Silu: return x / (1.f + __expf(-x));
  }
  return 0.f;
}
__device__ __forceinline__ float act_d(Act act, float x, float bias) {
  switch (act) {
    case Act::Tanh: { const float t = tanhf(x); return 1.f - t * t; }
    case Act::Sigmoid: { const float s = 1.f / (1.f + __expf(-(x + bias))); return s * (1.f - s); }
    case Act::DecayClamp: {  // d/du [-softplus(-u)] = sigmoid(-u)
      return 1.f / (1.f + __expf(x + bias));
    }
    case Act::ReluSquare: return 2.f * fmaxf(x, 0.f);
    case Act::BiasAdd: return 1.f;
    case Act::Silu: { const float s = 1.f / (1.f + __expf(-x)); return s * (1.f + x * (1.f - s)); }
  }
  return 0.f;
}

__global__ void act_fwd_kernel(Act act, int64_t n, int C, const bf16_t* __restrict__ x,
                               const float* __restrict__ bias, bf16_t* __restrict__ y) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(y, i, act_f(act, ld(x, i), bias ? bias[i % C] : 0.f));
}
__global__ void act_bwd_kernel(Act act, int64_t n, int C, const bf16_t* __restrict__ x,
                               const float* __restrict__ bias, const bf16_t* __restrict__ dy,
                               bf16_t* __restrict__ dx) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(dx, i, ld(dy, i) * act_d(act, ld(x, i), bias ? bias[i % C] : 0.f));
}
// out[c] += sum over rows of v[r][c] (bias gradients).
__global__ void col_sum_kernel(int rows, int C, const bf16_t* __restrict__ v, float* __restrict__ out) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float s = 0.f;
  for (int r = r0; r < r1; r++) s += ld(v, (int64_t)r * C + c);
  atomicAdd(out + c, s);
}
__global__ void add_kernel(int64_t n, const bf16_t* a, const bf16_t* b, bf16_t* out) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(out, i, ld(a, i) + ld(b, i));
}
__global__ void f2b_kernel(int64_t n, const float* x, bf16_t* y) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(y, i, x[i]);
}
__global__ void b2f_kernel(int64_t n, const bf16_t* x, float* y) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = ld(x, i);
}

}  // namespace

void shift_lerp_forward(int B, int T, int C, int K, const bf16_t* x, const float* mu, bf16_t* out,
                        cudaStream_t stream, const float* prev) {
  const int64_t n = (int64_t)B * T * C;
  shift_lerp_fwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, T, C, K, x, mu, out, prev);
  check_cuda(cudaGetLastError(), "shift_lerp_forward");
}

void shift_lerp_backward(int B, int T, int C, int K, const bf16_t* x, const float* mu,
                         const bf16_t* dout, bf16_t* dx, float* dmu, cudaStream_t stream,
                         const float* prev) {
  const int64_t n = (int64_t)B * T * C;
  shift_lerp_bwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, T, C, K, mu, dout, dx);
  check_cuda(cudaGetLastError(), "shift_lerp_backward");
  if (dmu) {
    const int rows = B * T;
    for (int k0 = 0; k0 < K; k0 += 8) {
      dim3 grid((C + 255) / 256, std::min(rows, 128));
      shift_lerp_dmu_kernel<<<grid, 256, 0, stream>>>(rows, T, C, std::min(8, K - k0), x,
                                                      dout + k0 * n, dmu + k0 * C, prev);
    }
    check_cuda(cudaGetLastError(), "shift_lerp_dmu");
  }
}

void act_forward(Act act, int64_t n, int C, const bf16_t* x, const float* bias, bf16_t* y,
                 cudaStream_t stream) {
  act_fwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(act, n, C, x, bias, y);
  check_cuda(cudaGetLastError(), "act_forward");
}

void act_backward(Act act, int64_t n, int C, const bf16_t* x, const float* bias, const bf16_t* dy,
                  bf16_t* dx, float* dbias, cudaStream_t stream) {
  act_bwd_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(act, n, C, x, bias, dy, dx);
  check_cuda(cudaGetLastError(), "act_backward");
  if (dbias) {
    const int rows = (int)(n / C);
    dim3 grid((C + 255) / 256, std::min(rows, 128));
    col_sum_kernel<<<grid, 256, 0, stream>>>(rows, C, dx, dbias);
    check_cuda(cudaGetLastError(), "act_backward(dbias)");
  }
}

void add_forward(int64_t n, const bf16_t* a, const bf16_t* b, bf16_t* out, cudaStream_t stream) {
  add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, a, b, out);
  check_cuda(cudaGetLastError(), "add_forward");
}

void f32_to_bf16_device(int64_t n, const float* x, bf16_t* y, cudaStream_t stream) {
  f2b_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, x, y);
  check_cuda(cudaGetLastError(), "f32_to_bf16");
}
void bf16_to_f32_device(int64_t n, const bf16_t* x, float* y, cudaStream_t stream) {
  b2f_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, x, y);
  check_cuda(cudaGetLastError(), "bf16_to_f32");
}

}  // namespace rwkv::cuda
