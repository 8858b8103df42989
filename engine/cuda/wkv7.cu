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
    float* __restrict__ ckpt_, float* __restrict__ sa_, const float* __restrict__ s0_,
    int64_t s0_batch_stride) {
  const int bb = blockIdx.y, hh = blockIdx.x, i = threadIdx.x;
  float S[N];
  // Row i of the initial state: zeros, the trained state (state tuning, one for the batch) or
  // the state carried from the previous chunk (infctx, one per sequence).
  const float* init = s0_ ? s0_ + bb * s0_batch_stride + ((int64_t)hh * N + i) * N : nullptr;
#pragma unroll
  for (int j = 0; j < N; j++) S[j] = init ? init[j] : 0.f;
  __shared__ float r[N], w[N], k[N], a[N], b[N];
  const int64_t chunks = T / CK;
  const int64_t step = (int64_t)H * N;  // distance between consecutive time steps
  int64_t ind = (int64_t)bb * T * step + hh * N + i;
  // Software pipelining: step t+1's inputs are loaded into registers while step t computes, so
  // the global-memory latency is hidden behind the 64x64 state update.
  float nr = ld(r_, ind), nw = ld(w_, ind), nk = ld(k_, ind), na = ld(a_, ind), nb = ld(b_, ind),
        nv = ld(v_, ind);
  for (int t = 0; t < T; t++, ind += step) {
    __syncthreads();
    r[i] = nr;
    w[i] = __expf(-__expf(nw));
    k[i] = nk;
    a[i] = na;
    b[i] = nb;
    const float v = nv;
    __syncthreads();
    if (t + 1 < T) {
      nr = ld(r_, ind + step); nw = ld(w_, ind + step); nk = ld(k_, ind + step);
      na = ld(a_, ind + step); nb = ld(b_, ind + step); nv = ld(v_, ind + step);
    }
    float sa = 0.f;
#pragma unroll
    for (int j = 0; j < N; j++) sa += S[j] * a[j];
    sa_[ind] = sa;
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

// Synchronous 16-byte global -> shared copy (the pre-Ampere stand-in for cp.async).
__device__ __forceinline__ __attribute__((unused)) void stage_copy(unsigned shared_addr, const char* src) {
  const int4 v = *reinterpret_cast<const int4*>(src);
  asm volatile("st.shared.v4.s32 [%0], {%1, %2, %3, %4};\n" ::"r"(shared_addr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
}

__global__ void __launch_bounds__(N) wkv7_backward_kernel(int T, int H, const bf16_t* __restrict__ r_,
    const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_, const bf16_t* __restrict__ v_,
    const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_, const bf16_t* __restrict__ dy_,
    const float* __restrict__ ckpt_, const float* __restrict__ sa_, bf16_t* __restrict__ dr_,
    bf16_t* __restrict__ dw_, bf16_t* __restrict__ dk_, bf16_t* __restrict__ dv_,
    bf16_t* __restrict__ da_, bf16_t* __restrict__ db_, float* __restrict__ ds0_) {
  const int bb = blockIdx.y, hh = blockIdx.x, j = threadIdx.x;
  // Sc[i] = S[i][j] (column j of the state); dR[x] = dS[j][x] (row j); dC[i] = dS[i][j] (col j).
  float Sc[N], dR[N], dC[N];
#pragma unroll
  for (int x = 0; x < N; x++) { Sc[x] = 0.f; dR[x] = 0.f; dC[x] = 0.f; }
  __shared__ float r[N], w[N], k[N], v[N], a[N], b[N], dy[N], sa[N], dsa[N];
  const int64_t chunks = T / CK;
  // The next step's raw inputs are copied global -> shared with cp.async while this step
  // computes (no registers held: the 192-float working set leaves none spare).
  __shared__ alignas(16) bf16_t stage[7][N];
  __shared__ alignas(16) float stage_sa[N];
  // 72 chunks of 16 bytes per step (7 bf16 tensors x 8, then sa x 16): thread j copies chunk j
  // and, for j < 8, chunk 64 + j (an sa chunk). The chunk a thread copies is the same at every
  // step, so its source address is set up once and only moves by one step's stride.
  auto chunk = [&](int c, const char*& src, unsigned& dst, int64_t& stride) {
    const int64_t head = ((int64_t)bb * T * H + hh) * N;  // element offset of (bb, t=0, hh, 0)
    if (c < 56) {
      const int tensor = c >> 3, part = c & 7;
      const bf16_t* base = tensor == 0 ? r_ : tensor == 1 ? w_ : tensor == 2 ? k_ : tensor == 3 ? v_
                         : tensor == 4 ? a_ : tensor == 5 ? b_ : dy_;
      src = reinterpret_cast<const char*>(base + head + part * 8);
      dst = static_cast<unsigned>(__cvta_generic_to_shared(&stage[tensor][part * 8]));
      stride = (int64_t)H * N * 2;
    } else {
      const int part = c - 56;
      src = reinterpret_cast<const char*>(sa_ + head + part * 4);
      dst = static_cast<unsigned>(__cvta_generic_to_shared(&stage_sa[part * 4]));
      stride = (int64_t)H * N * 4;
    }
  };
  const char *src0, *src1 = nullptr;
  unsigned dst0, dst1 = 0;
  int64_t stride0, stride1 = 0;
  chunk(j, src0, dst0, stride0);
  if (j < 8) chunk(64 + j, src1, dst1, stride1);
  auto issue_copy = [&](int t) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst0), "l"(src0 + t * stride0));
    if (src1) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst1), "l"(src1 + t * stride1));
    asm volatile("cp.async.commit_group;\n" ::);
#else  // no cp.async before Ampere (the backend refuses such GPUs; this keeps other builds valid)
    stage_copy(dst0, src0 + t * stride0);
    if (src1) stage_copy(dst1, src1 + t * stride1);
#endif
  };
  issue_copy(T - 1);
  for (int t = T - 1; t >= 0; t--) {
    const int64_t ind = ((int64_t)bb * T + t) * H * N + hh * N + j;
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::);
#endif
    __syncthreads();
    // Thread j converts entry j of each input into the fp32 arrays the loops below read; it
    // re-reads its own entries there later rather than keeping them in registers.
    r[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[0])[j]);
    w[j] = __expf(-__expf(__bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[1])[j])));
    k[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[2])[j]);
    v[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[3])[j]);
    a[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[4])[j]);
    b[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[5])[j]);
    dy[j] = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(stage[6])[j]);
    sa[j] = stage_sa[j];
    __syncthreads();
    if (t > 0) issue_copy(t - 1);  // the stage buffer is free again after the barrier above
    if ((t + 1) % CK == 0) {
      const float* src = ckpt_ + (((int64_t)bb * H + hh) * chunks + t / CK) * N * N + j * N;
#pragma unroll
      for (int i = 0; i < N; i++) Sc[i] = src[i];
    }
    // One pass over i: dr_j = sum_i S_t[i][j] dy_i (before the undo), then undo step t on
    // column j, S_{t-1}[i][j] = (S_t[i][j] - sa_i b_j - v_i k_j) / w_j, and dS_t += dy r^T.
    // Fused loops keep fewer values live (the unfused form spilled registers).
    const float inv_w = 1.f / w[j], bj = b[j], kj = k[j], dyj = dy[j], rj = r[j];
    float dr = 0.f;
