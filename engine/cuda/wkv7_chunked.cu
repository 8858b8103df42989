// WKV7 forward and backward, chunked: every chunk of kWkvCheckpoint (16) steps is a handful of
// small matrix products on the tensor cores, and only the state passes from one chunk to the
// next. The algorithm, its derivation and its fp32 CPU twin are in cpu/wkv7_chunked.{h,cpp};
// the names here follow it (a_dec = a_t exp(g_{t-1}), b_inv = b_s exp(-g_s), ...), and each step
// below is one step there.
//
// Operands are tf32 (wmma m16n16k8, fp32 accumulation), not bf16: the CPU emulation shows bf16
// rounding of the decayed factors costs dw 8e-3 of its max against the device check's 1e-2,
// tf32 1e-3. The products are 16 x 64 x 64 at most, so the kernels are bound by the latency of
// each chunk's chain of steps, not by tensor-core throughput, and tf32's half rate costs little.
//
// Forward: one block per (head, batch, 16 of the state's 64 value rows). Rows of the state never
// mix (sa_i reads row i only), so the four blocks of a head need no communication; each
// recomputes the chunk's key-side matrices, which is cheap next to the chain the state forces.
// Backward: one block per (head, batch) with all 64 rows, since the key-side gradients sum over
// the value rows. Both walk the chunks in order with the next chunk's inputs copied global ->
// shared (cp.async) while this one computes.
#include <cuda_runtime.h>
#include <mma.h>

#include <string>
#include <type_traits>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"
#include "core/errors.h"

