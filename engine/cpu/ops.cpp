// Reference implementations of the x070 ops (see ops.h for the math and conventions).
#include "cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace rwkv::ops {

// Threads only pay off above some work: on small shapes (tests, tiny models on a busy 2-core
// machine) OpenMP's fork/join costs more than the loop.
static inline bool worth_threads(int64_t work) { return work >= (int64_t(1) << 18); }

// W is walked in blocks of rows that stay in cache while every input row meets them; with a
// large N (the head: vocab x C) streaming all of W once per token would be memory-bound.
static constexpr int kRowBlock = 64;

void linear_fwd(const float* x, const float* W, float* y, int M, int K, int N) {
  const int nblocks = (N + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
  for (int jb = 0; jb < nblocks; ++jb) {
    const int j0 = jb * kRowBlock, j1 = std::min(N, j0 + kRowBlock);
    for (int i = 0; i < M; ++i) {
      const float* xi = x + int64_t(i) * K;
      for (int j = j0; j < j1; ++j) {
        const float* wj = W + int64_t(j) * K;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int k = 0; k < K; ++k) s += xi[k] * wj[k];
        y[int64_t(i) * N + j] = s;
      }
    }
  }
}

void linear_bwd(const float* x, const float* W, const float* dy, float* dx, float* dW,
                int M, int K, int N) {
  if (dx) {
    const int row_chunk = 16;
    const int nchunks = (M + row_chunk - 1) / row_chunk;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
    for (int ic = 0; ic < nchunks; ++ic) {
      const int i0 = ic * row_chunk, i1 = std::min(M, i0 + row_chunk);
      for (int j0 = 0; j0 < N; j0 += kRowBlock) {
        const int j1 = std::min(N, j0 + kRowBlock);
        for (int i = i0; i < i1; ++i) {
          float* dxi = dx + int64_t(i) * K;
          const float* dyi = dy + int64_t(i) * N;
          for (int j = j0; j < j1; ++j) {
            const float g = dyi[j];
            if (g == 0) continue;
            const float* wj = W + int64_t(j) * K;
#pragma omp simd
            for (int k = 0; k < K; ++k) dxi[k] += g * wj[k];
          }
        }
      }
    }
  }
  if (dW) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
    for (int j = 0; j < N; ++j) {
      float* dwj = dW + int64_t(j) * K;
      for (int i = 0; i < M; ++i) {
        const float g = dy[int64_t(i) * N + j];
        if (g == 0) continue;
        const float* xi = x + int64_t(i) * K;
#pragma omp simd
        for (int k = 0; k < K; ++k) dwj[k] += g * xi[k];
      }
    }
  }
}

void matmul_fwd(const float* x, const float* A, float* y, int M, int K, int N) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
  for (int i = 0; i < M; ++i) {
    float* yi = y + int64_t(i) * N;
    std::fill(yi, yi + N, 0.0f);
    const float* xi = x + int64_t(i) * K;
    for (int k = 0; k < K; ++k) {
      const float xv = xi[k];
      if (xv == 0) continue;
      const float* ak = A + int64_t(k) * N;
      for (int j = 0; j < N; ++j) yi[j] += xv * ak[j];
    }
  }
}

void matmul_bwd(const float* x, const float* A, const float* dy, float* dx, float* dA,
                int M, int K, int N) {
  if (dx) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
    for (int i = 0; i < M; ++i) {
      const float* dyi = dy + int64_t(i) * N;
      float* dxi = dx + int64_t(i) * K;
      for (int k = 0; k < K; ++k) {
        const float* ak = A + int64_t(k) * N;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < N; ++j) s += dyi[j] * ak[j];
        dxi[k] += s;
      }
    }
  }
  if (dA) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * K * N))
    for (int k = 0; k < K; ++k) {
      float* dak = dA + int64_t(k) * N;
      for (int i = 0; i < M; ++i) {
        const float xv = x[int64_t(i) * K + k];
        if (xv == 0) continue;
        const float* dyi = dy + int64_t(i) * N;
        for (int j = 0; j < N; ++j) dak[j] += xv * dyi[j];
      }
    }
  }
}

