// WKV6 recurrence forward and backward (RWKV-6 / x060; the math is in kernels.h and is the CPU's
// ops::wkv6_fwd / wkv6_bwd). One block per (batch, head), 64 threads.
//
// Forward: thread i owns row i (value index) of the 64x64 fp32 state and nothing is saved but y.
// RWKV-6's decay exp(-exp(w)) reaches 0 within a step for large w, so the backward cannot undo
// steps the way the WKV7 backward does (wkv7.cu relies on RWKV-7's clamp keeping the decay above
// 0.54); it walks time twice instead:
//   pass A, forward in time, thread j owns column j (key index) of the state again:
//     dr_t[j]  = sum_i dy_t[i] S_{t-1}[i][j] + u_j k_t[j] (dy_t . v_t)
//     q_t[j]   = r_t[j] * sum_i dy_t[i] S_{t-1}[i][j]          (kept in the fp32 scratch)
//   pass B, backward in time, thread j owns column j AND row j of G_t = dL/dS_t, so that both
//   dk (a sum down a column) and dv (a sum along a row) are loops over its own registers
//   (dy_t . v_t and sum_x r_t[x] u_x k_t[x], the same for every thread, are summed once):
//     dk_t[j] = sum_i G_t[i][j] v_t[i] + r_t[j] u_j (dy_t . v_t)
//     dv_t[j] = sum_x G_t[j][x] k_t[x] + dy_t[j] (sum_x r_t[x] u_x k_t[x])
//     G_{t-1} = G_t diag(decay_t) + dy_t r_t^T
// and the decay's gradient without any state: with a_t = ln decay_t = -exp(w_t), every path from
// a_t to the loss is a pair (k at tau, r at s) with tau < t < s, which gives
//     dL/da_t[j] = sum_{s>t} q_s[j] - sum_{tau>=t} k_tau[j] * (sum_i G_tau[i][j] v_tau[i])
//     dw_t[j]    = -exp(w_t[j]) * dL/da_t[j]
// (the first sum counts the pairs tau < s for s > t, the second removes those with tau >= t; the
// initial state enters the first sum through S_{t-1}). du and ds0 are summed over the batch.
// tests/wkv6_two_pass_test.cpp runs this algorithm in fp32 on the CPU against cpu/x060_ops.h.
#include <cuda_runtime.h>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"
#include "core/errors.h"