namespace rwkv::cuda {
namespace {
namespace wmma = nvcuda::wmma;

constexpr int N = kWkvHeadSize;    // 64
constexpr int L = kWkvCheckpoint;  // 16: a chunk is one checkpoint interval
// Row strides of fp32 tiles in shared memory: multiples of 4 floats keep every wmma pointer
// 32-byte aligned (16-row tile offsets included); the extra 4 spread a tile's rows over banks.
constexpr int LD = N + 4;   // [.][64] tiles
constexpr int LDS = L + 4;  // [.][16] tiles
constexpr int kValueRows = 16;  // value rows of the state per forward block
constexpr int kFwdThreads = 128, kBwdThreads = 256;

// The device helpers need sm_80 (tf32 wmma, cp.async). The backend refuses older GPUs; a build
// for one (another architecture list) compiles the kernels to nothing.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
// ---- tensor-core tiles ------------------------------------------------------------------------
using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

// A matrix operand in shared memory: element (row, col) at p[row * ld + col], or, Transposed,
// the transpose of the array: element (row, col) at p[col * ld + row].
template <bool kTransposed>
struct Operand {
  const float* p;
  int ld;
};
using Plain = Operand<false>;
using Transposed = Operand<true>;

// acc += A[m0:m0+16, 0:K] B[0:K, n0:n0+16], K a multiple of 8, every element rounded to tf32 as
// the tensor cores take it. Warp-wide: all 32 lanes call it with the same arguments.
template <bool TA, bool TB>
__device__ __forceinline__ void mma(Acc& acc, Operand<TA> A, Operand<TB> B, int m0, int n0, int K) {
  using LayoutA = std::conditional_t<TA, wmma::col_major, wmma::row_major>;
  using LayoutB = std::conditional_t<TB, wmma::col_major, wmma::row_major>;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, LayoutA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, LayoutB> fb;
#pragma unroll 2
  for (int k0 = 0; k0 < K; k0 += 8) {
    wmma::load_matrix_sync(fa, TA ? A.p + k0 * A.ld + m0 : A.p + m0 * A.ld + k0, A.ld);
    wmma::load_matrix_sync(fb, TB ? B.p + n0 * B.ld + k0 : B.p + k0 * B.ld + n0, B.ld);
#pragma unroll
    for (int e = 0; e < fa.num_elements; e++) fa.x[e] = wmma::__float_to_tf32(fa.x[e]);
#pragma unroll
    for (int e = 0; e < fb.num_elements; e++) fb.x[e] = wmma::__float_to_tf32(fb.x[e]);
    wmma::mma_sync(acc, fa, fb, acc);
  }
}
__device__ __forceinline__ void zero(Acc& acc) { wmma::fill_fragment(acc, 0.f); }
__device__ __forceinline__ void load(Acc& acc, const float* p, int ld) {
  wmma::load_matrix_sync(acc, p, ld, wmma::mem_row_major);
}
__device__ __forceinline__ void store(float* p, const Acc& acc, int ld) {
  wmma::store_matrix_sync(p, acc, ld, wmma::mem_row_major);
}

// Zeroes the entries a pair matrix (16 x 16, stride LDS) does not have: s >= t when its rows come
// from a (sa_t reads S_{t-1}), s > t when they come from r (y_t reads S_t). Warp-wide, after the
// warp stored the tile.
__device__ __forceinline__ void mask_pairs(float* M, bool strict, int lane) {
  __syncwarp();
  for (int e = lane; e < L * L; e += 32) {
    const int t = e / L, s = e % L;
    if (strict ? s >= t : s > t) M[t * LDS + s] = 0.f;
  }
  __syncwarp();
}

// Column `col` of T = (I - M)^-1, M strictly lower triangular, by forward substitution:
// T[t][col] = [t == col] + sum_{s<t} M[t][s] T[s][col]. One thread per column; M is read by
// every thread at the same address (a broadcast).
__device__ __forceinline__ void solve_unitriangular(const float (*M)[LDS], float (*Tm)[LDS], int col) {
  float x[L];
#pragma unroll
  for (int t = 0; t < L; t++) {
    float s = t == col ? 1.f : 0.f;
#pragma unroll
    for (int u = 0; u < t; u++) s += M[t][u] * x[u];
    x[t] = s;
    Tm[t][col] = s;
  }
}

// ---- global <-> shared ------------------------------------------------------------------------
__device__ __forceinline__ void cp_async16(void* shared_dst, const void* global_src) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(global_src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
// Eight consecutive fp32 values of a row to global memory (16-byte aligned), as bf16 or fp32.
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {  // lo at the lower address
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<unsigned*>(&h);
}
__device__ __forceinline__ void store8_bf16(bf16_t* dst, const float* src) {
  *reinterpret_cast<uint4*>(dst) = make_uint4(pack_bf16x2(src[0], src[1]), pack_bf16x2(src[2], src[3]),
                                              pack_bf16x2(src[4], src[5]), pack_bf16x2(src[6], src[7]));
}
__device__ __forceinline__ void store8_f32(float* dst, const float* src) {
  reinterpret_cast<float4*>(dst)[0] = make_float4(src[0], src[1], src[2], src[3]);
  reinterpret_cast<float4*>(dst)[1] = make_float4(src[4], src[5], src[6], src[7]);
}
#endif  // sm_80 helpers

// ---- forward --------------------------------------------------------------------------------
enum FwdStaged { kFR, kFW, kFK, kFA, kFB, kFwdStaged };  // key-side rows a forward block stages

struct ForwardSmem {
  alignas(32) bf16_t in[2][kFwdStaged][L][N];  // a chunk's r, w, k, a, b rows (double buffered)
  alignas(32) bf16_t in_v[2][L][kValueRows];   // and this block's columns of v
  alignas(32) float a_dec[L][LD];              // a_t exp(g_{t-1})
  alignas(32) float r_dec[L][LD];              // r_t exp(g_t)
  alignas(32) float b_inv[L][LD];              // b_s exp(-g_s)
  alignas(32) float k_inv[L][LD];              // k_s exp(-g_s)
  alignas(32) float b_end[L][LD];              // b_s exp(g_L - g_s)
  alignas(32) float k_end[L][LD];              // k_s exp(g_L - g_s)
  alignas(32) float v[L][LDS];                 // [t][value row]
  alignas(32) float M[4][L][LDS];              // pair matrices ab, ak, rb, rk
  alignas(32) float T[L][LDS];                 // (I - M_ab)^-1
  alignas(32) float TM[L][LDS];                // T M_ak
  alignas(32) float W[L][LD];                  // T a_dec
  alignas(32) float SA[L][LDS];                // this chunk's sa, [t][value row]
  alignas(32) float Y[L][LDS];
  alignas(32) float S[kValueRows][LD];         // this block's rows of the state, [i][j]
  alignas(32) float decay_all[N];              // exp(g_L): the chunk's whole decay
};

// Every GPU the backend takes (sm_80 and up) lets a block opt in to 99 KB (sm_86 / sm_89) or more.
static_assert(sizeof(ForwardSmem) <= 99 * 1024, "the forward must fit every supported GPU");

__global__ void __launch_bounds__(kFwdThreads) wkv7_chunked_forward_kernel(int T, int H,
    const bf16_t* __restrict__ r_, const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_,
    const bf16_t* __restrict__ v_, const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_,
    bf16_t* __restrict__ y_, float* __restrict__ ckpt_, float* __restrict__ sa_,
    const float* __restrict__ s0_, int64_t s0_batch_stride) {
#if __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) unsigned char smem_raw[];
  ForwardSmem& sm = *reinterpret_cast<ForwardSmem*>(smem_raw);
  const int hh = blockIdx.x, bb = blockIdx.y, i0 = blockIdx.z * kValueRows;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int chunks = T / L;
  const int64_t step = (int64_t)H * N;                            // between consecutive steps
  const int64_t head = (int64_t)bb * T * step + (int64_t)hh * N;  // element (bb, t = 0, hh, 0)

  auto stage = [&](int c) {
    const int buf = c & 1;
    constexpr int kRowCopies = kFwdStaged * L * 8;  // 16-byte copies: 8 per row of 64 bf16
    for (int q = tid; q < kRowCopies + L * 2; q += kFwdThreads) {
      if (q < kRowCopies) {
        const int tensor = q / (L * 8), t = q / 8 % L, part = q % 8;
        const bf16_t* src = tensor == kFR ? r_ : tensor == kFW ? w_ : tensor == kFK ? k_ : tensor == kFA ? a_ : b_;
        cp_async16(&sm.in[buf][tensor][t][part * 8], src + head + (c * L + t) * step + part * 8);
      } else {
        const int t = (q - kRowCopies) / 2, part = (q - kRowCopies) % 2;
        cp_async16(&sm.in_v[buf][t][part * 8], v_ + head + (c * L + t) * step + i0 + part * 8);
      }
    }
    cp_async_commit();
  };

  // This block's rows of the initial state: zeros, the trained state or the carried one.
  for (int e = tid; e < kValueRows * N; e += kFwdThreads) {
    const int i = e / N, j = e % N;
    sm.S[i][j] = s0_ ? s0_[bb * s0_batch_stride + ((int64_t)hh * N + i0 + i) * N + j] : 0.f;
  }
  stage(0);
  Acc y_acc;  // warp 1's: the chunk's y, from before sa is known until it is
  for (int c = 0; c < chunks; c++) {
    const int buf = c & 1;
    cp_async_wait_all();
    __syncthreads();
    if (c + 1 < chunks) stage(c + 1);  // into the buffer chunk c-1 read before the barrier

    // 1. The decay since the chunk start, g_t (a thread per key channel), and the factors.
    if (tid < N) {
      const int j = tid;
      float g[L], acc = 0.f;
#pragma unroll
      for (int t = 0; t < L; t++) {
        acc -= __expf(ld(sm.in[buf][kFW][t], j));  // log w = -exp(w_raw)
        g[t] = acc;
      }
      sm.decay_all[j] = __expf(g[L - 1]);
      float decay_before = 1.f;  // exp(g_{t-1})
#pragma unroll
      for (int t = 0; t < L; t++) {
        const float decay = __expf(g[t]), inv = __expf(-g[t]), to_end = __expf(g[L - 1] - g[t]);
        const float bt = ld(sm.in[buf][kFB][t], j), kt = ld(sm.in[buf][kFK][t], j);
        sm.a_dec[t][j] = ld(sm.in[buf][kFA][t], j) * decay_before;
        sm.r_dec[t][j] = ld(sm.in[buf][kFR][t], j) * decay;
        sm.b_inv[t][j] = bt * inv;
        sm.k_inv[t][j] = kt * inv;
        sm.b_end[t][j] = bt * to_end;
        sm.k_end[t][j] = kt * to_end;
        decay_before = decay;
      }
    } else {
      for (int e = tid - N; e < L * kValueRows; e += kFwdThreads - N) {
        const int t = e / kValueRows, i = e % kValueRows;
        sm.v[t][i] = ld(sm.in_v[buf][t], i);
      }
    }
    __syncthreads();

    // 2. The pair matrices, one a warp: M_ab = a_dec b_inv^T, M_ak, M_rb = r_dec b_inv^T, M_rk.
    {
      Acc acc;
      zero(acc);
      const float* rows = warp < 2 ? &sm.a_dec[0][0] : &sm.r_dec[0][0];
      const float* cols = (warp & 1) ? &sm.k_inv[0][0] : &sm.b_inv[0][0];
      mma(acc, Plain{rows, LD}, Transposed{cols, LD}, 0, 0, N);
      store(&sm.M[warp][0][0], acc, LDS);
      mask_pairs(&sm.M[warp][0][0], warp < 2, lane);
    }
    __syncthreads();

    // 3. T = (I - M_ab)^-1 (warp 0); y's terms that do not need sa, R~ S_0^T + M_rk V (warp 1).
    if (warp == 0) {
      if (lane < L) solve_unitriangular(sm.M[0], sm.T, lane);
    } else if (warp == 1) {
      zero(y_acc);
      mma(y_acc, Plain{&sm.r_dec[0][0], LD}, Transposed{&sm.S[0][0], LD}, 0, 0, N);
      mma(y_acc, Plain{&sm.M[3][0][0], LDS}, Plain{&sm.v[0][0], LDS}, 0, 0, L);
    }
    __syncthreads();

    // 4. W = T a_dec (a column tile a warp) and T M_ak (warp 0): sa's parts that need no state.
    {
      Acc acc;
      zero(acc);
      mma(acc, Plain{&sm.T[0][0], LDS}, Plain{&sm.a_dec[0][0], LD}, 0, 16 * warp, L);
      store(&sm.W[0][16 * warp], acc, LD);
      if (warp == 0) {
        zero(acc);
        mma(acc, Plain{&sm.T[0][0], LDS}, Plain{&sm.M[1][0][0], LDS}, 0, 0, L);
        store(&sm.TM[0][0], acc, LDS);
      }
    }
    __syncthreads();

    // 5. sa = W S_0^T + (T M_ak) V (warp 0), saved for the backward.
    if (warp == 0) {
      Acc acc;
      zero(acc);
      mma(acc, Plain{&sm.W[0][0], LD}, Transposed{&sm.S[0][0], LD}, 0, 0, N);
      mma(acc, Plain{&sm.TM[0][0], LDS}, Plain{&sm.v[0][0], LDS}, 0, 0, L);
      store(&sm.SA[0][0], acc, LDS);
      __syncwarp();
      const int t = lane >> 1, part = lane & 1;  // a lane writes 8 values of row t
      store8_f32(sa_ + head + (c * L + t) * step + i0 + part * 8, &sm.SA[t][part * 8]);
    }
    __syncthreads();

    // 6. S_0 has had its last reader: decay it in place (every thread); y += M_rb sa (warp 1).
    for (int e = tid; e < kValueRows * N; e += kFwdThreads) {
      const int i = e / N, j = e % N;
      sm.S[i][j] *= sm.decay_all[j];
    }
    if (warp == 1) {
      mma(y_acc, Plain{&sm.M[2][0][0], LDS}, Plain{&sm.SA[0][0], LDS}, 0, 0, L);
      store(&sm.Y[0][0], y_acc, LDS);
      __syncwarp();
      const int t = lane >> 1, part = lane & 1;
      store8_bf16(y_ + head + (c * L + t) * step + i0 + part * 8, &sm.Y[t][part * 8]);
    }
    __syncthreads();

    // 7. S_L = S_0 diag(exp(g_L)) + V^T k_end + sa^T b_end (a column tile a warp), checkpointed
    // column-major over the whole head ([j][i]), as wkv7_forward stores it.
    {
      Acc acc;
      load(acc, &sm.S[0][16 * warp], LD);
      mma(acc, Transposed{&sm.v[0][0], LDS}, Plain{&sm.k_end[0][0], LD}, 0, 16 * warp, L);
      mma(acc, Transposed{&sm.SA[0][0], LDS}, Plain{&sm.b_end[0][0], LD}, 0, 16 * warp, L);
      store(&sm.S[0][16 * warp], acc, LD);
      __syncwarp();
      const int j = 16 * warp + (lane >> 1), part = lane & 1;  // 8 of this block's rows of column j
      float column[8];
#pragma unroll
      for (int e = 0; e < 8; e++) column[e] = sm.S[part * 8 + e][j];
      float* dst = ckpt_ + (((int64_t)bb * H + hh) * chunks + c) * N * N;
      store8_f32(dst + (int64_t)j * N + i0 + part * 8, column);
    }
    // The barrier at the top of the next chunk orders these writes of S before its readers.
  }
#endif
}

// ---- backward -------------------------------------------------------------------------------
enum BwdStaged { kBR, kBW, kBK, kBV, kBA, kBB, kBDY, kBwdStaged };

struct BackwardSmem {
  alignas(32) bf16_t in[2][kBwdStaged][L][N];  // a chunk's r, w, k, v, a, b, dy rows (double buffered)
  alignas(32) float sa[2][L][LD];              // and its sa rows, [t][i]
  alignas(32) float S0[N][LD];                 // the chunk's starting state, [j][i] as checkpointed
  alignas(32) float dS[N][LD];                 // d(state after the chunk), [i][j]; then d(state before it)
  alignas(32) float a_dec[L][LD], r_dec[L][LD], b_inv[L][LD], k_inv[L][LD], b_end[L][LD], k_end[L][LD];
  alignas(32) float v[L][LD], dy[L][LD];
  alignas(32) float M[4][L][LDS];              // pair matrices ab, ak, rb, rk
  alignas(32) float dM[4][L][LDS];             // their gradients
  alignas(32) float T[L][LDS];
  alignas(32) float dSA[L][LD];                // d sa as y and S_L read it, [t][i]
  alignas(32) float dX[L][LD];                 // T^T dSA: the sequential backward's dsa_t
  alignas(32) float dV[L][LD];
  alignas(32) float g_r[L][LD];                // d r_dec  (times exp(g_t): dr)
  alignas(32) float g_a[L][LD];                // d a_dec  (times exp(g_{t-1}): da)
  alignas(32) float g_binv[L][LD];             // d b_inv, S_L's term folded in (times exp(-g_t): db)
  alignas(32) float g_kinv[L][LD];             // d k_inv, likewise (dk)
  alignas(32) float decay_all[N];
  alignas(32) float boundary[N];               // sum_i dS[i][j] S_L[i][j]: d log w from after the chunk
};

// A100 (sm_80) lets a block opt in to 163 KB, H100 (sm_90) to 227 KB; sm_86 / sm_89 (99 KB) fall
// back to the sequential backward (wkv7_chunked_backward).
static_assert(sizeof(BackwardSmem) <= 163 * 1024, "the backward must fit A100's shared memory");

__global__ void __launch_bounds__(kBwdThreads) wkv7_chunked_backward_kernel(int T, int H,
    const bf16_t* __restrict__ r_, const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_,
    const bf16_t* __restrict__ v_, const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_,
    const bf16_t* __restrict__ dy_, const float* __restrict__ ckpt_, const float* __restrict__ sa_,
    const float* __restrict__ s0_, int64_t s0_batch_stride, bf16_t* __restrict__ dr_,
    bf16_t* __restrict__ dw_, bf16_t* __restrict__ dk_, bf16_t* __restrict__ dv_,
    bf16_t* __restrict__ da_, bf16_t* __restrict__ db_, float* __restrict__ ds0_) {
#if __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) unsigned char smem_raw[];
  BackwardSmem& sm = *reinterpret_cast<BackwardSmem*>(smem_raw);
  const int hh = blockIdx.x, bb = blockIdx.y;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int chunks = T / L;
  const int64_t step = (int64_t)H * N;
  const int64_t head = (int64_t)bb * T * step + (int64_t)hh * N;
  const float* ckpt_head = ckpt_ + ((int64_t)bb * H + hh) * chunks * N * N;  // checkpoint c: + c*N*N

  auto stage_inputs = [&](int c) {
    const int buf = c & 1;
    constexpr int kRowCopies = kBwdStaged * L * 8;
    for (int q = tid; q < kRowCopies + L * 16; q += kBwdThreads) {
      if (q < kRowCopies) {
        const int tensor = q / (L * 8), t = q / 8 % L, part = q % 8;
        const bf16_t* src = tensor == kBR ? r_ : tensor == kBW ? w_ : tensor == kBK ? k_ : tensor == kBV ? v_
                          : tensor == kBA ? a_ : tensor == kBB ? b_ : dy_;
        cp_async16(&sm.in[buf][tensor][t][part * 8], src + head + (c * L + t) * step + part * 8);
      } else {
        const int t = (q - kRowCopies) / 16, part = (q - kRowCopies) % 16;  // 16 copies of 4 floats a row
        cp_async16(&sm.sa[buf][t][part * 4], sa_ + head + (c * L + t) * step + part * 4);
      }
    }
  };
  // The state chunk c starts from: checkpoint c-1, or for chunk 0 s0 (zeros if none), which is
  // row-major and so is transposed on the way in (once).
  auto load_start_state = [&](int c) {
    if (c > 0) {
      const float* src = ckpt_head + (int64_t)(c - 1) * N * N;
      for (int q = tid; q < N * 16; q += kBwdThreads) {
        const int j = q / 16, part = q % 16;
        cp_async16(&sm.S0[j][part * 4], src + j * N + part * 4);
      }
    } else {
      for (int e = tid; e < N * N; e += kBwdThreads) {
        const int i = e / N, j = e % N;
        sm.S0[j][i] = s0_ ? s0_[bb * s0_batch_stride + ((int64_t)hh * N + i) * N + j] : 0.f;
      }
    }
  };

  for (int e = tid; e < N * N; e += kBwdThreads) sm.dS[e / N][e % N] = 0.f;  // nothing after the last step
  if (tid < N) sm.boundary[tid] = 0.f;
  stage_inputs(chunks - 1);
  load_start_state(chunks - 1);
  cp_async_commit();
  for (int c = chunks - 1; c >= 0; c--) {
    const int buf = c & 1;
    cp_async_wait_all();
    __syncthreads();
    if (c > 0) {
      stage_inputs(c - 1);  // into the buffer chunk c+1 read before the barrier
      cp_async_commit();
    }

    // 1. Factors (warps 0-1, a thread per key channel); v and dy to fp32 (warps 2-7); and the
    // boundary term of d log w, sum_i dS[i][j] S_L[i][j] with S_L checkpoint c (warps 4-7;
    // the last chunk has none: dS is zero).
    if (tid < N) {
      const int j = tid;
      float g[L], acc = 0.f;
#pragma unroll
      for (int t = 0; t < L; t++) {
        acc -= __expf(ld(sm.in[buf][kBW][t], j));
        g[t] = acc;
      }
      sm.decay_all[j] = __expf(g[L - 1]);
      float decay_before = 1.f;
#pragma unroll
      for (int t = 0; t < L; t++) {
        const float decay = __expf(g[t]), inv = __expf(-g[t]), to_end = __expf(g[L - 1] - g[t]);
        const float bt = ld(sm.in[buf][kBB][t], j), kt = ld(sm.in[buf][kBK][t], j);
        sm.a_dec[t][j] = ld(sm.in[buf][kBA][t], j) * decay_before;
        sm.r_dec[t][j] = ld(sm.in[buf][kBR][t], j) * decay;
        sm.b_inv[t][j] = bt * inv;
        sm.k_inv[t][j] = kt * inv;
        sm.b_end[t][j] = bt * to_end;
        sm.k_end[t][j] = kt * to_end;
        decay_before = decay;
      }
    } else if (warp < 4) {
      for (int e = tid - N; e < L * N; e += 2 * 32) sm.v[e / N][e % N] = ld(sm.in[buf][kBV][e / N], e % N);
    } else {
      for (int e = tid - 4 * 32; e < L * N; e += 4 * 32) sm.dy[e / N][e % N] = ld(sm.in[buf][kBDY][e / N], e % N);
      if (c + 1 < chunks) {
        const float* S_end = ckpt_head + (int64_t)c * N * N;  // [j][i]
        const int j0 = 16 * (warp - 4);
        float lo[16], hi[16];
#pragma unroll
        for (int jj = 0; jj < 16; jj++) {
          lo[jj] = S_end[(j0 + jj) * N + lane];
          hi[jj] = S_end[(j0 + jj) * N + lane + 32];
        }
#pragma unroll
        for (int jj = 0; jj < 16; jj++) {
          const int j = j0 + jj;
          const float sum = warp_sum(sm.dS[lane][j] * lo[jj] + sm.dS[lane + 32][j] * hi[jj]);
          if (lane == 0) sm.boundary[j] = sum;
        }
      }
    }
    __syncthreads();

    // 2. Pair matrices (warps 0-3, as the forward); from the inputs, S_0 and sa (warps 4-7):
    // d r_dec = dY S_0, dM_rb = dY sa^T, dM_rk = dY V^T (masked like M_rb, M_rk).
    if (warp < 4) {
      Acc acc;
      zero(acc);
      const float* rows = warp < 2 ? &sm.a_dec[0][0] : &sm.r_dec[0][0];
      const float* cols = (warp & 1) ? &sm.k_inv[0][0] : &sm.b_inv[0][0];
      mma(acc, Plain{rows, LD}, Transposed{cols, LD}, 0, 0, N);
      store(&sm.M[warp][0][0], acc, LDS);
      mask_pairs(&sm.M[warp][0][0], warp < 2, lane);
    } else {
      for (int job = warp - 4; job < 6; job += 4) {
        Acc acc;
        zero(acc);
        if (job < 4) {
          mma(acc, Plain{&sm.dy[0][0], LD}, Transposed{&sm.S0[0][0], LD}, 0, 16 * job, N);
          store(&sm.g_r[0][16 * job], acc, LD);
        } else {
          const float* rhs = job == 4 ? &sm.sa[buf][0][0] : &sm.v[0][0];
          float* dM = &sm.dM[job == 4 ? 2 : 3][0][0];
          mma(acc, Plain{&sm.dy[0][0], LD}, Transposed{rhs, LD}, 0, 0, N);
          store(dM, acc, LDS);
          mask_pairs(dM, false, lane);
        }
      }
    }
    __syncthreads();

    // 3. T (warp 0); warps 1-7: dSA = M_rb^T dY + b_end dS^T, dV = M_rk^T dY + k_end dS^T (its
    // M_ak term waits for dX), d r_dec += dM_rb b_inv + dM_rk k_inv, d b_inv = dM_rb^T r_dec,
    // d k_inv = dM_rk^T r_dec: a 16-column tile each.
    if (warp == 0) {
      if (lane < L) solve_unitriangular(sm.M[0], sm.T, lane);
    } else {
      for (int job = warp - 1; job < 20; job += 7) {
        const int n0 = 16 * (job % 4);
        Acc acc;
        switch (job / 4) {
          case 0:
          case 1: {
            const bool dsa = job < 4;
            zero(acc);
            mma(acc, Transposed{&sm.M[dsa ? 2 : 3][0][0], LDS}, Plain{&sm.dy[0][0], LD}, 0, n0, L);
            mma(acc, Plain{dsa ? &sm.b_end[0][0] : &sm.k_end[0][0], LD}, Transposed{&sm.dS[0][0], LD}, 0, n0, N);
            store(dsa ? &sm.dSA[0][n0] : &sm.dV[0][n0], acc, LD);
            break;
          }
          case 2:
            load(acc, &sm.g_r[0][n0], LD);
            mma(acc, Plain{&sm.dM[2][0][0], LDS}, Plain{&sm.b_inv[0][0], LD}, 0, n0, L);
            mma(acc, Plain{&sm.dM[3][0][0], LDS}, Plain{&sm.k_inv[0][0], LD}, 0, n0, L);
            store(&sm.g_r[0][n0], acc, LD);
            break;
          default: {
            const bool binv = job / 4 == 3;
            zero(acc);
            mma(acc, Transposed{&sm.dM[binv ? 2 : 3][0][0], LDS}, Plain{&sm.r_dec[0][0], LD}, 0, n0, L);
            store(binv ? &sm.g_binv[0][n0] : &sm.g_kinv[0][n0], acc, LD);
          }
        }
      }
    }
    __syncthreads();

    // 4. dX = T^T dSA (warps 0-3); dS's columns decayed by exp(g_L), in place (warps 4-7).
    if (warp < 4) {
      Acc acc;
      zero(acc);
      mma(acc, Transposed{&sm.T[0][0], LDS}, Plain{&sm.dSA[0][0], LD}, 0, 16 * warp, L);
      store(&sm.dX[0][16 * warp], acc, LD);
    } else {
      for (int e = tid - 4 * 32; e < N * N; e += 4 * 32) sm.dS[e / N][e % N] *= sm.decay_all[e % N];
    }
    __syncthreads();

    // 5a. What needs dX or the decayed dS: dM_ab = dX sa^T, dM_ak = dX V^T (strictly masked),
    // d a_dec = dX S_0, dV += M_ak^T dX (then written out), d b_inv += sa dS_decayed,
    // d k_inv += V dS_decayed.
    for (int job = warp; job < 18; job += kBwdThreads / 32) {
      Acc acc;
      if (job < 2) {
        zero(acc);
        mma(acc, Plain{&sm.dX[0][0], LD}, Transposed{job == 0 ? &sm.sa[buf][0][0] : &sm.v[0][0], LD}, 0, 0, N);
        store(&sm.dM[job][0][0], acc, LDS);
        mask_pairs(&sm.dM[job][0][0], true, lane);
        continue;
      }
      const int n0 = 16 * ((job - 2) % 4);
      switch ((job - 2) / 4) {
        case 0:
          zero(acc);
          mma(acc, Plain{&sm.dX[0][0], LD}, Transposed{&sm.S0[0][0], LD}, 0, n0, N);
          store(&sm.g_a[0][n0], acc, LD);
          break;
        case 1: {
          load(acc, &sm.dV[0][n0], LD);
          mma(acc, Transposed{&sm.M[1][0][0], LDS}, Plain{&sm.dX[0][0], LD}, 0, n0, L);
          store(&sm.dV[0][n0], acc, LD);
          __syncwarp();
          const int t = lane >> 1, part = lane & 1;
          store8_bf16(dv_ + head + (c * L + t) * step + n0 + part * 8, &sm.dV[t][n0 + part * 8]);
          break;
        }
        default: {
          const bool binv = (job - 2) / 4 == 2;
          float* g = binv ? &sm.g_binv[0][n0] : &sm.g_kinv[0][n0];
          load(acc, g, LD);
          mma(acc, Plain{binv ? &sm.sa[buf][0][0] : &sm.v[0][0], LD}, Plain{&sm.dS[0][0], LD}, 0, n0, N);
          store(g, acc, LD);
        }
      }
    }
    __syncthreads();
    // S_0 has had its last reader: bring in the state the next chunk (c-1) starts from.
    if (c > 0) {
      load_start_state(c - 1);
      cp_async_commit();
    }

    // 5b. dS becomes d(state before the chunk): dS_decayed + dX^T a_dec + dY^T r_dec (16 tiles);
    // d a_dec += dM_ab b_inv + dM_ak k_inv; d b_inv += dM_ab^T a_dec; d k_inv += dM_ak^T a_dec.
    for (int job = warp; job < 28; job += kBwdThreads / 32) {
      Acc acc;
      if (job < 16) {
        const int m0 = 16 * (job / 4), n0 = 16 * (job % 4);
        load(acc, &sm.dS[m0][n0], LD);
        mma(acc, Transposed{&sm.dX[0][0], LD}, Plain{&sm.a_dec[0][0], LD}, m0, n0, L);
        mma(acc, Transposed{&sm.dy[0][0], LD}, Plain{&sm.r_dec[0][0], LD}, m0, n0, L);
        store(&sm.dS[m0][n0], acc, LD);
        continue;
      }
      const int n0 = 16 * ((job - 16) % 4);
      switch ((job - 16) / 4) {
        case 0:
          load(acc, &sm.g_a[0][n0], LD);
          mma(acc, Plain{&sm.dM[0][0][0], LDS}, Plain{&sm.b_inv[0][0], LD}, 0, n0, L);
          mma(acc, Plain{&sm.dM[1][0][0], LDS}, Plain{&sm.k_inv[0][0], LD}, 0, n0, L);
          store(&sm.g_a[0][n0], acc, LD);
          break;
        default: {
          const bool binv = (job - 16) / 4 == 1;
          float* g = binv ? &sm.g_binv[0][n0] : &sm.g_kinv[0][n0];
          load(acc, g, LD);
          mma(acc, Transposed{&sm.dM[binv ? 0 : 1][0][0], LDS}, Plain{&sm.a_dec[0][0], LD}, 0, n0, L);
          store(g, acc, LD);
        }
      }
    }
    __syncthreads();

    // 6. The inputs' gradients, a thread per key channel: undo the factors' decays, and d log w
    // by the reverse sum of cpu/wkv7_chunked.cpp's identity, from the boundary term down.
    if (tid < N) {
      const int j = tid;
      float lam[L], g[L], acc = 0.f;
#pragma unroll
      for (int t = 0; t < L; t++) {
        lam[t] = -__expf(ld(sm.in[buf][kBW][t], j));
        acc += lam[t];
        g[t] = acc;
      }
      float dlog = sm.boundary[j];
#pragma unroll
      for (int t = L - 1; t >= 0; t--) {
        const float decay = __expf(g[t]), inv = __expf(-g[t]), decay_before = t ? __expf(g[t - 1]) : 1.f;
        const float dr = sm.g_r[t][j] * decay, da = sm.g_a[t][j] * decay_before;
        const float db = sm.g_binv[t][j] * inv, dk = sm.g_kinv[t][j] * inv;
        dlog += ld(sm.in[buf][kBR][t], j) * dr - ld(sm.in[buf][kBB][t], j) * db - ld(sm.in[buf][kBK][t], j) * dk;
        const int64_t o = head + (c * L + t) * step + j;
        st(dr_, o, dr);
        st(da_, o, da);
        st(db_, o, db);
        st(dk_, o, dk);
        st(dw_, o, dlog * lam[t]);  // d w_raw = d log w * log w, as log w = -exp(w_raw)
        dlog += ld(sm.in[buf][kBA][t], j) * da;
      }
    }
  }
  // dS is now the gradient of the initial state. State tuning trains one state for the batch:
  // the sequences' gradients are summed. (5b's barrier ordered the last writes of dS.)
  if (ds0_) {
    float* dst = ds0_ + (int64_t)hh * N * N;
    for (int e = tid; e < N * N; e += kBwdThreads) atomicAdd(dst + e, sm.dS[e / N][e % N]);
  }
#endif
}

void check_shape(int T) {
  if (T % L != 0)
    throw EngineError("E_CUDA_SHAPE", "WKV7 kernels need ctx_len to be a multiple of " +
                                          std::to_string(L) + " (got " + std::to_string(T) + ")",
                      "Pick a ctx_len that is a multiple of 16.");
}

// Whether this GPU's blocks can have `bytes` of shared memory (opted in past the 48 KB default).
bool shared_memory_fits(size_t bytes) {
  int device = 0, optin = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  return bytes <= static_cast<size_t>(optin);
}
}  // namespace

void wkv7_chunked_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                          const bf16_t* v, const bf16_t* a, const bf16_t* b, bf16_t* y, float* ckpt,
                          float* sa, cudaStream_t stream, const float* s0, int64_t s0_batch_stride) {
  check_shape(T);
  constexpr size_t smem = sizeof(ForwardSmem);
  check_cuda(cudaFuncSetAttribute(wkv7_chunked_forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
             "cudaFuncSetAttribute(wkv7_chunked_forward)");
  wkv7_chunked_forward_kernel<<<dim3(H, B, N / kValueRows), kFwdThreads, smem, stream>>>(
      T, H, r, w, k, v, a, b, y, ckpt, sa, s0, s0_batch_stride);
  check_cuda(cudaGetLastError(), "wkv7_chunked_forward");
}

void wkv7_chunked_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                           const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                           const float* ckpt, const float* sa, bf16_t* dr, bf16_t* dw, bf16_t* dk,
                           bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream, const float* s0,
                           int64_t s0_batch_stride, float* ds0) {
  check_shape(T);
  constexpr size_t smem = sizeof(BackwardSmem);
  if (!shared_memory_fits(smem)) {  // sm_86 / sm_89: the sequential backward reads the same buffers
    wkv7_backward(B, T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw, dk, dv, da, db, stream, ds0);
    return;
  }
  check_cuda(cudaFuncSetAttribute(wkv7_chunked_backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
             "cudaFuncSetAttribute(wkv7_chunked_backward)");
  wkv7_chunked_backward_kernel<<<dim3(H, B), kBwdThreads, smem, stream>>>(
      T, H, r, w, k, v, a, b, dy, ckpt, sa, s0, s0_batch_stride, dr, dw, dk, dv, da, db, ds0);
  check_cuda(cudaGetLastError(), "wkv7_chunked_backward");
}

}  // namespace rwkv::cuda