// Normalises `count` values of `x` (stride 1) and returns mean and 1/sqrt(var + eps).
static void norm_stats(const float* x, int count, float eps, float* mean, float* rstd) {
  double s = 0, s2 = 0;
  for (int c = 0; c < count; ++c) s += x[c];
  const double mu = s / count;
  for (int c = 0; c < count; ++c) { const double d = x[c] - mu; s2 += d * d; }
  *mean = float(mu);
  *rstd = float(1.0 / std::sqrt(s2 / count + eps));
}

// Backward of y = xhat * g + b over one normalised group; accumulates dx.
static void norm_group_bwd(const float* x, const float* g, float mean, float rstd,
                           const float* dy, float* dx, int count) {
  double sum_dxhat = 0, sum_dxhat_xhat = 0;
  for (int c = 0; c < count; ++c) {
    const double xhat = (x[c] - mean) * rstd;
    const double dxhat = double(dy[c]) * g[c];
    sum_dxhat += dxhat;
    sum_dxhat_xhat += dxhat * xhat;
  }
  const double inv = 1.0 / count;
  for (int c = 0; c < count; ++c) {
    const double xhat = (x[c] - mean) * rstd;
    const double dxhat = double(dy[c]) * g[c];
    dx[c] += float(rstd * (dxhat - inv * sum_dxhat - xhat * inv * sum_dxhat_xhat));
  }
}

void layernorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                   float* rstd, int M, int C, float eps) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * C))
  for (int i = 0; i < M; ++i) {
    const float* xi = x + int64_t(i) * C;
    norm_stats(xi, C, eps, &mean[i], &rstd[i]);
    for (int c = 0; c < C; ++c) y[int64_t(i) * C + c] = (xi[c] - mean[i]) * rstd[i] * g[c] + b[c];
  }
}

void layernorm_bwd(const float* x, const float* g, const float* mean, const float* rstd,
                   const float* dy, float* dx, float* dg, float* db, int M, int C) {
  if (dx) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * C))
    for (int i = 0; i < M; ++i)
      norm_group_bwd(x + int64_t(i) * C, g, mean[i], rstd[i], dy + int64_t(i) * C,
                     dx + int64_t(i) * C, C);
  }
  if (dg || db) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * C))
    for (int c = 0; c < C; ++c) {
      double sg = 0, sb = 0;
      for (int i = 0; i < M; ++i) {
        const double d = dy[int64_t(i) * C + c];
        sg += d * (x[int64_t(i) * C + c] - mean[i]) * rstd[i];
        sb += d;
      }
      if (dg) dg[c] += float(sg);
      if (db) db[c] += float(sb);
    }
  }
}

void groupnorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                   float* rstd, int M, int H, int N, float eps) {
  const int C = H * N;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * H * N))
  for (int i = 0; i < M; ++i) {
    for (int h = 0; h < H; ++h) {
      const int64_t off = int64_t(i) * C + h * N;
      const int64_t s = int64_t(i) * H + h;
      norm_stats(x + off, N, eps, &mean[s], &rstd[s]);
      for (int n = 0; n < N; ++n)
        y[off + n] = (x[off + n] - mean[s]) * rstd[s] * g[h * N + n] + b[h * N + n];
    }
  }
}

void groupnorm_bwd(const float* x, const float* g, const float* mean, const float* rstd,
                   const float* dy, float* dx, float* dg, float* db, int M, int H, int N) {
  const int C = H * N;
  if (dx) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * H * N))
    for (int i = 0; i < M; ++i)
      for (int h = 0; h < H; ++h) {
        const int64_t off = int64_t(i) * C + h * N;
        norm_group_bwd(x + off, g + h * N, mean[int64_t(i) * H + h], rstd[int64_t(i) * H + h],
                       dy + off, dx + off, N);
      }
  }
  if (dg || db) {
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * H * N))
    for (int c = 0; c < C; ++c) {
      const int h = c / N;
      double sg = 0, sb = 0;
      for (int i = 0; i < M; ++i) {
        const double d = dy[int64_t(i) * C + c];
        const int64_t s = int64_t(i) * H + h;
        sg += d * (x[int64_t(i) * C + c] - mean[s]) * rstd[s];
        sb += d;
      }
      if (dg) dg[c] += float(sg);
      if (db) db[c] += float(sb);
    }
  }
}

