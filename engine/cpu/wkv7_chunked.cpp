// The chunked WKV7 forward and backward (the math and conventions are in wkv7_chunked.h).
//
// Why the decay's gradient needs no state inside the chunk. With G_t the gradient of the state
// after step t and S_{t-1} w_t = S_t - sa_t b_t^T - v_t k_t^T,
//   d log w_t[j] = sum_i G_t[i][j] S_{t-1}[i][j] w_t[j]
//                = sum_i G_t[i][j] S_t[i][j] - b_t[j] db_t[j] - k_t[j] dk_t[j],
// and G_t = G'_t + dy_t r_t^T, where G'_t = G_{t+1} diag(w_{t+1}) + dsa_{t+1} a_{t+1}^T is what
// step t+1 sends back, so sum_i G_t S_t = d log w_{t+1} + a_{t+1} da_{t+1} + r_t dr_t. Unrolled to
// the chunk's last step, where G' is the gradient dS_L that the next chunk sends back:
//   d log w_t = sum_i dS_L S_L + sum_{u>=t} (r dr - b db - k dk)_u + sum_{u>t} (a da)_u.
#include "cpu/wkv7_chunked.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace rwkv::ops {
namespace {

// Threads pay off only above some work (as in ops.cpp).
inline bool worth_threads(int64_t work) { return work >= (int64_t(1) << 18); }

// A small dense row-major matrix: one chunk's block of rows, a pair matrix or a state.
struct Mat {
  int rows = 0, cols = 0;
  std::vector<float> v;
  Mat() = default;
  Mat(int r, int c) : rows(r), cols(c), v(size_t(r) * c, 0.0f) {}
  float& operator()(int i, int j) { return v[size_t(i) * cols + j]; }
  float operator()(int i, int j) const { return v[size_t(i) * cols + j]; }
};

// Round to the nearest tf32 (fp32 with 10 explicit mantissa bits), ties away from zero: what the
// kernels' wmma::__float_to_tf32 (cvt.rna.tf32.f32) does to every operand element of an mma.
float to_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
  u += 0x1000u;  // half of the last kept bit, on the magnitude
  u &= 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// A matrix-product operand: the matrix itself, or, emulating the tensor cores, its tf32 copy.
Mat operand(const Mat& m, bool tf32) {
  if (!tf32) return m;
  Mat o = m;
  for (float& x : o.v) x = to_tf32(x);
  return o;
}

enum class Tr { No, Yes };
// C = op(A) op(B), or C += when accumulating: fp32 products summed in fp32, like an mma.
void gemm(const Mat& A, Tr ta, const Mat& B, Tr tb, Mat& C, bool accumulate = false) {
  const int M = ta == Tr::No ? A.rows : A.cols, K = ta == Tr::No ? A.cols : A.rows;
  const int N = tb == Tr::No ? B.cols : B.rows;
  if ((tb == Tr::No ? B.rows : B.cols) != K) throw std::logic_error("wkv7_chunked: gemm shapes");
  if (!accumulate) C = Mat(M, N);
  if (C.rows != M || C.cols != N) throw std::logic_error("wkv7_chunked: gemm output shape");
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0;
      for (int kk = 0; kk < K; ++kk)
        s += (ta == Tr::No ? A(i, kk) : A(kk, i)) * (tb == Tr::No ? B(kk, j) : B(j, kk));
      C(i, j) += s;
    }
}

// Where element (b, t, h, j) of a [B,T,H,N] tensor is.
struct Layout {
  int T, H, N;
  int64_t at(int bb, int t, int h, int j) const { return ((int64_t(bb) * T + t) * H + h) * N + j; }
};

