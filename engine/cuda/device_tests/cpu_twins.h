// CPU twins of the CUDA kernels, in double precision on the same bf16-rounded inputs, written
// from the math (not from the kernels) so that the device test compares two independent
// derivations. Used only by kernel_check.cu on the GPU machine.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace twin {
using V = std::vector<double>;

// WKV7 forward and backward by plain back-propagation through time, storing every state.
// Layout [B, T, H, N]; state S[i][j] with i the value index, j the key index.
// s0 (optional, [H,N,N]): the initial state shared by the batch; then ds0 gets its gradient
// summed over the batch and s_final ([B,H,N,N]) the state after the last step.
inline void wkv7(int B, int T, int H, int N, const V& r, const V& w, const V& k, const V& v,
                 const V& a, const V& b, const V& dy, V& y, V& dr, V& dw, V& dk, V& dv, V& da, V& db,
                 const V* s0 = nullptr, V* ds0 = nullptr, V* s_final = nullptr) {
  const size_t n = (size_t)B * T * H * N;
  y.assign(n, 0); dr.assign(n, 0); dw.assign(n, 0); dk.assign(n, 0); dv.assign(n, 0); da.assign(n, 0); db.assign(n, 0);
  if (ds0) ds0->assign((size_t)H * N * N, 0);
  if (s_final) s_final->assign((size_t)B * H * N * N, 0);
  for (int bb = 0; bb < B; bb++)
    for (int hh = 0; hh < H; hh++) {
      auto at = [&](int t, int i) { return (((size_t)bb * T + t) * H + hh) * N + i; };
      std::vector<V> S(T + 1, V(N * N, 0.0));  // S[t+1] = state after step t
      if (s0) std::copy(s0->begin() + (size_t)hh * N * N, s0->begin() + (size_t)(hh + 1) * N * N, S[0].begin());
      std::vector<V> SA(T, V(N, 0.0));
      for (int t = 0; t < T; t++) {
        const V& P = S[t];
        V& Q = S[t + 1];
        for (int i = 0; i < N; i++) {
          double sa = 0;
          for (int j = 0; j < N; j++) sa += P[i * N + j] * a[at(t, j)];
          SA[t][i] = sa;
          double yy = 0;
          for (int j = 0; j < N; j++) {
            double decay = std::exp(-std::exp(w[at(t, j)]));
            Q[i * N + j] = P[i * N + j] * decay + sa * b[at(t, j)] + v[at(t, i)] * k[at(t, j)];
            yy += Q[i * N + j] * r[at(t, j)];
          }
          y[at(t, i)] = yy;
        }
      }
      V dS(N * N, 0.0);
      for (int t = T - 1; t >= 0; t--) {
        const V& P = S[t];
        const V& Q = S[t + 1];
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) {
            dS[i * N + j] += dy[at(t, i)] * r[at(t, j)];
            dr[at(t, j)] += Q[i * N + j] * dy[at(t, i)];
          }
        V dsa(N, 0.0);
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) {
            const double g = dS[i * N + j];
            const double decay = std::exp(-std::exp(w[at(t, j)]));
            dv[at(t, i)] += g * k[at(t, j)];
            dk[at(t, j)] += g * v[at(t, i)];
            db[at(t, j)] += g * SA[t][i];
            dsa[i] += g * b[at(t, j)];
            // d decay / d w_raw = decay * (-exp(w_raw))
            dw[at(t, j)] += g * P[i * N + j] * decay * -std::exp(w[at(t, j)]);
          }
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) da[at(t, j)] += dsa[i] * P[i * N + j];
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++)
            dS[i * N + j] = dS[i * N + j] * std::exp(-std::exp(w[at(t, j)])) + dsa[i] * a[at(t, j)];
      }
      if (ds0)
        for (int e = 0; e < N * N; e++) (*ds0)[(size_t)hh * N * N + e] += dS[e];
      if (s_final)
        std::copy(S[T].begin(), S[T].end(), s_final->begin() + ((size_t)bb * H + hh) * N * N);
    }
}

