// WKV7 recurrence forward and backward (the math is in kernels.h). One block per (batch, head),
// 64 threads. Forward: thread i owns row i of the 64x64 fp32 state. Backward: thread j owns
// column j of the state, and both row j and column j of the state gradient, so that every
// reduction the gradients need is a loop over registers against values broadcast in shared
// memory, with no cross-thread reductions.
#include <cuda_runtime.h>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"
#include "core/errors.h"

namespace rwkv::cuda {
namespace {
constexpr int N = kWkvHeadSize;
constexpr int CK = kWkvCheckpoint;

__global__ void __launch_bounds__(N) wkv7_forward_kernel(int T, int H, const bf16_t* __restrict__ r_,
    const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_, const bf16_t* __restrict__ v_,
    const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_, bf16_t* __restrict__ y_,
    float* __restrict__ ckpt_, float* __restrict__ sa_) {
  const int bb = blockIdx.y, hh = blockIdx.x, i = threadIdx.x;
  float S[N];
#pragma unroll
  for (int j = 0; j < N; j++) S[j] = 0.f;
  __shared__ float r[N], w[N], k[N], a[N], b[N];
  const int64_t chunks = T / CK;
  for (int t = 0; t < T; t++) {
    const int64_t ind = ((int64_t)bb * T + t) * H * N + hh * N + i;
    __syncthreads();
    r[i] = ld(r_, ind);
    w[i] = __expf(-__expf(ld(w_, ind)));
    k[i] = ld(k_, ind);
    a[i] = ld(a_, ind);
    b[i] = ld(b_, ind);
    __syncthreads();
    float sa = 0.f;
#pragma unroll
    for (int j = 0; j < N; j++) sa += S[j] * a[j];
    sa_[ind] = sa;
    const float v = ld(v_, ind);
    float y = 0.f;
#pragma unroll
    for (int j = 0; j < N; j++) {
      S[j] = S[j] * w[j] + sa * b[j] + v * k[j];
      y += S[j] * r[j];
    }
    st(y_, ind, y);
    if ((t + 1) % CK == 0) {
      // Checkpoint stored column-major (element [i][j] at j*N + i) so this write is coalesced.
      float* dst = ckpt_ + (((int64_t)bb * H + hh) * chunks + t / CK) * N * N;
#pragma unroll
      for (int j = 0; j < N; j++) dst[j * N + i] = S[j];
    }
  }
}

__global__ void __launch_bounds__(N) wkv7_backward_kernel(int T, int H, const bf16_t* __restrict__ r_,
    const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_, const bf16_t* __restrict__ v_,
    const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_, const bf16_t* __restrict__ dy_,
    const float* __restrict__ ckpt_, const float* __restrict__ sa_, bf16_t* __restrict__ dr_,
    bf16_t* __restrict__ dw_, bf16_t* __restrict__ dk_, bf16_t* __restrict__ dv_,
    bf16_t* __restrict__ da_, bf16_t* __restrict__ db_) {
  const int bb = blockIdx.y, hh = blockIdx.x, j = threadIdx.x;
  // Sc[i] = S[i][j] (column j of the state); dR[x] = dS[j][x] (row j); dC[i] = dS[i][j] (col j).
  float Sc[N], dR[N], dC[N];
#pragma unroll
  for (int x = 0; x < N; x++) { Sc[x] = 0.f; dR[x] = 0.f; dC[x] = 0.f; }
  __shared__ float r[N], w[N], k[N], v[N], a[N], b[N], dy[N], sa[N], dsa[N];
  const int64_t chunks = T / CK;
  for (int t = T - 1; t >= 0; t--) {
    const int64_t ind = ((int64_t)bb * T + t) * H * N + hh * N + j;
    __syncthreads();
    const float rj = ld(r_, ind), wraw = ld(w_, ind), kj = ld(k_, ind), vj = ld(v_, ind);
    const float aj = ld(a_, ind), bj = ld(b_, ind), dyj = ld(dy_, ind), saj = sa_[ind];
    const float wj = __expf(-__expf(wraw));
    r[j] = rj; w[j] = wj; k[j] = kj; v[j] = vj; a[j] = aj; b[j] = bj; dy[j] = dyj; sa[j] = saj;
    __syncthreads();
    if ((t + 1) % CK == 0) {
      const float* src = ckpt_ + (((int64_t)bb * H + hh) * chunks + t / CK) * N * N + j * N;
#pragma unroll
      for (int i = 0; i < N; i++) Sc[i] = src[i];
    }
    // dr_j = sum_i S_t[i][j] dy_i
    float dr = 0.f;
#pragma unroll
    for (int i = 0; i < N; i++) dr += Sc[i] * dy[i];
    st(dr_, ind, dr);
    // Undo step t on column j: S_{t-1}[i][j] = (S_t[i][j] - sa_i b_j - v_i k_j) / w_j.
    const float inv_w = 1.f / wj;
#pragma unroll
    for (int i = 0; i < N; i++) Sc[i] = (Sc[i] - sa[i] * bj - v[i] * kj) * inv_w;
    // dS_t += dy r^T.
#pragma unroll
    for (int x = 0; x < N; x++) { dR[x] += dyj * r[x]; dC[x] += dy[x] * rj; }
    // Row j of dS_t: dv_j, dsa_j.
    float dv = 0.f, ds = 0.f;
#pragma unroll
    for (int x = 0; x < N; x++) { dv += dR[x] * k[x]; ds += dR[x] * b[x]; }
    st(dv_, ind, dv);
    dsa[j] = ds;
    // Column j of dS_t: dk_j, db_j, dw_j.
    float dk = 0.f, db = 0.f, dw = 0.f;
#pragma unroll
    for (int i = 0; i < N; i++) { dk += dC[i] * v[i]; db += dC[i] * sa[i]; dw += dC[i] * Sc[i]; }
    st(dk_, ind, dk);
    st(db_, ind, db);
    // d w_raw = dw * dw/dw_raw, with w = exp(-exp(w_raw)): dw/dw_raw = -w exp(w_raw).
    st(dw_, ind, dw * wj * -__expf(wraw));
    __syncthreads();
    float da = 0.f;
#pragma unroll
    for (int i = 0; i < N; i++) da += dsa[i] * Sc[i];
    st(da_, ind, da);
    // dS_{t-1} = dS_t diag(w) + dsa a^T.
#pragma unroll
    for (int x = 0; x < N; x++) {
      dR[x] = dR[x] * w[x] + ds * a[x];
      dC[x] = dC[x] * wj + dsa[x] * aj;
    }
  }
}

void check_shape(int T) {
  if (T % CK != 0)
    throw EngineError("E_CUDA_SHAPE", "WKV7 kernels need ctx_len to be a multiple of " +
                                          std::to_string(CK) + " (got " + std::to_string(T) + ")",
                      "Pick a ctx_len that is a multiple of 16.");
}
}  // namespace

size_t wkv7_state_floats(int B, int T, int H) { return (size_t)B * H * (T / CK) * N * N; }
size_t wkv7_sa_floats(int B, int T, int H) { return (size_t)B * T * H * N; }

void wkv7_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                  const bf16_t* v, const bf16_t* a, const bf16_t* b, bf16_t* y, float* ckpt,
                  float* sa, cudaStream_t stream) {
  check_shape(T);
  wkv7_forward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, a, b, y, ckpt, sa);
  check_cuda(cudaGetLastError(), "wkv7_forward");
}

void wkv7_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                   const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                   const float* ckpt, const float* sa, bf16_t* dr, bf16_t* dw, bf16_t* dk,
                   bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream) {
  check_shape(T);
  wkv7_backward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw,
                                                      dk, dv, da, db);
  check_cuda(cudaGetLastError(), "wkv7_backward");
}

}  // namespace rwkv::cuda