Mat load_rows(const float* x, const Layout& lay, int bb, int t0, int len, int h) {
  Mat m(len, lay.N);
  for (int t = 0; t < len; ++t) std::copy_n(x + lay.at(bb, t0 + t, h, 0), lay.N, &m(t, 0));
  return m;
}
void add_rows(const Mat& m, float* x, const Layout& lay, int bb, int t0, int h) {
  for (int t = 0; t < m.rows; ++t)
    for (int j = 0; j < m.cols; ++j) x[lay.at(bb, t0 + t, h, j)] += m(t, j);
}
void store_rows(const Mat& m, float* x, const Layout& lay, int bb, int t0, int h) {
  for (int t = 0; t < m.rows; ++t) std::copy_n(m.v.data() + size_t(t) * m.cols, m.cols, x + lay.at(bb, t0 + t, h, 0));
}

// One chunk's inputs, [len x N] each.
struct ChunkInputs {
  Mat r, w, k, v, a, b;
};

// Which pair matrix: rows from a (decayed to step t-1, strictly below the diagonal: sa_t reads
// S_{t-1}) or from r (decayed to step t, diagonal included: y_t reads S_t).
enum class Rows { A, R };

// Everything a chunk needs that depends only on its key-side inputs (w, a, b, k, r): the same for
// every value row of the state, and the same in the forward and the backward.
struct ChunkKeys {
  int len = 0;
  bool emulate = false;
  Mat lam;                        // log w_t = -exp(w_raw_t)
  Mat g;                          // g_t = sum_{u<=t} log w_u, the decay since the chunk start
  std::vector<float> decay_all;   // exp(g_{len-1}): the whole chunk's decay, per key channel
  Mat a_dec, r_dec;               // a_t exp(g_{t-1}), r_t exp(g_t)   (entries of S_0's terms)
  Mat b_end, k_end;               // b_s exp(g_L - g_s), k_s exp(g_L - g_s)   (into S_L)
  Mat b_inv, k_inv;               // b_s exp(-g_s), k_s exp(-g_s)   (factored pair matrices only)
  Mat M_ab, M_ak, M_rb, M_rk;     // the pair matrices, fp32
  Mat M_ab_op, M_ak_op, M_rb_op, M_rk_op, T_op;  // as product operands
  Mat T;                          // (I - M_ab)^-1

  float g_before(int t, int j) const { return t > 0 ? g(t - 1, j) : 0.0f; }
  float g_rows(Rows rows, int t, int j) const { return rows == Rows::A ? g_before(t, j) : g(t, j); }
  // The pair (t, s) is in the matrix: s < t for a-rows, s <= t for r-rows.
  static bool in_pair(Rows rows, int t, int s) { return rows == Rows::A ? s < t : s <= t; }
  const Mat& row_factor(Rows rows) const { return rows == Rows::A ? a_dec : r_dec; }
};

// M[t][s] = sum_j x_t[j] y_s[j] exp(g'_t[j] - g_s[j]) over the pairs of `rows`, zero elsewhere.
// Exactly: each exponent is a difference later - earlier <= 0. Emulating the kernels: the
// product of the tf32 factors x_t exp(g'_t) and y_s exp(-g_s), then masked.
Mat pair_matrix(const ChunkKeys& ck, Rows rows, const Mat& x, const Mat& y, const Mat& y_inv) {
  const int L = ck.len, N = x.cols;
  Mat M(L, L);
  if (ck.emulate) {
    gemm(ck.row_factor(rows), Tr::No, y_inv, Tr::Yes, M);
  } else {
    for (int t = 0; t < L; ++t)
      for (int s = 0; s < L; ++s) {
        if (!ChunkKeys::in_pair(rows, t, s)) continue;
        float sum = 0;
        for (int j = 0; j < N; ++j) sum += x(t, j) * y(s, j) * std::exp(ck.g_rows(rows, t, j) - ck.g(s, j));
        M(t, s) = sum;
      }
  }
  for (int t = 0; t < L; ++t)
    for (int s = 0; s < L; ++s)
      if (!ChunkKeys::in_pair(rows, t, s)) M(t, s) = 0;
  return M;
}

