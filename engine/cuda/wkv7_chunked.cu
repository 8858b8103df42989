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
// Value split (V_SPLIT = 1, 2 or 4): rows of the state never mix (S_t = S_{t-1} (diag(w_t) +
// a_t b_t^T) + v_t k_t^T: row i reads row i and v_t[i] only, sa_i and y_i row i only), so a
// (head, batch) can be spread over V_SPLIT blocks of 64 / V_SPLIT value rows each, every one
// recomputing the chunk's key-side matrices. The forward's blocks need no communication. In the
// backward the key-side gradients sum over the rows, linearly given the key-side inputs, so each
// block forms its rows' part and the V_SPLIT blocks of a head, one thread-block cluster (sm_90),
// add them through distributed shared memory once a chunk. pick_split chooses V_SPLIT from B * H
// and what the SMs hold; V_SPLIT = 1 is one block per (head, batch) with all 64 rows (the
// backward as before the split; the forward used to be always 4). Both walk the chunks in order
// with the next chunk's inputs copied global -> shared (cp.async) while this one computes.
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <map>
#include <mutex>
#include <string>
#include <type_traits>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"
#include "core/errors.h"

namespace rwkv::cuda {
namespace {
namespace wmma = nvcuda::wmma;
namespace cg = cooperative_groups;

constexpr int N = kWkvHeadSize;    // 64
constexpr int L = kWkvCheckpoint;  // 16: a chunk is one checkpoint interval
// Row strides of fp32 tiles in shared memory: multiples of 4 floats keep every wmma pointer
// 32-byte aligned (16-row tile offsets included); the extra 4 spread a tile's rows over banks.
constexpr int LD = N + 4;   // [.][64] tiles
constexpr int LDS = L + 4;  // [.][16] tiles
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

// R: the value rows of the state a block owns, 64 / V_SPLIT. The key-side matrices (factors,
// pair matrices, T, W, T M_ak) are the same in every block of a head, and each computes them;
// only v, sa, y and the state's rows are the block's own.
template <int R>
struct ForwardSmem {
  static constexpr int LDR = R + 4;            // row stride of [.][R] tiles, as LDS for [.][16]
  alignas(32) bf16_t in[2][kFwdStaged][L][N];  // a chunk's r, w, k, a, b rows (double buffered)
  alignas(32) bf16_t in_v[2][L][R];            // and this block's columns of v
  alignas(32) float a_dec[L][LD];              // a_t exp(g_{t-1})
  alignas(32) float r_dec[L][LD];              // r_t exp(g_t)
  alignas(32) float b_inv[L][LD];              // b_s exp(-g_s)
  alignas(32) float k_inv[L][LD];              // k_s exp(-g_s)
  alignas(32) float b_end[L][LD];              // b_s exp(g_L - g_s)
  alignas(32) float k_end[L][LD];              // k_s exp(g_L - g_s)
  alignas(32) float v[L][LDR];                 // [t][value row]
  alignas(32) float M[4][L][LDS];              // pair matrices ab, ak, rb, rk
  alignas(32) float T[L][LDS];                 // (I - M_ab)^-1
  alignas(32) float TM[L][LDS];                // T M_ak
  alignas(32) float W[L][LD];                  // T a_dec
  alignas(32) float SA[L][LDR];                // this chunk's sa, [t][value row]
  alignas(32) float Y[L][LDR];                 // y's terms without sa (step 3), then y
  alignas(32) float S[R][LD];                  // this block's rows of the state, [i][j]
  alignas(32) float decay_all[N];              // exp(g_L): the chunk's whole decay
};

// Every GPU the backend takes (sm_80 and up) lets a block opt in to 99 KB (sm_86 / sm_89) or more.
static_assert(sizeof(ForwardSmem<64>) <= 99 * 1024 && sizeof(ForwardSmem<32>) <= 99 * 1024 &&
              sizeof(ForwardSmem<16>) <= 99 * 1024, "the forward must fit every supported GPU");

template <int R>
__global__ void __launch_bounds__(kFwdThreads) wkv7_chunked_forward_kernel(int T, int H,
    const bf16_t* __restrict__ r_, const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_,
    const bf16_t* __restrict__ v_, const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_,
    bf16_t* __restrict__ y_, float* __restrict__ ckpt_, float* __restrict__ sa_,
    const float* __restrict__ s0_, int64_t s0_batch_stride) {
#if __CUDA_ARCH__ >= 800
  constexpr int RT = R / 16, LDR = ForwardSmem<R>::LDR;  // RT: 16-row tiles of the block's rows
  extern __shared__ __align__(128) unsigned char smem_raw[];
  ForwardSmem<R>& sm = *reinterpret_cast<ForwardSmem<R>*>(smem_raw);
  const int hh = blockIdx.x, bb = blockIdx.y, i0 = blockIdx.z * R;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int chunks = T / L;
  const int64_t step = (int64_t)H * N;                            // between consecutive steps
  const int64_t head = (int64_t)bb * T * step + (int64_t)hh * N;  // element (bb, t = 0, hh, 0)

  auto stage = [&](int c) {
    const int buf = c & 1;
    constexpr int kRowCopies = kFwdStaged * L * 8;  // 16-byte copies: 8 per row of 64 bf16
    constexpr int kVCopies = R / 8;                 // per row of the block's v columns
    for (int q = tid; q < kRowCopies + L * kVCopies; q += kFwdThreads) {
      if (q < kRowCopies) {
        const int tensor = q / (L * 8), t = q / 8 % L, part = q % 8;
        const bf16_t* src = tensor == kFR ? r_ : tensor == kFW ? w_ : tensor == kFK ? k_ : tensor == kFA ? a_ : b_;
        cp_async16(&sm.in[buf][tensor][t][part * 8], src + head + (c * L + t) * step + part * 8);
      } else {
        const int t = (q - kRowCopies) / kVCopies, part = (q - kRowCopies) % kVCopies;
        cp_async16(&sm.in_v[buf][t][part * 8], v_ + head + (c * L + t) * step + i0 + part * 8);
      }
    }
    cp_async_commit();
  };

  // This block's rows of the initial state: zeros, the trained state or the carried one.
  for (int e = tid; e < R * N; e += kFwdThreads) {
    const int i = e / N, j = e % N;
    sm.S[i][j] = s0_ ? s0_[bb * s0_batch_stride + ((int64_t)hh * N + i0 + i) * N + j] : 0.f;
  }
  stage(0);
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
      for (int e = tid - N; e < L * R; e += kFwdThreads - N) {
        const int t = e / R, i = e % R;
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

    // 3. T = (I - M_ab)^-1 (warp 0); y's terms that do not need sa, R~ S_0^T + M_rk V, a
    // 16-column tile of value rows each (warps 1-3), kept in Y until sa is known.
    if (warp == 0) {
      if (lane < L) solve_unitriangular(sm.M[0], sm.T, lane);
    } else {
      for (int n = warp - 1; n < RT; n += 3) {
        Acc acc;
        zero(acc);
        mma(acc, Plain{&sm.r_dec[0][0], LD}, Transposed{&sm.S[0][0], LD}, 0, 16 * n, N);
        mma(acc, Plain{&sm.M[3][0][0], LDS}, Plain{&sm.v[0][0], LDR}, 0, 16 * n, L);
        store(&sm.Y[0][16 * n], acc, LDR);
      }
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

    // 5. sa = W S_0^T + (T M_ak) V (a tile of value rows a warp), saved for the backward.
    if (warp < RT) {
      const int n0 = 16 * warp;
      Acc acc;
      zero(acc);
      mma(acc, Plain{&sm.W[0][0], LD}, Transposed{&sm.S[0][0], LD}, 0, n0, N);
      mma(acc, Plain{&sm.TM[0][0], LDS}, Plain{&sm.v[0][0], LDR}, 0, n0, L);
      store(&sm.SA[0][n0], acc, LDR);
      __syncwarp();
      const int t = lane >> 1, part = lane & 1;  // a lane writes 8 values of row t
      store8_f32(sa_ + head + (c * L + t) * step + i0 + n0 + part * 8, &sm.SA[t][n0 + part * 8]);
    }
    __syncthreads();

    // 6. S_0 has had its last reader: decay it in place (every thread); y += M_rb sa (a tile of
    // value rows a warp).
    for (int e = tid; e < R * N; e += kFwdThreads) {
      const int i = e / N, j = e % N;
      sm.S[i][j] *= sm.decay_all[j];
    }
    if (warp < RT) {
      const int n0 = 16 * warp;
      Acc acc;
      load(acc, &sm.Y[0][n0], LDR);
      mma(acc, Plain{&sm.M[2][0][0], LDS}, Plain{&sm.SA[0][0], LDR}, 0, n0, L);
      store(&sm.Y[0][n0], acc, LDR);
      __syncwarp();
      const int t = lane >> 1, part = lane & 1;
      store8_bf16(y_ + head + (c * L + t) * step + i0 + n0 + part * 8, &sm.Y[t][n0 + part * 8]);
    }
    __syncthreads();

    // 7. S_L = S_0 diag(exp(g_L)) + V^T k_end + sa^T b_end (a column tile a warp, every row tile),
    // checkpointed column-major over the whole head ([j][i]), as wkv7_forward stores it.
    for (int m = 0; m < RT; m++) {
      const int m0 = 16 * m;
      Acc acc;
      load(acc, &sm.S[m0][16 * warp], LD);
      mma(acc, Transposed{&sm.v[0][0], LDR}, Plain{&sm.k_end[0][0], LD}, m0, 16 * warp, L);
      mma(acc, Transposed{&sm.SA[0][0], LDR}, Plain{&sm.b_end[0][0], LD}, m0, 16 * warp, L);
      store(&sm.S[m0][16 * warp], acc, LD);
      __syncwarp();
      const int j = 16 * warp + (lane >> 1), part = lane & 1;  // 8 of this tile's rows of column j
      float column[8];
#pragma unroll
      for (int e = 0; e < 8; e++) column[e] = sm.S[m0 + part * 8 + e][j];
      float* dst = ckpt_ + (((int64_t)bb * H + hh) * chunks + c) * N * N;
      store8_f32(dst + (int64_t)j * N + i0 + m0 + part * 8, column);
    }
    // The barrier at the top of the next chunk orders these writes of S before its readers.
  }
#endif
}

// ---- backward -------------------------------------------------------------------------------
// A block owns R = 64 / V_SPLIT value rows i of the state, as in the forward: d(state) rows,
// d sa, dX and dv are the block's own (row i of dS reads dS row i, dy_i, sa_i and v_i only),
// while every key-side gradient (dr, dw, dk, da, db and the pair matrices' gradients) is a sum
// over the 64 rows, linear in each row's part given the key-side inputs: each block forms its
// rows' part, and with V_SPLIT > 1 the blocks of a head (one thread-block cluster, sm_90) add
// their parts through distributed shared memory once a chunk, each finishing R key channels.
enum BwdStaged { kBR, kBW, kBK, kBA, kBB, kBwdStaged };  // key-side rows, full width
enum BwdValueStaged { kBV, kBDY, kBwdValueStaged };     // the block's columns of v and dy

// The key-side gradients a block sums over its rows; with V_SPLIT > 1 the sum over the head's
// blocks replaces them in place, for the block's own channels, before step 6 reads them.
struct KeyGrads {
  alignas(32) float r[L][LD];     // d r_dec  (times exp(g_t): dr)
  alignas(32) float a[L][LD];     // d a_dec  (times exp(g_{t-1}): da)
  alignas(32) float binv[L][LD];  // d b_inv, S_L's term folded in (times exp(-g_t): db)
  alignas(32) float kinv[L][LD];  // d k_inv, likewise (dk)
  alignas(32) float boundary[N];  // sum_i dS[i][j] S_L[i][j]: d log w from after the chunk
};

template <int R>
struct BackwardSmem {
  static constexpr int LDR = R + 4;
  // Peers read a chunk's sums during step 6 while this block may already be computing the next
  // chunk's: two buffers, by chunk parity, so one cluster barrier a chunk orders them.
  static constexpr int kGradBufs = R < N ? 2 : 1;
  alignas(32) bf16_t in[2][kBwdStaged][L][N];         // a chunk's r, w, k, a, b rows (double buffered)
  alignas(32) bf16_t in_vy[2][kBwdValueStaged][L][R];  // its v and dy columns
  alignas(32) float sa[2][L][LDR];                    // and its sa columns, [t][i]
  alignas(32) float S0[N][LDR];                       // the chunk's starting state, [j][i] as checkpointed
  alignas(32) float dS[R][LD];                        // d(state after the chunk), [i][j]; then d(state before it)
  alignas(32) float a_dec[L][LD], r_dec[L][LD], b_inv[L][LD], k_inv[L][LD], b_end[L][LD], k_end[L][LD];
  alignas(32) float v[L][LDR], dy[L][LDR];
  alignas(32) float M[4][L][LDS];                     // pair matrices ab, ak, rb, rk
  alignas(32) float dM[4][L][LDS];                    // their gradients (this block's rows' part)
  alignas(32) float T[L][LDS];
  alignas(32) float dSA[L][LDR];                      // d sa as y and S_L read it, [t][i]
  alignas(32) float dX[L][LDR];                       // T^T dSA: the sequential backward's dsa_t
  alignas(32) float dV[L][LDR];
  KeyGrads g[kGradBufs];
  alignas(32) float decay_all[N];
};

// A100 (sm_80) lets a block opt in to 163 KB, H100 (sm_90) to 227 KB; sm_86 / sm_89 (99 KB) fall
// back to the sequential backward (wkv7_chunked_backward). The split blocks (sm_90 only) are
// smaller.
static_assert(sizeof(BackwardSmem<64>) <= 163 * 1024, "the backward must fit A100's shared memory");
static_assert(sizeof(BackwardSmem<32>) <= 163 * 1024 && sizeof(BackwardSmem<16>) <= 163 * 1024,
              "the split backward must fit too");

// At V_SPLIT = 4 a block's 112 KB let an H100 SM hold two; registers must allow it too (128 a
// thread, which costs ptxas about 136 bytes of spills). Larger blocks fit one an SM either way.
template <int R>
__global__ void __launch_bounds__(kBwdThreads, R == N / 4 ? 2 : 1) wkv7_chunked_backward_kernel(int T, int H,
    const bf16_t* __restrict__ r_, const bf16_t* __restrict__ w_, const bf16_t* __restrict__ k_,
    const bf16_t* __restrict__ v_, const bf16_t* __restrict__ a_, const bf16_t* __restrict__ b_,
    const bf16_t* __restrict__ dy_, const float* __restrict__ ckpt_, const float* __restrict__ sa_,
    const float* __restrict__ s0_, int64_t s0_batch_stride, bf16_t* __restrict__ dr_,
    bf16_t* __restrict__ dw_, bf16_t* __restrict__ dk_, bf16_t* __restrict__ dv_,
    bf16_t* __restrict__ da_, bf16_t* __restrict__ db_, float* __restrict__ ds0_) {
  constexpr int kSplit = N / R;
  // The split needs clusters (sm_90): built for an older GPU, that instantiation is empty and
  // the launcher never picks it (backward_split_available).
#if __CUDA_ARCH__ >= 800
  if constexpr (kSplit == 1 || __CUDA_ARCH__ >= 900) {
  constexpr int RT = R / 16, LDR = BackwardSmem<R>::LDR;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  BackwardSmem<R>& sm = *reinterpret_cast<BackwardSmem<R>*>(smem_raw);
  // With kSplit > 1 the grid's z is the cluster's: blockIdx.z is the block's rank in it.
  const int hh = blockIdx.x, bb = blockIdx.y, part_of_head = blockIdx.z, i0 = part_of_head * R;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int chunks = T / L;
  const int64_t step = (int64_t)H * N;
  const int64_t head = (int64_t)bb * T * step + (int64_t)hh * N;
  const float* ckpt_head = ckpt_ + ((int64_t)bb * H + hh) * chunks * N * N;  // checkpoint c: + c*N*N

  auto stage_inputs = [&](int c) {
    const int buf = c & 1;
    constexpr int kRowCopies = kBwdStaged * L * 8;             // 16 bytes: 8 bf16
    constexpr int kValueCopies = kBwdValueStaged * L * (R / 8);
    constexpr int kSaCopies = L * (R / 4);                     // 16 bytes: 4 floats
    for (int q = tid; q < kRowCopies + kValueCopies + kSaCopies; q += kBwdThreads) {
      if (q < kRowCopies) {
        const int tensor = q / (L * 8), t = q / 8 % L, part = q % 8;
        const bf16_t* src = tensor == kBR ? r_ : tensor == kBW ? w_ : tensor == kBK ? k_ : tensor == kBA ? a_ : b_;
        cp_async16(&sm.in[buf][tensor][t][part * 8], src + head + (c * L + t) * step + part * 8);
      } else if (q < kRowCopies + kValueCopies) {
        const int e = q - kRowCopies, tensor = e / (L * (R / 8)), t = e / (R / 8) % L, part = e % (R / 8);
        cp_async16(&sm.in_vy[buf][tensor][t][part * 8], (tensor == kBV ? v_ : dy_) + head + (c * L + t) * step + i0 + part * 8);
      } else {
        const int e = q - kRowCopies - kValueCopies, t = e / (R / 4), part = e % (R / 4);
        cp_async16(&sm.sa[buf][t][part * 4], sa_ + head + (c * L + t) * step + i0 + part * 4);
      }
    }
  };
  // The state chunk c starts from: checkpoint c-1, or for chunk 0 s0 (zeros if none), which is
  // row-major and so is transposed on the way in (once).
  auto load_start_state = [&](int c) {
    if (c > 0) {
      const float* src = ckpt_head + (int64_t)(c - 1) * N * N;
      for (int q = tid; q < N * (R / 4); q += kBwdThreads) {
        const int j = q / (R / 4), part = q % (R / 4);
        cp_async16(&sm.S0[j][part * 4], src + j * N + i0 + part * 4);
      }
    } else {
      for (int e = tid; e < N * R; e += kBwdThreads) {
        const int i = e / N, j = e % N;
        sm.S0[j][i] = s0_ ? s0_[bb * s0_batch_stride + ((int64_t)hh * N + i0 + i) * N + j] : 0.f;
      }
    }
  };

  for (int e = tid; e < R * N; e += kBwdThreads) sm.dS[e / N][e % N] = 0.f;  // nothing after the last step
  stage_inputs(chunks - 1);
  load_start_state(chunks - 1);
  cp_async_commit();
  for (int c = chunks - 1; c >= 0; c--) {
    const int buf = c & 1;
    KeyGrads& G = sm.g[BackwardSmem<R>::kGradBufs > 1 ? c & 1 : 0];
    cp_async_wait_all();
    __syncthreads();
    if (c > 0) {
      stage_inputs(c - 1);  // into the buffer chunk c+1 read before the barrier
      cp_async_commit();
    }

    // 1. Factors (warps 0-1, a thread per key channel); v and dy to fp32 (warps 2-7); and the
    // boundary term of d log w, sum_i dS[i][j] S_L[i][j] over this block's rows i with S_L
    // checkpoint c (warps 4-7; the last chunk has none: dS is zero).
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
      for (int e = tid - N; e < L * R; e += 2 * 32) sm.v[e / R][e % R] = ld(sm.in_vy[buf][kBV][e / R], e % R);
    } else {
      for (int e = tid - 4 * 32; e < L * R; e += 4 * 32) sm.dy[e / R][e % R] = ld(sm.in_vy[buf][kBDY][e / R], e % R);
      const int j0 = 16 * (warp - 4);
      if (c + 1 < chunks) {
        const float* S_end = ckpt_head + (int64_t)c * N * N;  // [j][i]
        // A lane's rows: lane and lane + 32 of the block's (R = 64), or lane alone (R <= 32).
        constexpr int kLaneRows = R > 32 ? 2 : 1;
        const bool lane_has_rows = lane < R;
        float s_end[16][kLaneRows];
#pragma unroll
        for (int jj = 0; jj < 16; jj++)
#pragma unroll
          for (int p = 0; p < kLaneRows; p++)
            s_end[jj][p] = lane_has_rows ? S_end[(j0 + jj) * N + i0 + lane + 32 * p] : 0.f;
#pragma unroll
        for (int jj = 0; jj < 16; jj++) {
          const int j = j0 + jj;
          float x = lane_has_rows ? sm.dS[lane][j] * s_end[jj][0] : 0.f;
          if constexpr (kLaneRows == 2) x = sm.dS[lane][j] * s_end[jj][0] + sm.dS[lane + 32][j] * s_end[jj][1];
          const float sum = warp_sum(x);
          if (lane == 0) G.boundary[j] = sum;
        }
      } else if (lane < 16) {
        G.boundary[j0 + lane] = 0.f;
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
          mma(acc, Plain{&sm.dy[0][0], LDR}, Transposed{&sm.S0[0][0], LDR}, 0, 16 * job, R);
          store(&G.r[0][16 * job], acc, LD);
        } else {
          const float* rhs = job == 4 ? &sm.sa[buf][0][0] : &sm.v[0][0];
          float* dM = &sm.dM[job == 4 ? 2 : 3][0][0];
          mma(acc, Plain{&sm.dy[0][0], LDR}, Transposed{rhs, LDR}, 0, 0, R);
          store(dM, acc, LDS);
          mask_pairs(dM, false, lane);
        }
      }
    }
    __syncthreads();

    // 3. T (warp 0); warps 1-7: dSA = M_rb^T dY + b_end dS^T, dV = M_rk^T dY + k_end dS^T (a tile
    // of value rows each; dV's M_ak term waits for dX), d r_dec += dM_rb b_inv + dM_rk k_inv,
    // d b_inv = dM_rb^T r_dec, d k_inv = dM_rk^T r_dec (a 16-column tile each).
    if (warp == 0) {
      if (lane < L) solve_unitriangular(sm.M[0], sm.T, lane);
    } else {
      for (int job = warp - 1; job < 2 * RT + 12; job += 7) {
        Acc acc;
        if (job < 2 * RT) {
          const bool dsa = job < RT;
          const int n0 = 16 * (job % RT);
          zero(acc);
          mma(acc, Transposed{&sm.M[dsa ? 2 : 3][0][0], LDS}, Plain{&sm.dy[0][0], LDR}, 0, n0, L);
          mma(acc, Plain{dsa ? &sm.b_end[0][0] : &sm.k_end[0][0], LD}, Transposed{&sm.dS[0][0], LD}, 0, n0, N);
          store(dsa ? &sm.dSA[0][n0] : &sm.dV[0][n0], acc, LDR);
          continue;
        }
        const int q = job - 2 * RT, n0 = 16 * (q % 4);
        if (q < 4) {
          load(acc, &G.r[0][n0], LD);
          mma(acc, Plain{&sm.dM[2][0][0], LDS}, Plain{&sm.b_inv[0][0], LD}, 0, n0, L);
          mma(acc, Plain{&sm.dM[3][0][0], LDS}, Plain{&sm.k_inv[0][0], LD}, 0, n0, L);
          store(&G.r[0][n0], acc, LD);
        } else {
          const bool binv = q < 8;
          zero(acc);
          mma(acc, Transposed{&sm.dM[binv ? 2 : 3][0][0], LDS}, Plain{&sm.r_dec[0][0], LD}, 0, n0, L);
          store(binv ? &G.binv[0][n0] : &G.kinv[0][n0], acc, LD);
        }
      }
    }
    __syncthreads();

    // 4. dX = T^T dSA (a tile of value rows a warp, warps 0-3); dS's columns decayed by
    // exp(g_L), in place (warps 4-7).
    if (warp < 4) {
      if (warp < RT) {
        Acc acc;
        zero(acc);
        mma(acc, Transposed{&sm.T[0][0], LDS}, Plain{&sm.dSA[0][0], LDR}, 0, 16 * warp, L);
        store(&sm.dX[0][16 * warp], acc, LDR);
      }
    } else {
      for (int e = tid - 4 * 32; e < R * N; e += 4 * 32) sm.dS[e / N][e % N] *= sm.decay_all[e % N];
    }
    __syncthreads();

    // 5a. What needs dX or the decayed dS: dM_ab = dX sa^T, dM_ak = dX V^T (strictly masked),
    // d a_dec = dX S_0, dV += M_ak^T dX (then written out), d b_inv += sa dS_decayed,
    // d k_inv += V dS_decayed.
    for (int job = warp; job < 2 + 4 + RT + 8; job += kBwdThreads / 32) {
      Acc acc;
      if (job < 2) {
        zero(acc);
        mma(acc, Plain{&sm.dX[0][0], LDR}, Transposed{job == 0 ? &sm.sa[buf][0][0] : &sm.v[0][0], LDR}, 0, 0, R);
        store(&sm.dM[job][0][0], acc, LDS);
        mask_pairs(&sm.dM[job][0][0], true, lane);
      } else if (job < 6) {
        const int n0 = 16 * (job - 2);
        zero(acc);
        mma(acc, Plain{&sm.dX[0][0], LDR}, Transposed{&sm.S0[0][0], LDR}, 0, n0, R);
        store(&G.a[0][n0], acc, LD);
      } else if (job < 6 + RT) {
        const int n0 = 16 * (job - 6);
        load(acc, &sm.dV[0][n0], LDR);
        mma(acc, Transposed{&sm.M[1][0][0], LDS}, Plain{&sm.dX[0][0], LDR}, 0, n0, L);
        store(&sm.dV[0][n0], acc, LDR);
        __syncwarp();
        const int t = lane >> 1, part = lane & 1;
        store8_bf16(dv_ + head + (c * L + t) * step + i0 + n0 + part * 8, &sm.dV[t][n0 + part * 8]);
      } else {
        const int q = job - 6 - RT, n0 = 16 * (q % 4);
        const bool binv = q < 4;
        float* g = binv ? &G.binv[0][n0] : &G.kinv[0][n0];
        load(acc, g, LD);
        mma(acc, Plain{binv ? &sm.sa[buf][0][0] : &sm.v[0][0], LDR}, Plain{&sm.dS[0][0], LD}, 0, n0, R);
        store(g, acc, LD);
      }
    }
    __syncthreads();
    // S_0 has had its last reader: bring in the state the next chunk (c-1) starts from.
    if (c > 0) {
      load_start_state(c - 1);
      cp_async_commit();
    }

    // 5b. dS becomes d(state before the chunk): dS_decayed + dX^T a_dec + dY^T r_dec (4 RT tiles);
    // d a_dec += dM_ab b_inv + dM_ak k_inv; d b_inv += dM_ab^T a_dec; d k_inv += dM_ak^T a_dec.
    for (int job = warp; job < 4 * RT + 12; job += kBwdThreads / 32) {
      Acc acc;
      if (job < 4 * RT) {
        const int m0 = 16 * (job / 4), n0 = 16 * (job % 4);
        load(acc, &sm.dS[m0][n0], LD);
        mma(acc, Transposed{&sm.dX[0][0], LDR}, Plain{&sm.a_dec[0][0], LD}, m0, n0, L);
        mma(acc, Transposed{&sm.dy[0][0], LDR}, Plain{&sm.r_dec[0][0], LD}, m0, n0, L);
        store(&sm.dS[m0][n0], acc, LD);
        continue;
      }
      const int q = job - 4 * RT, n0 = 16 * (q % 4);
      if (q < 4) {
        load(acc, &G.a[0][n0], LD);
        mma(acc, Plain{&sm.dM[0][0][0], LDS}, Plain{&sm.b_inv[0][0], LD}, 0, n0, L);
        mma(acc, Plain{&sm.dM[1][0][0], LDS}, Plain{&sm.k_inv[0][0], LD}, 0, n0, L);
        store(&G.a[0][n0], acc, LD);
      } else {
        const bool binv = q < 8;
        float* g = binv ? &G.binv[0][n0] : &G.kinv[0][n0];
        load(acc, g, LD);
        mma(acc, Transposed{&sm.dM[binv ? 0 : 1][0][0], LDS}, Plain{&sm.a_dec[0][0], LD}, 0, n0, L);
        store(g, acc, LD);
      }
    }
    __syncthreads();

    // 5c. With V_SPLIT > 1, the key-side sums over the whole head, for this block's R channels
    // [i0, i0 + R): its peers' parts (and its own) read through distributed shared memory after
    // the cluster barrier, always in rank order so every run adds them alike, written over its
    // own part (no peer reads this block's own channels).
    if constexpr (kSplit > 1) {
#if __CUDA_ARCH__ >= 900
      cg::cluster_group cluster = cg::this_cluster();
      cluster.sync();
      constexpr int kArrays = 4 * L * R;
      for (int e = tid; e < kArrays + R; e += kBwdThreads) {
        float* mine;
        if (e < kArrays) {
          const int which = e / (L * R), t = e / R % L, j = i0 + e % R;
          mine = which == 0 ? &G.r[t][j] : which == 1 ? &G.a[t][j] : which == 2 ? &G.binv[t][j] : &G.kinv[t][j];
        } else {
          mine = &G.boundary[i0 + e - kArrays];
        }
        float sum = 0.f;
#pragma unroll
        for (int rank = 0; rank < kSplit; rank++) sum += *cluster.map_shared_rank(mine, rank);
        *mine = sum;
      }
      __syncthreads();
#endif
    }

    // 6. The inputs' gradients, a thread per key channel (this block's R: all 64 unsplit): undo
    // the factors' decays, and d log w by the reverse sum of cpu/wkv7_chunked.cpp's identity,
    // from the boundary term down.
    if (tid < R) {
      const int j = (kSplit > 1 ? i0 : 0) + tid;
      float lam[L], g[L], acc = 0.f;
#pragma unroll
      for (int t = 0; t < L; t++) {
        lam[t] = -__expf(ld(sm.in[buf][kBW][t], j));
        acc += lam[t];
        g[t] = acc;
      }
      float dlog = G.boundary[j];
#pragma unroll
      for (int t = L - 1; t >= 0; t--) {
        const float decay = __expf(g[t]), inv = __expf(-g[t]), decay_before = t ? __expf(g[t - 1]) : 1.f;
        const float dr = G.r[t][j] * decay, da = G.a[t][j] * decay_before;
        const float db = G.binv[t][j] * inv, dk = G.kinv[t][j] * inv;
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
  // dS is now the gradient of the initial state, this block's rows. State tuning trains one
  // state for the batch: the sequences' gradients are summed. (5b's barrier ordered the last
  // writes of dS.)
  if (ds0_) {
    float* dst = ds0_ + ((int64_t)hh * N + i0) * N;
    for (int e = tid; e < R * N; e += kBwdThreads) atomicAdd(dst + e, sm.dS[e / N][e % N]);
  }
  if constexpr (kSplit > 1) {
#if __CUDA_ARCH__ >= 900
    cg::this_cluster().sync();  // a block's shared memory must outlive its peers' last reads
#endif
  }
  }  // kSplit == 1 || sm_90
#endif
}

void check_shape(int T) {
  if (T % L != 0)
    throw EngineError("E_CUDA_SHAPE", "WKV7 kernels need ctx_len to be a multiple of " +
                                          std::to_string(L) + " (got " + std::to_string(T) + ")",
                      "Pick a ctx_len that is a multiple of 16.");
}

int device_attribute(cudaDeviceAttr attr, const char* what) {
  int device = 0, value = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&value, attr, device), what);
  return value;
}

// Whether this GPU's blocks can have `bytes` of shared memory (opted in past the 48 KB default).
bool shared_memory_fits(size_t bytes) {
  return bytes <= static_cast<size_t>(device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                                       "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"));
}

// Opts a kernel in to its shared memory and says how many of its blocks an SM holds at once.
template <typename Kernel>
int resident_blocks(Kernel kernel, int threads, size_t smem, const char* what) {
  check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem), what);
  int blocks = 0;
  check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, smem), what);
  return blocks;
}