namespace rwkv::cuda {
namespace {
constexpr int N = kWkvHeadSize;

__global__ void __launch_bounds__(N) wkv6_forward_kernel(int T, int H, const bf16_t* __restrict__ r_,
    const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_, const bf16_t* __restrict__ v_,
    const float* __restrict__ u_, bf16_t* __restrict__ y_, const float* __restrict__ s0_,
    int64_t s0_batch_stride, float* __restrict__ s_final_) {
  const int bb = blockIdx.y, hh = blockIdx.x, i = threadIdx.x;
  float S[N];  // S[j] = S[i][j]
  const float* init = s0_ ? s0_ + bb * s0_batch_stride + ((int64_t)hh * N + i) * N : nullptr;
#pragma unroll
  for (int j = 0; j < N; j++) S[j] = init ? init[j] : 0.f;
  __shared__ float r[N], k[N], uk[N], decay[N];
  const float ui = u_[hh * N + i];
  const int64_t step = (int64_t)H * N;
  int64_t ind = (int64_t)bb * T * step + hh * N + i;
  // Step t+1's inputs are loaded while step t computes (global latency behind the state update).
  float nr = ld(r_, ind), nw = ld(w_, ind), nk = ld(k_, ind), nv = ld(v_, ind);
  for (int t = 0; t < T; t++, ind += step) {
    __syncthreads();
    r[i] = nr;
    k[i] = nk;
    uk[i] = ui * nk;
    decay[i] = __expf(-__expf(nw));
    const float v = nv;
    __syncthreads();
    if (t + 1 < T) { nr = ld(r_, ind + step); nw = ld(w_, ind + step); nk = ld(k_, ind + step); nv = ld(v_, ind + step); }
    float y = 0.f;
#pragma unroll
    for (int j = 0; j < N; j++) {
      y += r[j] * (S[j] + uk[j] * v);  // S_{t-1} plus the bonus on the current token
      S[j] = S[j] * decay[j] + k[j] * v;
    }
    st(y_, ind, y);
  }
  if (s_final_) {  // infctx: the state the next chunk starts from, [B,H,N,N] row-major
    float* dst = s_final_ + (((int64_t)bb * H + hh) * N + i) * N;
#pragma unroll
    for (int j = 0; j < N; j++) dst[j] = S[j];
  }
}

__global__ void __launch_bounds__(N) wkv6_backward_kernel(int T, int H, const bf16_t* __restrict__ r_,
    const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_, const bf16_t* __restrict__ v_,
    const float* __restrict__ u_, const bf16_t* __restrict__ dy_, float* __restrict__ q_,
    bf16_t* __restrict__ dr_, bf16_t* __restrict__ dw_, bf16_t* __restrict__ dk_, bf16_t* __restrict__ dv_,
    float* __restrict__ du_, const float* __restrict__ s0_, int64_t s0_batch_stride, float* __restrict__ ds0_) {
  const int bb = blockIdx.y, hh = blockIdx.x, j = threadIdx.x;
  const int64_t step = (int64_t)H * N, head = (int64_t)bb * T * step + hh * N + j;
  __shared__ float r[N], k[N], v[N], dy[N], decay[N];
  const float uj = u_[hh * N + j];
  // ---- pass A: forward in time, column j of the state ----
  {
    float Sc[N];  // Sc[i] = S[i][j]
    const float* init = s0_ ? s0_ + bb * s0_batch_stride + (int64_t)hh * N * N + j : nullptr;
#pragma unroll
    for (int i = 0; i < N; i++) Sc[i] = init ? init[(int64_t)i * N] : 0.f;
    int64_t ind = head;
    // Step t+1's inputs are loaded while step t computes, as in the forward.
    float nv = ld(v_, ind), ndy = ld(dy_, ind), nr = ld(r_, ind), nk = ld(k_, ind), nw = ld(w_, ind);
    for (int t = 0; t < T; t++, ind += step) {
      __syncthreads();
      v[j] = nv;
      dy[j] = ndy;
      __syncthreads();
      const float rj = nr, kj = nk, dj = __expf(-__expf(nw));
      if (t + 1 < T) {
        nv = ld(v_, ind + step); ndy = ld(dy_, ind + step); nr = ld(r_, ind + step); nk = ld(k_, ind + step);
        nw = ld(w_, ind + step);
      }
      float dyv = 0.f, drs = 0.f;
#pragma unroll
      for (int i = 0; i < N; i++) {
        dyv += dy[i] * v[i];
        drs += dy[i] * Sc[i];
        Sc[i] = Sc[i] * dj + kj * v[i];
      }
      st(dr_, ind, drs + uj * kj * dyv);
      q_[ind] = rj * drs;
    }
  }
  // ---- pass B: backward in time, column j and row j of G ----
  float Gc[N], Gr[N];  // Gc[i] = G[i][j], Gr[x] = G[j][x]
#pragma unroll
  for (int x = 0; x < N; x++) { Gc[x] = 0.f; Gr[x] = 0.f; }
  // dL/da_t kept as ONE running sum, D_t = D_{t+1} + q_{t+1} - k_t (G_t^T v_t): its two halves
  // (sums over s > t and tau >= t) grow with T while their difference stays the size of a
  // gradient, and fp32 rounds a sum relative to its size (tests/wkv6_two_pass_test.cpp: 10x
  // less drift at T 4096 than subtracting the two sums, 1.5e-4 of max |dw| with strong decay).
  float dlda = 0.f, q_next = 0.f;
  float du = 0.f;
  // Step t-1's inputs are copied global -> shared with cp.async while step t computes: with the
  // 128 registers of G, prefetching into registers spilled (ptxas: 528 bytes); this way, and with
  // dy.v and r.u.k summed once over the block instead of by every thread, it takes 174 and
  // spills none. 56 chunks of 16 bytes a step (w, r, k, v, dy: 8 each; q: 16); thread c copies
  // chunk c, whose source only moves by a step's stride. q_ was written by the other threads in
  // pass A: the barrier below makes it visible.
  __shared__ alignas(16) bf16_t stage[5][N];
  __shared__ alignas(16) float stage_q[N];
  __shared__ float warp_part[2][2], pair_sum[2];
  const char* src = nullptr;
  unsigned dst = 0;
  int64_t stride = 0;
  {
    const int64_t row0 = ((int64_t)bb * T * H + hh) * N;  // element offset of (bb, t = 0, hh, 0)
    if (j < 40) {
      const int tensor = j >> 3, part = j & 7;
      const bf16_t* base = tensor == 0 ? w_ : tensor == 1 ? r_ : tensor == 2 ? k_ : tensor == 3 ? v_ : dy_;
      src = reinterpret_cast<const char*>(base + row0 + part * 8);
      dst = static_cast<unsigned>(__cvta_generic_to_shared(&stage[tensor][part * 8]));
      stride = step * 2;
    } else if (j < 56) {
      const int part = j - 40;
      src = reinterpret_cast<const char*>(q_ + row0 + part * 4);
      dst = static_cast<unsigned>(__cvta_generic_to_shared(&stage_q[part * 4]));
      stride = step * 4;
    }
  }
  auto issue_copy = [&](int t) {
    if (!src) return;
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src + t * stride));
    asm volatile("cp.async.commit_group;\n" ::);
#else  // no cp.async before Ampere (the backend refuses such GPUs; this keeps other builds valid)
    const int4 x = *reinterpret_cast<const int4*>(src + t * stride);
    asm volatile("st.shared.v4.s32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "r"(x.x), "r"(x.y), "r"(x.z), "r"(x.w));
#endif
  };
  __syncthreads();  // pass A's q_ writes, before any thread copies them
  issue_copy(T - 1);
  int64_t ind = head + (int64_t)(T - 1) * step;
  for (int t = T - 1; t >= 0; t--, ind -= step) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::);
#endif
    __syncthreads();
    auto staged = [&](int tensor) { return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[tensor])[j]); };
    const float wj = staged(0), qj = stage_q[j];
    r[j] = staged(1);
    k[j] = staged(2);
    v[j] = staged(3);
    dy[j] = staged(4);
    decay[j] = __expf(-__expf(wj));
    {  // dy . v and sum r u k: the same for every thread, summed once over the block's 2 warps
      float a = dy[j] * v[j], b = r[j] * uj * k[j];
      for (int o = 16; o > 0; o >>= 1) { a += __shfl_xor_sync(0xffffffffu, a, o); b += __shfl_xor_sync(0xffffffffu, b, o); }
      if ((j & 31) == 0) { warp_part[j >> 5][0] = a; warp_part[j >> 5][1] = b; }
    }
    __syncthreads();
    if (j < 2) pair_sum[j] = warp_part[0][j] + warp_part[1][j];
    __syncthreads();
    if (t > 0) issue_copy(t - 1);  // the stage is free again after the barrier above
    const float rj = r[j], kj = k[j], dyj = dy[j], dj = decay[j];
    float dks = 0.f, dvs = 0.f;