// The gradient a pair matrix sends to its row inputs: out[t][j] = sum_s dM[t][s] y_s[j] e(t,s,j)
// with e = exp(g'_t - g_s); emulated as (dM y_inv) exp(g'_t), y_inv the tf32 factor.
Mat pair_to_rows(const ChunkKeys& ck, Rows rows, const Mat& dM, const Mat& y, const Mat& y_inv) {
  const int L = ck.len, N = y.cols;
  Mat out(L, N);
  if (ck.emulate) {
    gemm(operand(dM, true), Tr::No, y_inv, Tr::No, out);
    for (int t = 0; t < L; ++t)
      for (int j = 0; j < N; ++j) out(t, j) *= std::exp(ck.g_rows(rows, t, j));
    return out;
  }
  for (int t = 0; t < L; ++t)
    for (int s = 0; s < L; ++s) {
      if (!ChunkKeys::in_pair(rows, t, s) || dM(t, s) == 0) continue;
      for (int j = 0; j < N; ++j) out(t, j) += dM(t, s) * y(s, j) * std::exp(ck.g_rows(rows, t, j) - ck.g(s, j));
    }
  return out;
}

// ... and to its column inputs: out[s][j] = sum_t dM[t][s] x_t[j] e(t,s,j); emulated as
// (dM^T x_dec) exp(-g_s), x_dec the tf32 row factor.
Mat pair_to_cols(const ChunkKeys& ck, Rows rows, const Mat& dM, const Mat& x) {
  const int L = ck.len, N = x.cols;
  Mat out(L, N);
  if (ck.emulate) {
    gemm(operand(dM, true), Tr::Yes, ck.row_factor(rows), Tr::No, out);
    for (int s = 0; s < L; ++s)
      for (int j = 0; j < N; ++j) out(s, j) *= std::exp(-ck.g(s, j));
    return out;
  }
  for (int t = 0; t < L; ++t)
    for (int s = 0; s < L; ++s) {
      if (!ChunkKeys::in_pair(rows, t, s) || dM(t, s) == 0) continue;
      for (int j = 0; j < N; ++j) out(s, j) += dM(t, s) * x(t, j) * std::exp(ck.g_rows(rows, t, j) - ck.g(s, j));
    }
  return out;
}

ChunkKeys chunk_keys(const ChunkInputs& in, bool emulate) {
  ChunkKeys ck;
  const int L = in.r.rows, N = in.r.cols;
  ck.len = L;
  ck.emulate = emulate;
  ck.lam = Mat(L, N);
  ck.g = Mat(L, N);
  for (int j = 0; j < N; ++j) {
    float g = 0;
    for (int t = 0; t < L; ++t) {
      ck.lam(t, j) = -std::exp(in.w(t, j));
      g += ck.lam(t, j);
      ck.g(t, j) = g;
    }
  }
  ck.decay_all.resize(N);
  for (int j = 0; j < N; ++j) ck.decay_all[j] = std::exp(ck.g(L - 1, j));
  ck.a_dec = Mat(L, N); ck.r_dec = Mat(L, N); ck.b_end = Mat(L, N); ck.k_end = Mat(L, N);
  ck.b_inv = Mat(L, N); ck.k_inv = Mat(L, N);
  for (int t = 0; t < L; ++t)
    for (int j = 0; j < N; ++j) {
      const float to_end = std::exp(ck.g(L - 1, j) - ck.g(t, j));
      ck.a_dec(t, j) = in.a(t, j) * std::exp(ck.g_before(t, j));
      ck.r_dec(t, j) = in.r(t, j) * std::exp(ck.g(t, j));
      ck.b_end(t, j) = in.b(t, j) * to_end;
      ck.k_end(t, j) = in.k(t, j) * to_end;
      if (emulate) {
        const float from_start = std::exp(-ck.g(t, j));
        ck.b_inv(t, j) = in.b(t, j) * from_start;
        ck.k_inv(t, j) = in.k(t, j) * from_start;
      }
    }
  // The kernels round the factors once, as they store them for the mma.
  for (Mat* m : {&ck.a_dec, &ck.r_dec, &ck.b_end, &ck.k_end, &ck.b_inv, &ck.k_inv}) *m = operand(*m, emulate);
  ck.M_ab = pair_matrix(ck, Rows::A, in.a, in.b, ck.b_inv);
  ck.M_ak = pair_matrix(ck, Rows::A, in.a, in.k, ck.k_inv);
  ck.M_rb = pair_matrix(ck, Rows::R, in.r, in.b, ck.b_inv);
  ck.M_rk = pair_matrix(ck, Rows::R, in.r, in.k, ck.k_inv);
  // T = (I - M_ab)^-1 by forward substitution: T[t][c] = [t == c] + sum_{s<t} M_ab[t][s] T[s][c].
  ck.T = Mat(L, L);
  for (int c = 0; c < L; ++c)
    for (int t = 0; t < L; ++t) {
      float x = t == c ? 1.0f : 0.0f;
      for (int s = 0; s < t; ++s) x += ck.M_ab(t, s) * ck.T(s, c);
      ck.T(t, c) = x;
    }
  ck.M_ab_op = operand(ck.M_ab, emulate);
  ck.M_ak_op = operand(ck.M_ak, emulate);
  ck.M_rb_op = operand(ck.M_rb, emulate);
  ck.M_rk_op = operand(ck.M_rk, emulate);
  ck.T_op = operand(ck.T, emulate);
  return ck;
}