template <int R>
int forward_resident() {
  return resident_blocks(wkv7_chunked_forward_kernel<R>, kFwdThreads, sizeof(ForwardSmem<R>),
                         "cudaFuncSetAttribute(wkv7_chunked_forward)");
}
template <int R>
int backward_resident() {
  if (!shared_memory_fits(sizeof(BackwardSmem<R>))) return 0;
  return resident_blocks(wkv7_chunked_backward_kernel<R>, kBwdThreads, sizeof(BackwardSmem<R>),
                         "cudaFuncSetAttribute(wkv7_chunked_backward)");
}

// The split backward needs thread-block clusters: an sm_90 GPU running code compiled for
// compute_90 or newer. A build for sm_80 only runs there from its compute_80 PTX, JIT-compiled
// with __CUDA_ARCH__ 800, whose split kernels are empty: the PTX version says which (the binary
// version would say 90 for that JIT code too).
bool backward_split_available() {
  if (device_attribute(cudaDevAttrComputeCapabilityMajor, "cudaDeviceGetAttribute(ComputeCapabilityMajor)") < 9)
    return false;
  cudaFuncAttributes attr{};
  check_cuda(cudaFuncGetAttributes(&attr, wkv7_chunked_backward_kernel<16>), "cudaFuncGetAttributes(wkv7_chunked_backward)");
  return attr.ptxVersion >= 90;
}