// WKV6 (RWKV-6) forward and backward by plain back-propagation through time, storing every
// state. Layout [B, T, H, N]; S[i][j] with i the value index, j the key index; u [H, N].
//   y_t[i] = sum_j r_t[j] (u[j] k_t[j] v_t[i] + S_{t-1}[i][j]);  S_t[i][j] = S_{t-1}[i][j] e^{-e^{w_t[j]}} + k_t[j] v_t[i]
// s0 (optional): [H,N,N] shared by the batch (s0_stride 0) or [B,H,N,N] per sequence (s0_stride
// H*N*N); ds0 (shared s0 only) its gradient summed over the batch; s_final ([B,H,N,N]) the state
// after the last step; du summed over the batch.
inline void wkv6(int B, int T, int H, int N, const V& r, const V& w, const V& k, const V& v, const V& u,
                 const V& dy, V& y, V& dr, V& dw, V& dk, V& dv, V& du, const V* s0 = nullptr,
                 size_t s0_stride = 0, V* ds0 = nullptr, V* s_final = nullptr) {
  const size_t n = (size_t)B * T * H * N;
  y.assign(n, 0); dr.assign(n, 0); dw.assign(n, 0); dk.assign(n, 0); dv.assign(n, 0);
  du.assign((size_t)H * N, 0);
  if (ds0) ds0->assign((size_t)H * N * N, 0);
  if (s_final) s_final->assign((size_t)B * H * N * N, 0);
  for (int bb = 0; bb < B; bb++)
    for (int hh = 0; hh < H; hh++) {
      auto at = [&](int t, int i) { return (((size_t)bb * T + t) * H + hh) * N + i; };
      auto decay = [&](int t, int j) { return std::exp(-std::exp(w[at(t, j)])); };
      std::vector<V> S(T + 1, V(N * N, 0.0));  // S[t+1] = state after step t
      if (s0) std::copy(s0->begin() + bb * s0_stride + (size_t)hh * N * N,
                        s0->begin() + bb * s0_stride + (size_t)(hh + 1) * N * N, S[0].begin());
      for (int t = 0; t < T; t++)
        for (int i = 0; i < N; i++) {
          double yy = 0;
          for (int j = 0; j < N; j++) {
            yy += r[at(t, j)] * (u[hh * N + j] * k[at(t, j)] * v[at(t, i)] + S[t][i * N + j]);
            S[t + 1][i * N + j] = S[t][i * N + j] * decay(t, j) + k[at(t, j)] * v[at(t, i)];
          }
          y[at(t, i)] = yy;
        }
      V G(N * N, 0.0);  // dL/dS_t on entering step t
      for (int t = T - 1; t >= 0; t--) {
        const V& P = S[t];
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) {
            const double g = dy[at(t, i)];
            const double uk = u[hh * N + j] * k[at(t, j)];
            // through y_t
            dr[at(t, j)] += g * (uk * v[at(t, i)] + P[i * N + j]);
            dk[at(t, j)] += g * r[at(t, j)] * u[hh * N + j] * v[at(t, i)];
            dv[at(t, i)] += g * r[at(t, j)] * uk;
            du[hh * N + j] += g * r[at(t, j)] * k[at(t, j)] * v[at(t, i)];
            // through S_t
            const double gs = G[i * N + j];
            dk[at(t, j)] += gs * v[at(t, i)];
            dv[at(t, i)] += gs * k[at(t, j)];
            dw[at(t, j)] += gs * P[i * N + j] * decay(t, j) * -std::exp(w[at(t, j)]);
          }
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) G[i * N + j] = G[i * N + j] * decay(t, j) + dy[at(t, i)] * r[at(t, j)];
      }
      if (ds0)
        for (int e = 0; e < N * N; e++) (*ds0)[(size_t)hh * N * N + e] += G[e];
      if (s_final) std::copy(S[T].begin(), S[T].end(), s_final->begin() + ((size_t)bb * H + hh) * N * N);
    }
}