void token_shift_fwd(const float* x, float* xx, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const float* cur = x + (int64_t(b) * T + t) * C;
      float* out = xx + (int64_t(b) * T + t) * C;
      for (int c = 0; c < C; ++c) out[c] = (t > 0 ? cur[c - C] : 0.0f) - cur[c];
    }
}

void token_shift_bwd(const float* dxx, float* dx, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const int64_t row = (int64_t(b) * T + t) * C;
      for (int c = 0; c < C; ++c) {
        float g = -dxx[row + c];
        if (t + 1 < T) g += dxx[row + C + c];
        dx[row + c] += g;
      }
    }
}

void mix_fwd(const float* x, const float* xx, const float* mu, float* out, int M, int C) {
  for (int64_t i = 0; i < int64_t(M) * C; ++i) out[i] = x[i] + xx[i] * mu[i % C];
}

void mix_bwd(const float* xx, const float* mu, const float* dout, float* dx, float* dxx,
             float* dmu, int M, int C) {
  for (int i = 0; i < M; ++i)
    for (int c = 0; c < C; ++c) {
      const int64_t j = int64_t(i) * C + c;
      if (dx) dx[j] += dout[j];
      if (dxx) dxx[j] += dout[j] * mu[c];
      if (dmu) dmu[c] += dout[j] * xx[j];
    }
}

void tanh_fwd(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void tanh_bwd(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void sigmoid_fwd(const float* x, const float* bias, float* y, int M, int C) {
  for (int64_t i = 0; i < int64_t(M) * C; ++i) {
    const float z = x[i] + (bias ? bias[i % C] : 0.0f);
    y[i] = 1.0f / (1.0f + std::exp(-z));
  }
}
void sigmoid_bwd(const float* y, const float* dy, float* dx, float* dbias, int M, int C) {
  for (int64_t i = 0; i < int64_t(M) * C; ++i) {
    const float d = dy[i] * y[i] * (1.0f - y[i]);
    if (dx) dx[i] += d;
    if (dbias) dbias[i % C] += d;
  }
}

void relu_sq_fwd(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) { const float r = x[i] > 0 ? x[i] : 0.0f; y[i] = r * r; }
}
void relu_sq_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) if (x[i] > 0) dx[i] += dy[i] * 2.0f * x[i];
}

// softplus(u) = log(1 + e^u), computed without overflow.
static inline float softplus(float u) { return u > 20 ? u : std::log1p(std::exp(u)); }

void decay_fwd(const float* z, const float* w0, float* w, int M, int C) {
  for (int64_t i = 0; i < int64_t(M) * C; ++i) w[i] = -softplus(-(w0[i % C] + z[i])) - 0.5f;
}
void decay_bwd(const float* z, const float* w0, const float* dw, float* dz, float* dw0, int M, int C) {
  for (int64_t i = 0; i < int64_t(M) * C; ++i) {
    // d/du [-softplus(-u)] = sigmoid(-u)
    const float u = w0[i % C] + z[i];
    const float d = dw[i] / (1.0f + std::exp(u));
    if (dz) dz[i] += d;
    if (dw0) dw0[i % C] += d;
  }
}