// What the dispatch rule reads, once per device: queries and occupancy are host calls the
// per-layer launches should not repeat.
struct SplitLimits {
  int sms = 0, fwd16 = 0, fwd32 = 0, bwd16 = 0, bwd32 = 0;
  bool bwd_split = false;
};
const SplitLimits& split_limits() {
  static std::mutex mutex;
  static std::map<int, SplitLimits> by_device;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  auto it = by_device.find(device);
  if (it != by_device.end()) return it->second;
  SplitLimits l;
  l.sms = device_attribute(cudaDevAttrMultiProcessorCount, "cudaDeviceGetAttribute(MultiProcessorCount)");
  l.fwd16 = forward_resident<16>();
  l.fwd32 = forward_resident<32>();
  l.bwd_split = backward_split_available();
  if (l.bwd_split) {
    l.bwd16 = backward_resident<16>();
    l.bwd32 = backward_resident<32>();
  }
  return by_device.emplace(device, l).first->second;
}

// The dispatch rule: the kernels are bound by the latency of each chunk's chain of steps, so
// blocks in flight are what hides it, while a split repeats the key-side work in every block.
// So: the largest split (4, 2) whose grid, B * H * split blocks, still runs in one wave of the
// blocks the SMs hold at once; otherwise no split (the grid fills the GPU already). With
// B * H = 96 on 132 SMs that is today's forward split of 4; with 256, none.
int pick_split(int B, int H, bool backward) {
  const SplitLimits& l = split_limits();
  const int64_t heads = (int64_t)B * H;
  for (int split : {4, 2}) {
    const int per_sm = backward ? (split == 4 ? l.bwd16 : l.bwd32) : (split == 4 ? l.fwd16 : l.fwd32);
    if (per_sm > 0 && heads * split <= (int64_t)l.sms * per_sm) return split;
  }
  return 1;
}