ChunkInputs load_chunk(const float* r, const float* w, const float* k, const float* v, const float* a,
                       const float* b, const Layout& lay, int bb, int t0, int len, int h) {
  return {load_rows(r, lay, bb, t0, len, h), load_rows(w, lay, bb, t0, len, h), load_rows(k, lay, bb, t0, len, h),
          load_rows(v, lay, bb, t0, len, h), load_rows(a, lay, bb, t0, len, h), load_rows(b, lay, bb, t0, len, h)};
}

// S diag(d): column j scaled by d[j].
Mat scale_columns(const Mat& S, const std::vector<float>& d) {
  Mat out = S;
  for (int i = 0; i < S.rows; ++i)
    for (int j = 0; j < S.cols; ++j) out(i, j) *= d[j];
  return out;
}

// Value rows [i0, i0 + n) of a head: columns of a [len x N] value-side matrix (v, dy, sa, dv),
// rows of a state [i][j].
Mat value_cols(const Mat& m, int i0, int n) {
  Mat out(m.rows, n);
  for (int t = 0; t < m.rows; ++t) std::copy_n(m.v.data() + size_t(t) * m.cols + i0, n, &out(t, 0));
  return out;
}
Mat state_rows(const Mat& S, int i0, int n) {
  Mat out(n, S.cols);
  std::copy_n(S.v.begin() + size_t(i0) * S.cols, size_t(n) * S.cols, out.v.begin());
  return out;
}
void add_value_cols(const Mat& m, float* x, const Layout& lay, int bb, int t0, int h, int i0) {
  for (int t = 0; t < m.rows; ++t)
    for (int i = 0; i < m.cols; ++i) x[lay.at(bb, t0 + t, h, i0 + i)] += m(t, i);
}

Mat load_state(const float* p, int N) {
  Mat S(N, N);
  if (p) std::copy_n(p, size_t(N) * N, S.v.begin());
  return S;
}

void check_options(const Wkv7ChunkOptions& opt) {
  if (opt.chunk_len < 1) throw std::logic_error("wkv7_chunked: chunk_len must be >= 1");
  if (opt.value_split < 1) throw std::logic_error("wkv7_chunked: value_split must be >= 1");
}

}  // namespace

int wkv7_chunk_count(int T, int chunk_len) { return (T + chunk_len - 1) / chunk_len; }

size_t wkv7_chunked_state_floats(int B, int T, int H, int N, int chunk_len) {
  return size_t(B) * H * wkv7_chunk_count(T, chunk_len) * N * N;
}