#pragma unroll
    for (int x = 0; x < N; x++) {
      dks += Gc[x] * v[x];
      dvs += Gr[x] * k[x];
    }
    const float dyv = pair_sum[0], bonus = pair_sum[1];
    st(dk_, ind, dks + rj * uj * dyv);
    st(dv_, ind, dvs + dyj * bonus);
    dlda += q_next - kj * dks;
    st(dw_, ind, -__expf(wj) * dlda);
    q_next = qj;
    du += rj * kj * dyv;
#pragma unroll
    for (int x = 0; x < N; x++) {
      Gc[x] = Gc[x] * dj + dy[x] * rj;
      Gr[x] = Gr[x] * decay[x] + dyj * r[x];
    }
  }
  if (du_) atomicAdd(du_ + hh * N + j, du);
  // What is left is dL/dS_{-1}, the initial state's gradient; state tuning trains one state for
  // the whole batch, so the sequences' gradients are summed (row i, column j: coalesced over j).
  if (ds0_) {
    float* dst = ds0_ + (int64_t)hh * N * N + j;
#pragma unroll
    for (int i = 0; i < N; i++) atomicAdd(dst + (int64_t)i * N, Gc[i]);
  }
}
}  // namespace

size_t wkv6_backward_scratch_floats(int B, int T, int H) { return (size_t)B * T * H * N; }

void wkv6_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k, const bf16_t* v,
                  const float* u, bf16_t* y, cudaStream_t stream, const float* s0, int64_t s0_batch_stride,
                  float* s_final) {
  if (T <= 0) return;
  wkv6_forward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, u, y, s0, s0_batch_stride, s_final);
  check_cuda(cudaGetLastError(), "wkv6_forward");
}

void wkv6_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k, const bf16_t* v,
                   const float* u, const bf16_t* dy, float* scratch, bf16_t* dr, bf16_t* dw, bf16_t* dk,
                   bf16_t* dv, float* du, cudaStream_t stream, const float* s0, int64_t s0_batch_stride,
                   float* ds0) {
  if (ds0 && s0_batch_stride)
    throw EngineError("E_INTERNAL", "wkv6_backward: a per-sequence initial state gets no gradient", "");
  if (T <= 0) return;
  wkv6_backward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, u, dy, scratch, dr, dw, dk, dv, du, s0,
                                                      s0_batch_stride, ds0);
  check_cuda(cudaGetLastError(), "wkv6_backward");
}

}  // namespace rwkv::cuda