int resolve_split(int B, int H, bool backward, int v_split) {
  if (v_split == 0) return pick_split(B, H, backward);
  if (v_split != 1 && v_split != 2 && v_split != 4)
    throw EngineError("E_CUDA_SHAPE", "WKV7 value split must be 1, 2 or 4 (got " + std::to_string(v_split) + ")",
                      "Pass 0 for the dispatch rule.");
  if (backward && v_split > 1 && !split_limits().bwd_split)
    throw EngineError("E_CUDA_UNSUPPORTED", "the split WKV7 backward needs an sm_90 GPU and an sm_90 build",
                      "Pass 0 or 1.");
  return v_split;
}

template <int R>
void launch_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k, const bf16_t* v,
                    const bf16_t* a, const bf16_t* b, bf16_t* y, float* ckpt, float* sa, cudaStream_t stream,
                    const float* s0, int64_t s0_batch_stride) {
  constexpr size_t smem = sizeof(ForwardSmem<R>);
  check_cuda(cudaFuncSetAttribute(wkv7_chunked_forward_kernel<R>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
             "cudaFuncSetAttribute(wkv7_chunked_forward)");
  wkv7_chunked_forward_kernel<R><<<dim3(H, B, N / R), kFwdThreads, smem, stream>>>(
      T, H, r, w, k, v, a, b, y, ckpt, sa, s0, s0_batch_stride);
  check_cuda(cudaGetLastError(), "wkv7_chunked_forward");
}

template <int R>
void launch_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k, const bf16_t* v,
                     const bf16_t* a, const bf16_t* b, const bf16_t* dy, const float* ckpt, const float* sa,
                     bf16_t* dr, bf16_t* dw, bf16_t* dk, bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream,
                     const float* s0, int64_t s0_batch_stride, float* ds0) {
  constexpr size_t smem = sizeof(BackwardSmem<R>);
  check_cuda(cudaFuncSetAttribute(wkv7_chunked_backward_kernel<R>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
             "cudaFuncSetAttribute(wkv7_chunked_backward)");
  if constexpr (R == N) {
    wkv7_chunked_backward_kernel<R><<<dim3(H, B), kBwdThreads, smem, stream>>>(
        T, H, r, w, k, v, a, b, dy, ckpt, sa, s0, s0_batch_stride, dr, dw, dk, dv, da, db, ds0);
  } else {  // a head's N / R blocks form one cluster along z, so they share shared memory
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(H, B, N / R);
    config.blockDim = dim3(kBwdThreads);
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    cudaLaunchAttribute cluster{};
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = 1;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = N / R;
    config.attrs = &cluster;
    config.numAttrs = 1;
    check_cuda(cudaLaunchKernelEx(&config, wkv7_chunked_backward_kernel<R>, T, H, r, w, k, v, a, b, dy, ckpt, sa, s0,
                                  s0_batch_stride, dr, dw, dk, dv, da, db, ds0),
               "cudaLaunchKernelEx(wkv7_chunked_backward)");
  }
  check_cuda(cudaGetLastError(), "wkv7_chunked_backward");
}
}  // namespace