void l2norm_heads_fwd(const float* x, float* y, float* norm, int M, int H, int N) {
  for (int64_t s = 0; s < int64_t(M) * H; ++s) {
    const float* xs = x + s * N;
    double ss = 0;
    for (int n = 0; n < N; ++n) ss += double(xs[n]) * xs[n];
    const float nrm = float(std::sqrt(ss));
    norm[s] = nrm;
    const float den = std::max(nrm, 1e-12f);
    for (int n = 0; n < N; ++n) y[s * N + n] = xs[n] / den;
  }
}
void l2norm_heads_bwd(const float* y, const float* norm, const float* dy, float* dx,
                      int M, int H, int N) {
  for (int64_t s = 0; s < int64_t(M) * H; ++s) {
    const float* ys = y + s * N;
    const float* ds = dy + s * N;
    if (norm[s] <= 1e-12f) {  // below the clamp the divisor is a constant
      for (int n = 0; n < N; ++n) dx[s * N + n] += ds[n] / 1e-12f;
      continue;
    }
    double dot = 0;
    for (int n = 0; n < N; ++n) dot += double(ys[n]) * ds[n];
    for (int n = 0; n < N; ++n) dx[s * N + n] += float((ds[n] - ys[n] * dot) / norm[s]);
  }
}

void wkv7_fwd(const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, const float* s0, float* y, float* states, int B, int T, int H, int N,
              int64_t s0_batch_stride) {
  const int C = H * N;
  const int64_t NN = int64_t(N) * N;
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      std::vector<float> S(NN, 0.0f), decay(N), sa(N);
      if (s0) {
        const float* init = s0 + bb * s0_batch_stride + h * NN;
        std::copy(init, init + NN, S.begin());
      }
      for (int t = 0; t < T; ++t) {
        const int64_t off = (int64_t(bb) * T + t) * C + h * N;
        for (int j = 0; j < N; ++j) decay[j] = std::exp(-std::exp(w[off + j]));
        for (int i = 0; i < N; ++i) {
          float s = 0;
          for (int j = 0; j < N; ++j) s += S[i * N + j] * a[off + j];
          sa[i] = s;
        }
        for (int i = 0; i < N; ++i) {
          float* Si = &S[i * N];
          const float vi = v[off + i];
          float yi = 0;
          for (int j = 0; j < N; ++j) {
            Si[j] = Si[j] * decay[j] + sa[i] * b[off + j] + vi * k[off + j];
            yi += Si[j] * r[off + j];
          }
          y[off + i] = yi;
        }
        float* saved = states + ((int64_t(bb) * T + t) * H + h) * NN;
        std::copy(S.begin(), S.end(), saved);
      }
    }
}

void wkv7_bwd(const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, const float* s0, const float* states, const float* dy,
              float* dr, float* dw, float* dk, float* dv, float* da, float* db, float* ds0,
              int B, int T, int H, int N, int64_t s0_batch_stride) {
  const int C = H * N;
  const int64_t NN = int64_t(N) * N;
  if (ds0 && s0_batch_stride) throw std::logic_error("wkv7_bwd: a per-sequence initial state gets no gradient");
  std::vector<float> ds0_parts(ds0 ? size_t(B) * H * NN : 0, 0.0f);
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      std::vector<float> dS(NN, 0.0f), zeros(NN, 0.0f), decay(N), sa(N), dsa(N);
      for (int t = T - 1; t >= 0; --t) {
        const int64_t off = (int64_t(bb) * T + t) * C + h * N;
        const float* S = states + ((int64_t(bb) * T + t) * H + h) * NN;
        const float* Sp = t > 0 ? states + ((int64_t(bb) * T + t - 1) * H + h) * NN
                                : (s0 ? s0 + bb * s0_batch_stride + h * NN : zeros.data());
        for (int j = 0; j < N; ++j) decay[j] = std::exp(-std::exp(w[off + j]));
        // y_t = S_t r_t
        for (int i = 0; i < N; ++i)
          for (int j = 0; j < N; ++j) dS[i * N + j] += dy[off + i] * r[off + j];
        for (int j = 0; j < N; ++j) {
          float s = 0;
          for (int i = 0; i < N; ++i) s += S[i * N + j] * dy[off + i];
          dr[off + j] += s;
        }
        // S_t = S_{t-1} diag(decay) + sa b^T + v k^T, sa = S_{t-1} a
        for (int i = 0; i < N; ++i) {
          float s = 0, dsum = 0, dvi = 0;
          for (int j = 0; j < N; ++j) {
            s += Sp[i * N + j] * a[off + j];
            dsum += dS[i * N + j] * b[off + j];
            dvi += dS[i * N + j] * k[off + j];
          }
          sa[i] = s;
          dsa[i] = dsum;
          dv[off + i] += dvi;
        }
        for (int j = 0; j < N; ++j) {
          float dkj = 0, dbj = 0, ddecay = 0, daj = 0;
          for (int i = 0; i < N; ++i) {
            const float g = dS[i * N + j];
            dkj += g * v[off + i];
            dbj += g * sa[i];
            ddecay += g * Sp[i * N + j];
            daj += dsa[i] * Sp[i * N + j];
          }
          dk[off + j] += dkj;
          db[off + j] += dbj;
          da[off + j] += daj;
          // decay = exp(-exp(w)): d decay/dw = -exp(w) * decay
          dw[off + j] += ddecay * decay[j] * -std::exp(w[off + j]);
        }
        // dS_{t-1} = dS_t diag(decay) + dsa a^T
        for (int i = 0; i < N; ++i)
          for (int j = 0; j < N; ++j)
            dS[i * N + j] = dS[i * N + j] * decay[j] + dsa[i] * a[off + j];
      }
      if (ds0) std::copy(dS.begin(), dS.end(), ds0_parts.begin() + (int64_t(bb) * H + h) * NN);
    }
  if (ds0)
    for (int bb = 0; bb < B; ++bb)
      for (int64_t e = 0; e < int64_t(H) * NN; ++e) ds0[e] += ds0_parts[int64_t(bb) * H * NN + e];
}