// x060's data-dependent lerp, last step: out_j = x + xx (mu_j + m_j), xx = x[t-1] - x (x[-1] =
// carried row or 0), for 5 mixes; m/out/dout [5, B*T*C]; mu/dmu [5, C]. Backward per element by
// the chain rule: dx[t] gets dout_j (1 - mix_j) and dx[t-1] gets dout_j mix_j; dm_j = dout_j xx.
inline void ddlerp_combine(int B, int T, int C, const V& x, const V& mu, const V& m, const V& dout, V& out,
                           V& dx, V& dm, V& dmu, const V* carried = nullptr) {
  const int K = 5;
  const size_t n = (size_t)B * T * C;
  out.assign(K * n, 0); dx.assign(n, 0); dm.assign(K * n, 0); dmu.assign((size_t)K * C, 0);
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t < T; t++)
      for (int c = 0; c < C; c++) {
        const size_t i = ((size_t)bb * T + t) * C + c;
        const double prev = t > 0 ? x[i - C] : carried ? (*carried)[(size_t)bb * C + c] : 0.0;
        const double xx = prev - x[i];
        for (int j = 0; j < K; j++) {
          const double mix = mu[j * C + c] + m[j * n + i], g = dout[j * n + i];
          out[j * n + i] = x[i] + xx * mix;
          dx[i] += g * (1 - mix);
          if (t > 0) dx[i - C] += g * mix;
          dm[j * n + i] = g * xx;
          dmu[j * C + c] += g * xx;
        }
      }
}

// MiSS's fold of x [M, in] into r buckets (i % r) and the backward's spread of dxs [M, r].
inline void miss_fold(int M, int in, int r, const V& x, V& xs) {
  xs.assign((size_t)M * r, 0);
  for (int m = 0; m < M; m++)
    for (int i = 0; i < in; i++) xs[(size_t)m * r + i % r] += x[(size_t)m * in + i];
}
inline void miss_unfold_add(int M, int in, int r, const V& dxs, V& dx) {
  for (int m = 0; m < M; m++)
    for (int i = 0; i < in; i++) dx[(size_t)m * in + i] += dxs[(size_t)m * r + i % r];
}

// Norm over groups of `group` values; weight/bias indexed by position within the row of C.
inline void norm(int rows, int C, int group, double eps, const V& x, const V& wt, const V& bs,
                 const V& dy, V& y, V& dx, V& dwt, V& dbs) {
  const size_t n = (size_t)rows * C;
  y.assign(n, 0); dx.assign(n, 0); dwt.assign(C, 0); dbs.assign(C, 0);
  for (size_t g0 = 0; g0 < n; g0 += group) {
    double mean = 0, var = 0;
    for (int c = 0; c < group; c++) mean += x[g0 + c];
    mean /= group;
    for (int c = 0; c < group; c++) var += (x[g0 + c] - mean) * (x[g0 + c] - mean);
    var /= group;
    const double rstd = 1.0 / std::sqrt(var + eps);
    double sg = 0, sgx = 0;
    for (int c = 0; c < group; c++) {
      const int col = (int)((g0 + c) % C);
      const double xh = (x[g0 + c] - mean) * rstd;
      y[g0 + c] = xh * wt[col] + bs[col];
      const double gv = dy[g0 + c] * wt[col];
      sg += gv; sgx += gv * xh;
      dwt[col] += dy[g0 + c] * xh;
      dbs[col] += dy[g0 + c];
    }
    sg /= group; sgx /= group;
    for (int c = 0; c < group; c++) {
      const int col = (int)((g0 + c) % C);
      const double xh = (x[g0 + c] - mean) * rstd;
      dx[g0 + c] = rstd * (dy[g0 + c] * wt[col] - sg - xh * sgx);
    }
  }
}