void wkv7_chunked_fwd(const float* r, const float* w, const float* k, const float* v, const float* a,
                      const float* b, const float* s0, float* y, float* chunk_states, float* sa, int B,
                      int T, int H, int N, int64_t s0_batch_stride, const Wkv7ChunkOptions& opt) {
  check_options(opt);
  const int L = opt.chunk_len, chunks = wkv7_chunk_count(T, L);
  const bool emu = opt.emulate_gpu_tf32;
  const int64_t NN = int64_t(N) * N;
  const Layout lay{T, H, N};
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      Mat S = load_state(s0 ? s0 + bb * s0_batch_stride + h * NN : nullptr, N);
      for (int c = 0; c < chunks; ++c) {
        const int t0 = c * L, len = std::min(L, T - t0);
        const ChunkInputs in = load_chunk(r, w, k, v, a, b, lay, bb, t0, len, h);
        const ChunkKeys ck = chunk_keys(in, emu);
        const Mat S_op = operand(S, emu);
        // sa = T (A~ S^T + M_ak V), computed as W S^T + (T M_ak) V with W = T A~: the kernels
        // form W and T M_ak before the state is known.
        Mat W, TM, SA;
        gemm(ck.T_op, Tr::No, ck.a_dec, Tr::No, W);
        gemm(ck.T_op, Tr::No, ck.M_ak_op, Tr::No, TM);
        gemm(operand(W, emu), Tr::No, S_op, Tr::Yes, SA);
        gemm(operand(TM, emu), Tr::No, in.v, Tr::No, SA, true);
        const Mat SA_op = operand(SA, emu);
        Mat Y;
        gemm(ck.r_dec, Tr::No, S_op, Tr::Yes, Y);
        gemm(ck.M_rk_op, Tr::No, in.v, Tr::No, Y, true);
        gemm(ck.M_rb_op, Tr::No, SA_op, Tr::No, Y, true);
        // S_L = S_0 diag(decay_all) + sa^T B^ + V^T K^, the decayed S_0 in fp32.
        Mat S_next = scale_columns(S, ck.decay_all);
        gemm(SA_op, Tr::Yes, ck.b_end, Tr::No, S_next, true);
        gemm(in.v, Tr::Yes, ck.k_end, Tr::No, S_next, true);
        S = std::move(S_next);
        store_rows(Y, y, lay, bb, t0, h);
        store_rows(SA, sa, lay, bb, t0, h);
        std::copy(S.v.begin(), S.v.end(), chunk_states + ((int64_t(bb) * H + h) * chunks + c) * NN);
      }
    }
}