double cross_entropy_fwd(const float* logits, const int32_t* targets, const float* mask,
                         int M, int V, int64_t* counted) {
  double total = 0;
  int64_t n = 0;
  for (int i = 0; i < M; ++i) {
    if (mask && mask[i] == 0) continue;
    const float* row = logits + int64_t(i) * V;
    const float mx = *std::max_element(row, row + V);
    double se = 0;
    for (int j = 0; j < V; ++j) se += std::exp(double(row[j]) - mx);
    total += std::log(se) + mx - row[targets[i]];
    ++n;
  }
  if (counted) *counted = n;
  return n ? total / n : 0.0;
}

double cross_entropy_fwd_bwd(const float* logits, const int32_t* targets, const float* mask,
                             float* dlogits, float loss_scale, int M, int V, int64_t* counted,
                             int64_t l2wrap_rows) {
  int64_t n = 0;
  for (int i = 0; i < M; ++i) if (!mask || mask[i] != 0) ++n;
  if (counted) *counted = n;
  // Per-row losses summed in a fixed order afterwards: the reported loss is bit-identical
  // whatever the thread count (the resume test compares losses exactly).
  std::vector<double> row_loss(size_t(M), 0.0);
  const double l2wrap = 1e-4 / double(l2wrap_rows > 0 ? l2wrap_rows : M);
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * V))
  for (int i = 0; i < M; ++i) {
    const float* row = logits + int64_t(i) * V;
    float* drow = dlogits + int64_t(i) * V;
    const int arg = int(std::max_element(row, row + V) - row);
    const float mx = row[arg];
    const bool counts = !mask || mask[i] != 0;
    if (counts && n > 0) {
      double se = 0;
      for (int j = 0; j < V; ++j) se += std::exp(double(row[j]) - mx);
      row_loss[i] = std::log(se) + mx - row[targets[i]];
      const double inv = 1.0 / (se * n);
      for (int j = 0; j < V; ++j) drow[j] = float(loss_scale * std::exp(double(row[j]) - mx) * inv);
      drow[targets[i]] -= float(loss_scale / double(n));
    } else {
      std::fill(drow, drow + V, 0.0f);
    }
    drow[arg] += float(l2wrap * mx);  // not scaled: see ops.h
  }
  double total = 0;
  for (double l : row_loss) total += l;
  return n ? total / n : 0.0;
}

void adamw_step(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                float beta2, float eps, float weight_decay, int64_t step) {
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  const float step_size = float(lr / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  for (int64_t i = 0; i < n; ++i) {
    if (weight_decay != 0) p[i] -= lr * weight_decay * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

}  // namespace rwkv::ops