// out_k[b,t,c] = x + (x[t-1] - x) * mu[k][c]; backward by the chain rule written per element.
// prev (optional, [B,C]): x[-1] of each sequence (infctx's carried value; no gradient).
inline void shift_lerp(int B, int T, int C, int K, const V& x, const V& mu, const V& dout, V& out,
                       V& dx, V& dmu, const V* carried = nullptr) {
  const size_t n = (size_t)B * T * C;
  out.assign(K * n, 0); dx.assign(n, 0); dmu.assign((size_t)K * C, 0);
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t < T; t++)
      for (int c = 0; c < C; c++) {
        const size_t i = ((size_t)bb * T + t) * C + c;
        const double prev = t > 0 ? x[i - C] : carried ? (*carried)[(size_t)bb * C + c] : 0.0;
        for (int k = 0; k < K; k++) {
          const double m = mu[k * C + c], g = dout[k * n + i];
          out[k * n + i] = x[i] + (prev - x[i]) * m;
          dx[i] += g * (1 - m);
          if (t > 0) dx[i - C] += g * m;
          dmu[k * C + c] += g * (prev - x[i]);
        }
      }
}

// Activations: 0 tanh, 1 sigmoid(bias+x), 2 -softplus(-(bias+x))-0.5, 3 relu^2, 4 bias+x,
// 5 silu(x) = x sigmoid(x).
inline double act(int kind, double x, double bias) {
  switch (kind) {
    case 0: return std::tanh(x);
    case 1: return 1 / (1 + std::exp(-(x + bias)));
    case 2: return -std::log1p(std::exp(-(x + bias))) - 0.5;
    case 3: return x > 0 ? x * x : 0;
    case 5: return x / (1 + std::exp(-x));
    default: return x + bias;
  }
}
// Derivative by central differences in double: independent of the kernels' closed forms.
inline double act_grad(int kind, double x, double bias) {
  const double h = 1e-5;
  return (act(kind, x + h, bias) - act(kind, x - h, bias)) / (2 * h);
}

// Mean-free cross-entropy: per-row loss and gradient (softmax - onehot) * scale.
inline double cross_entropy(int rows, int Vn, const V& logits, const std::vector<int32_t>& tgt,
                            double scale, V& grad) {
  grad.assign((size_t)rows * Vn, 0);
  double loss = 0;
  for (int r = 0; r < rows; r++) {
    if (tgt[r] < 0) continue;
    const double* x = &logits[(size_t)r * Vn];
    double m = -1e300;
    for (int c = 0; c < Vn; c++) m = std::fmax(m, x[c]);
    double s = 0;
    for (int c = 0; c < Vn; c++) s += std::exp(x[c] - m);
    loss += m + std::log(s) - x[tgt[r]];
    for (int c = 0; c < Vn; c++)
      grad[(size_t)r * Vn + c] = (std::exp(x[c] - m) / s - (c == tgt[r] ? 1 : 0)) * scale;
  }
  return loss;
}

// torch.optim.AdamW's step.
inline void adamw(V& p, const V& g, V& m, V& v, double lr, double b1, double b2, double eps,
                  double wd, int step) {
  for (size_t i = 0; i < p.size(); i++) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] *= 1 - lr * wd;
    p[i] -= lr * (m[i] / (1 - std::pow(b1, step))) / (std::sqrt(v[i] / (1 - std::pow(b2, step))) + eps);
  }
}

// Row-major C = op(A) op(B).
inline void gemm(bool ta, bool tb, int M, int N, int K, const V& A, const V& Bm, V& Cm) {
  Cm.assign((size_t)M * N, 0);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int kk = 0; kk < K; kk++)
        s += (ta ? A[(size_t)kk * M + i] : A[(size_t)i * K + kk]) *
             (tb ? Bm[(size_t)j * K + kk] : Bm[(size_t)kk * N + j]);
      Cm[(size_t)i * N + j] = s;
    }
}
}  // namespace twin