void wkv7_chunked_bwd(const float* r, const float* w, const float* k, const float* v, const float* a,
                      const float* b, const float* s0, const float* chunk_states, const float* sa,
                      const float* dy, float* dr, float* dw, float* dk, float* dv, float* da, float* db,
                      float* ds0, int B, int T, int H, int N, int64_t s0_batch_stride,
                      const Wkv7ChunkOptions& opt) {
  check_options(opt);
  if (ds0 && s0_batch_stride)
    throw std::logic_error("wkv7_chunked_bwd: a per-sequence initial state gets no gradient");
  if (N % opt.value_split) throw std::logic_error("wkv7_chunked_bwd: value_split must divide N");
  const int L = opt.chunk_len, chunks = wkv7_chunk_count(T, L);
  const bool emu = opt.emulate_gpu_tf32;
  const int64_t NN = int64_t(N) * N;
  const Layout lay{T, H, N};
  std::vector<float> ds0_parts(ds0 ? size_t(B) * H * NN : 0, 0.0f);
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      const float* states = chunk_states + (int64_t(bb) * H + h) * chunks * NN;
      const float* init = s0 ? s0 + bb * s0_batch_stride + h * NN : nullptr;
      Mat dS(N, N);  // the gradient of the state after the chunk being walked
      for (int c = chunks - 1; c >= 0; --c) {
        const int t0 = c * L, len = std::min(L, T - t0);
        const ChunkInputs in = load_chunk(r, w, k, v, a, b, lay, bb, t0, len, h);
        const Mat dY = load_rows(dy, lay, bb, t0, len, h), SA = load_rows(sa, lay, bb, t0, len, h);
        const ChunkKeys ck = chunk_keys(in, emu);
        const Mat S0 = load_state(c > 0 ? states + (c - 1) * NN : init, N);
        const Mat SL = load_state(states + c * NN, N);
        // The state's value rows in value_split slices [i0, i0 + R), each as the CUDA kernel's
        // block of them forms its part: its rows' dv and d(state) rows are its own, the key-side
        // gradients the sum of the slices' parts (one slice: the whole head, as before).
        const int R = N / opt.value_split;
        Mat gr(len, N), ga(len, N), gb(len, N), gk(len, N), gw(len, N), dS_next(N, N);
        std::vector<float> boundary(N, 0.0f);  // sum_i dS[i][j] S_L[i][j]
        for (int i0 = 0; i0 < N; i0 += R) {
          const Mat dYs = value_cols(dY, i0, R), SAs = value_cols(SA, i0, R), Vs = value_cols(in.v, i0, R);
          const Mat dSs = state_rows(dS, i0, R), S0s = state_rows(S0, i0, R), SLs = state_rows(SL, i0, R);
          const Mat dS_op = operand(dSs, emu), S0_op = operand(S0s, emu), SA_op = operand(SAs, emu);
          // d sa as Y and S_L read it, then through sa = T (...): dX = T^T d sa, the gradient of
          // the solve's right-hand side (the sequential backward's dsa_t).
          Mat dSA, dX, dV;
          gemm(ck.M_rb_op, Tr::Yes, dYs, Tr::No, dSA);
          gemm(ck.b_end, Tr::No, dS_op, Tr::Yes, dSA, true);
          gemm(ck.T_op, Tr::Yes, operand(dSA, emu), Tr::No, dX);
          const Mat dX_op = operand(dX, emu);
          gemm(ck.M_rk_op, Tr::Yes, dYs, Tr::No, dV);
          gemm(ck.k_end, Tr::No, dS_op, Tr::Yes, dV, true);
          gemm(ck.M_ak_op, Tr::Yes, dX_op, Tr::No, dV, true);
          // The pair matrices' gradients (this slice's part), masked like the matrices.
          Mat dM_rb, dM_rk, dM_ab, dM_ak;
          gemm(dYs, Tr::No, SA_op, Tr::Yes, dM_rb);
          gemm(dYs, Tr::No, Vs, Tr::Yes, dM_rk);
          gemm(dX_op, Tr::No, SA_op, Tr::Yes, dM_ab);
          gemm(dX_op, Tr::No, Vs, Tr::Yes, dM_ak);
          for (int t = 0; t < len; ++t)
            for (int s = 0; s < len; ++s) {
              if (!ChunkKeys::in_pair(Rows::R, t, s)) dM_rb(t, s) = dM_rk(t, s) = 0;
              if (!ChunkKeys::in_pair(Rows::A, t, s)) dM_ab(t, s) = dM_ak(t, s) = 0;
            }
          // r and a: through S_0's terms (R~ S_0^T in Y, A~ S_0^T in sa) and the pair matrices' rows;
          // b and k: through S_L's terms and the pair matrices' columns.
          Mat dR0, dA0, dBL, dKL;
          gemm(dYs, Tr::No, S0_op, Tr::No, dR0);
          gemm(dX_op, Tr::No, S0_op, Tr::No, dA0);
          // The kernels fold S_L's terms into the b_inv / k_inv gradients: b exp(g_L - g_s) =
          // exp(g_L) * b exp(-g_s), and exp(g_L) scales dS's columns (the decayed dS they form
          // anyway for the next chunk).
          const Mat dS_decayed_op = operand(scale_columns(dSs, ck.decay_all), emu);
          gemm(SA_op, Tr::No, emu ? dS_decayed_op : dS_op, Tr::No, dBL);
          gemm(Vs, Tr::No, emu ? dS_decayed_op : dS_op, Tr::No, dKL);
          const Mat pr_b = pair_to_rows(ck, Rows::R, dM_rb, in.b, ck.b_inv), pr_k = pair_to_rows(ck, Rows::R, dM_rk, in.k, ck.k_inv);
          const Mat pa_b = pair_to_rows(ck, Rows::A, dM_ab, in.b, ck.b_inv), pa_k = pair_to_rows(ck, Rows::A, dM_ak, in.k, ck.k_inv);
          const Mat cb_r = pair_to_cols(ck, Rows::R, dM_rb, in.r), cb_a = pair_to_cols(ck, Rows::A, dM_ab, in.a);
          const Mat ck_r = pair_to_cols(ck, Rows::R, dM_rk, in.r), ck_a = pair_to_cols(ck, Rows::A, dM_ak, in.a);
          for (int t = 0; t < len; ++t)
            for (int j = 0; j < N; ++j) {
              // exp(g_L - g_t), of which exp(g_L) is already in dBL / dKL when emulating
              const float end_scale = emu ? std::exp(-ck.g(t, j)) : std::exp(ck.g(len - 1, j) - ck.g(t, j));
              gr(t, j) += dR0(t, j) * std::exp(ck.g(t, j)) + pr_b(t, j) + pr_k(t, j);
              ga(t, j) += dA0(t, j) * std::exp(ck.g_before(t, j)) + pa_b(t, j) + pa_k(t, j);
              gb(t, j) += dBL(t, j) * end_scale + cb_r(t, j) + cb_a(t, j);
              gk(t, j) += dKL(t, j) * end_scale + ck_r(t, j) + ck_a(t, j);
            }
          for (int j = 0; j < N; ++j) {
            float part = 0;
            for (int i = 0; i < R; ++i) part += dSs(i, j) * SLs(i, j);
            boundary[j] += part;
          }
          add_value_cols(dV, dv, lay, bb, t0, h, i0);
          // The gradient of the chunk's starting state: dS_L diag(decay_all) + dX^T A~ + dY^T R~.
          Mat dS_prev = scale_columns(dSs, ck.decay_all);
          gemm(dX_op, Tr::Yes, ck.a_dec, Tr::No, dS_prev, true);
          gemm(dYs, Tr::Yes, ck.r_dec, Tr::No, dS_prev, true);
          std::copy(dS_prev.v.begin(), dS_prev.v.end(), dS_next.v.begin() + size_t(i0) * N);
        }
        // The decay, by the identity at the top of this file.
        for (int j = 0; j < N; ++j) {
          float acc = boundary[j];
          for (int t = len - 1; t >= 0; --t) {
            acc += in.r(t, j) * gr(t, j) - in.b(t, j) * gb(t, j) - in.k(t, j) * gk(t, j);
            gw(t, j) = acc * ck.lam(t, j);  // d w_raw = d log w * log w, as log w = -exp(w_raw)
            acc += in.a(t, j) * ga(t, j);
          }
        }
        add_rows(gr, dr, lay, bb, t0, h);
        add_rows(ga, da, lay, bb, t0, h);
        add_rows(gb, db, lay, bb, t0, h);
        add_rows(gk, dk, lay, bb, t0, h);
        add_rows(gw, dw, lay, bb, t0, h);
        dS = std::move(dS_next);
      }
      if (ds0) std::copy(dS.v.begin(), dS.v.end(), ds0_parts.begin() + (int64_t(bb) * H + h) * NN);
    }
  if (ds0)
    for (int bb = 0; bb < B; ++bb)
      for (int64_t e = 0; e < int64_t(H) * NN; ++e) ds0[e] += ds0_parts[int64_t(bb) * H * NN + e];
}

void wkv7_chunked_final_state(const float* chunk_states, int B, int T, int H, int N, int chunk_len,
                              float* state) {
  const int chunks = wkv7_chunk_count(T, chunk_len);
  const int64_t NN = int64_t(N) * N;
  for (int64_t bh = 0; bh < int64_t(B) * H; ++bh)
    std::copy_n(chunk_states + (bh * chunks + chunks - 1) * NN, NN, state + bh * NN);
}

}  // namespace rwkv::ops