#pragma unroll
    for (int i = 0; i < N; i++) {
      dr += Sc[i] * dy[i];
      Sc[i] = (Sc[i] - sa[i] * bj - v[i] * kj) * inv_w;
      dR[i] += dyj * r[i];
      dC[i] += dy[i] * rj;
    }
    st(dr_, ind, dr);
    // Row j of dS_t gives dv_j and dsa_j; column j gives dk_j, db_j and dw_j.
    float dv = 0.f, ds = 0.f, dk = 0.f, db = 0.f, dw = 0.f;
#pragma unroll
    for (int x = 0; x < N; x++) {
      dv += dR[x] * k[x];
      ds += dR[x] * b[x];
      dk += dC[x] * v[x];
      db += dC[x] * sa[x];
      dw += dC[x] * Sc[x];
    }
    st(dv_, ind, dv);
    st(dk_, ind, dk);
    st(db_, ind, db);
    // d w_raw = dw * dw/dw_raw, with w = exp(-exp(w_raw)): dw/dw_raw = -w exp(w_raw) = w ln w.
    st(dw_, ind, dw * w[j] * __logf(w[j]));  // -exp(w_raw) = ln w
    dsa[j] = ds;
    __syncthreads();
    // da_j = sum_i dsa_i S_{t-1}[i][j]; then dS_{t-1} = dS_t diag(w) + dsa a^T.
    float da = 0.f;
    const float wj = w[j], aj = a[j];
#pragma unroll
    for (int x = 0; x < N; x++) {
      da += dsa[x] * Sc[x];
      dR[x] = dR[x] * w[x] + ds * a[x];
      dC[x] = dC[x] * wj + dsa[x] * aj;
    }
    st(da_, ind, da);
  }
  // What is left is the gradient of the state before step 0: row j of it is dR. State tuning
  // trains one state for the whole batch, so the sequences' gradients are summed.
  if (ds0_) {
    float* dst = ds0_ + ((int64_t)hh * N + j) * N;
#pragma unroll
    for (int x = 0; x < N; x++) atomicAdd(dst + x, dR[x]);
  }
}

// The state after the last step, [B, H, N, N] row-major, from the last checkpoint (stored
// column-major): the state infctx carries into the next chunk.
__global__ void wkv7_final_state_kernel(int chunks, const float* __restrict__ ckpt_, float* __restrict__ out) {
  const int64_t bh = blockIdx.x;  // b * H + h
  const float* src = ckpt_ + (bh * chunks + chunks - 1) * N * N;
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int row = e / N, col = e % N;
    out[bh * N * N + e] = src[col * N + row];
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
                  float* sa, cudaStream_t stream, const float* s0, int64_t s0_batch_stride) {
  check_shape(T);
  wkv7_forward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, a, b, y, ckpt, sa, s0, s0_batch_stride);
  check_cuda(cudaGetLastError(), "wkv7_forward");
}

void wkv7_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                   const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                   const float* ckpt, const float* sa, bf16_t* dr, bf16_t* dw, bf16_t* dk,
                   bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream, float* ds0) {
  check_shape(T);
  wkv7_backward_kernel<<<dim3(H, B), N, 0, stream>>>(T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw,
                                                      dk, dv, da, db, ds0);
  check_cuda(cudaGetLastError(), "wkv7_backward");
}

void wkv7_final_state(int B, int T, int H, const float* ckpt, float* state, cudaStream_t stream) {
  check_shape(T);
  wkv7_final_state_kernel<<<B * H, 256, 0, stream>>>(T / CK, ckpt, state);
  check_cuda(cudaGetLastError(), "wkv7_final_state");
}

}  // namespace rwkv::cuda