int wkv7_chunked_value_split(bool backward, int B, int H, int v_split) {
  if (backward && !shared_memory_fits(sizeof(BackwardSmem<N>))) return 0;  // the sequential fallback
  return resolve_split(B, H, backward, v_split);
}

void wkv7_chunked_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                          const bf16_t* v, const bf16_t* a, const bf16_t* b, bf16_t* y, float* ckpt,
                          float* sa, cudaStream_t stream, const float* s0, int64_t s0_batch_stride, int v_split) {
  check_shape(T);
  switch (resolve_split(B, H, false, v_split)) {
    case 1: return launch_forward<N>(B, T, H, r, w, k, v, a, b, y, ckpt, sa, stream, s0, s0_batch_stride);
    case 2: return launch_forward<N / 2>(B, T, H, r, w, k, v, a, b, y, ckpt, sa, stream, s0, s0_batch_stride);
    default: return launch_forward<N / 4>(B, T, H, r, w, k, v, a, b, y, ckpt, sa, stream, s0, s0_batch_stride);
  }
}

void wkv7_chunked_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w, const bf16_t* k,
                           const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                           const float* ckpt, const float* sa, bf16_t* dr, bf16_t* dw, bf16_t* dk,
                           bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream, const float* s0,
                           int64_t s0_batch_stride, float* ds0, int v_split) {
  check_shape(T);
  if (!shared_memory_fits(sizeof(BackwardSmem<N>))) {  // sm_86 / sm_89: the sequential backward reads the same buffers
    wkv7_backward(B, T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw, dk, dv, da, db, stream, ds0);
    return;
  }
  switch (resolve_split(B, H, true, v_split)) {
    case 1:
      return launch_backward<N>(B, T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw, dk, dv, da, db, stream, s0,
                                s0_batch_stride, ds0);
    case 2:
      return launch_backward<N / 2>(B, T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw, dk, dv, da, db, stream, s0,
                                    s0_batch_stride, ds0);
    default:
      return launch_backward<N / 4>(B, T, H, r, w, k, v, a, b, dy, ckpt, sa, dr, dw, dk, dv, da, db, stream, s0,
                                    s0_batch_stride, ds0);
  }
}

}  // namespace rwkv::cuda
