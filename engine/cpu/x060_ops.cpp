// Reference implementations of the x060 ops (see x060_ops.h for the math and conventions).
#include "cpu/x060_ops.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "cpu/ops.h"

namespace rwkv::ops {

// Threads only pay off above some work (as in ops.cpp): tiny test shapes run serially.
static inline bool worth_threads(int64_t work) { return work >= (int64_t(1) << 18); }

void ddlerp_fwd(const float* x, const float* xx, const float* maa_x, const float* maa_w1, const float* maa_w2,
                const float* const mu[kX060Mixes], float* const out[kX060Mixes], float* xxx, float* h, float* m,
                int M, int C, int D) {
  const int64_t MC = int64_t(M) * C, D5 = int64_t(kX060Mixes) * D;
  mix_fwd(x, xx, maa_x, xxx, M, C);
  matmul_fwd(xxx, maa_w1, h, M, C, int(D5));
  tanh_fwd(h, h, M * D5);
  for (int j = 0; j < kX060Mixes; ++j) {
    const float* w2 = maa_w2 + int64_t(j) * D * C;
    float* mj = m + j * MC;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * D * C))
    for (int i = 0; i < M; ++i) {
      float* row = mj + int64_t(i) * C;
      for (int c = 0; c < C; ++c) row[c] = 0.0f;
      const float* hi = h + i * D5 + int64_t(j) * D;
      for (int d = 0; d < D; ++d) {
        const float hv = hi[d];
        const float* w2d = w2 + int64_t(d) * C;
        for (int c = 0; c < C; ++c) row[c] += hv * w2d[c];
      }
    }
    for (int64_t e = 0; e < MC; ++e) out[j][e] = x[e] + xx[e] * (mu[j][e % C] + mj[e]);
  }
}

void ddlerp_bwd(const float* xx, const float* maa_x, const float* maa_w1, const float* maa_w2,
                const float* const mu[kX060Mixes], const float* xxx, const float* h, const float* m,
                const float* const dout[kX060Mixes], float* dx, float* dxx, float* dmaa_x, float* dmaa_w1,
                float* dmaa_w2, float* const dmu[kX060Mixes], int M, int C, int D) {
  const int64_t MC = int64_t(M) * C, D5 = int64_t(kX060Mixes) * D;
  std::vector<float> dh(size_t(M * D5), 0.0f), dm(static_cast<size_t>(MC));
  for (int j = 0; j < kX060Mixes; ++j) {
    const float* dj = dout[j];
    const float* mj = m + j * MC;
    for (int64_t e = 0; e < MC; ++e) {
      const int c = int(e % C);
      if (dx) dx[e] += dj[e];
      if (dxx) dxx[e] += dj[e] * (mu[j][c] + mj[e]);
      if (dmu[j]) dmu[j][c] += dj[e] * xx[e];
      dm[size_t(e)] = dj[e] * xx[e];
    }
    // m_j = h_j @ w2[j]: dh_j = dm w2[j]^T, dw2[j] += h_j^T dm
    const float* w2 = maa_w2 + int64_t(j) * D * C;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * D * C))
    for (int i = 0; i < M; ++i) {
      const float* dmi = dm.data() + int64_t(i) * C;
      float* dhi = dh.data() + i * D5 + int64_t(j) * D;
      for (int d = 0; d < D; ++d) {
        const float* w2d = w2 + int64_t(d) * C;
        float s = 0;
        for (int c = 0; c < C; ++c) s += dmi[c] * w2d[c];
        dhi[d] += s;
      }
    }
    if (dmaa_w2) {
      float* dw2 = dmaa_w2 + int64_t(j) * D * C;
#pragma omp parallel for schedule(static) if (worth_threads(int64_t(M) * D * C))
      for (int d = 0; d < D; ++d) {
        float* dw2d = dw2 + int64_t(d) * C;
        for (int i = 0; i < M; ++i) {
          const float hv = h[i * D5 + int64_t(j) * D + d];
          const float* dmi = dm.data() + int64_t(i) * C;
          for (int c = 0; c < C; ++c) dw2d[c] += hv * dmi[c];
        }
      }
    }
  }
  // h = tanh(xxx @ w1)
  std::vector<float> dpre(dh.size(), 0.0f), dxxx(static_cast<size_t>(MC), 0.0f);
  tanh_bwd(h, dh.data(), dpre.data(), M * D5);
  matmul_bwd(xxx, maa_w1, dpre.data(), dxxx.data(), dmaa_w1, M, C, int(D5));
  // xxx = x + xx * maa_x
  mix_bwd(xx, maa_x, dxxx.data(), dx, dxx, dmaa_x, M, C);
}

void decay_lowrank_fwd(const float* xw, const float* time_decay, const float* decay_w1, const float* decay_w2,
                       float* t, float* w, int M, int C, int D) {
  matmul_fwd(xw, decay_w1, t, M, C, D);
  tanh_fwd(t, t, int64_t(M) * D);
  matmul_fwd(t, decay_w2, w, M, D, C);
  for (int64_t e = 0; e < int64_t(M) * C; ++e) w[e] += time_decay[e % C];
}

void decay_lowrank_bwd(const float* xw, const float* decay_w1, const float* decay_w2, const float* t, const float* dw,
                       float* dxw, float* dtime_decay, float* ddecay_w1, float* ddecay_w2, int M, int C, int D) {
  if (dtime_decay)
    for (int64_t e = 0; e < int64_t(M) * C; ++e) dtime_decay[e % C] += dw[e];
  std::vector<float> dt(size_t(M) * D, 0.0f), dpre(size_t(M) * D, 0.0f);
  matmul_bwd(t, decay_w2, dw, dt.data(), ddecay_w2, M, D, C);
  tanh_bwd(t, dt.data(), dpre.data(), int64_t(M) * D);
  matmul_bwd(xw, decay_w1, dpre.data(), dxw, ddecay_w1, M, C, D);
}

void silu_fwd(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void silu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-x[i]));
    dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));  // d/dx x s(x) = s + x s (1 - s)
  }
}

void wkv6_fwd(const float* r, const float* w, const float* k, const float* v, const float* u, const float* s0,
              float* y, float* states, int B, int T, int H, int N, int64_t s0_batch_stride) {
  const int C = H * N;
  const int64_t NN = int64_t(N) * N;
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      std::vector<float> S(static_cast<size_t>(NN), 0.0f), decay(static_cast<size_t>(N));
      if (s0) {
        const float* init = s0 + bb * s0_batch_stride + h * NN;
        std::copy(init, init + NN, S.begin());
      }
      const float* uh = u + int64_t(h) * N;
      for (int t = 0; t < T; ++t) {
        const int64_t off = (int64_t(bb) * T + t) * C + int64_t(h) * N;
        // the bonus term sum_j r_j u_j k_j is the same for every value row i
        float bonus = 0;
        for (int j = 0; j < N; ++j) {
          decay[j] = std::exp(-std::exp(w[off + j]));
          bonus += r[off + j] * uh[j] * k[off + j];
        }
        for (int i = 0; i < N; ++i) {
          float* Si = &S[size_t(i) * N];
          const float vi = v[off + i];
          float yi = bonus * vi;
          for (int j = 0; j < N; ++j) {
            yi += r[off + j] * Si[j];  // S_{t-1}: read before the update below
            Si[j] = Si[j] * decay[j] + k[off + j] * vi;
          }
          y[off + i] = yi;
        }
        std::copy(S.begin(), S.end(), states + ((int64_t(bb) * T + t) * H + h) * NN);
      }
    }
}

void wkv6_bwd(const float* r, const float* w, const float* k, const float* v, const float* u, const float* s0,
              const float* states, const float* dy, float* dr, float* dw, float* dk, float* dv, float* du,
              float* ds0, int B, int T, int H, int N, int64_t s0_batch_stride) {
  const int C = H * N;
  const int64_t NN = int64_t(N) * N;
  if (ds0 && s0_batch_stride) throw std::logic_error("wkv6_bwd: a per-sequence initial state gets no gradient");
  // per (batch, head) partial sums of the batch-shared gradients, added up after the loop
  std::vector<float> du_parts(du ? size_t(B) * H * N : 0, 0.0f), ds0_parts(ds0 ? size_t(B) * H * NN : 0, 0.0f);
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(int64_t(B) * T * H * N * N))
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      // dS holds dL/dS_t on entering step t (from y_{t+1} and S_{t+1}); leaves as dL/dS_{t-1}
      std::vector<float> dS(static_cast<size_t>(NN), 0.0f), zeros(static_cast<size_t>(NN), 0.0f), decay(static_cast<size_t>(N));
      const float* uh = u + int64_t(h) * N;
      float* du_bh = du ? du_parts.data() + (int64_t(bb) * H + h) * N : nullptr;
      for (int t = T - 1; t >= 0; --t) {
        const int64_t off = (int64_t(bb) * T + t) * C + int64_t(h) * N;
        const float* Sp = t > 0 ? states + ((int64_t(bb) * T + t - 1) * H + h) * NN
                                : (s0 ? s0 + bb * s0_batch_stride + int64_t(h) * NN : zeros.data());
        float dy_dot_v = 0, bonus = 0;
        for (int i = 0; i < N; ++i) dy_dot_v += dy[off + i] * v[off + i];
        for (int j = 0; j < N; ++j) {
          decay[j] = std::exp(-std::exp(w[off + j]));
          bonus += r[off + j] * uh[j] * k[off + j];
        }
        // y_t[i] = bonus * v_i + sum_j r_j Sp_ij
        for (int i = 0; i < N; ++i) dv[off + i] += dy[off + i] * bonus;
        for (int j = 0; j < N; ++j) {
          const float rj = r[off + j], kj = k[off + j];
          float s_dy = 0, dS_v = 0, dS_Sp = 0;
          for (int i = 0; i < N; ++i) {
            const float Spij = Sp[size_t(i) * N + j], g = dS[size_t(i) * N + j];
            s_dy += Spij * dy[off + i];
            dS_v += g * v[off + i];
            dS_Sp += g * Spij;
          }
          dr[off + j] += s_dy + uh[j] * kj * dy_dot_v;
          // S_t = Sp * decay + k v^T
          dk[off + j] += rj * uh[j] * dy_dot_v + dS_v;
          if (du_bh) du_bh[j] += rj * kj * dy_dot_v;
          // decay = exp(-exp(w)): d decay / dw = -exp(w) * decay
          dw[off + j] += dS_Sp * decay[j] * -std::exp(w[off + j]);
        }
        for (int i = 0; i < N; ++i) {
          float dvi = 0;
          for (int j = 0; j < N; ++j) dvi += dS[size_t(i) * N + j] * k[off + j];
          dv[off + i] += dvi;
        }
        // dL/dS_{t-1} = dS_t diag(decay) + dy_t r_t^T
        for (int i = 0; i < N; ++i)
          for (int j = 0; j < N; ++j)
            dS[size_t(i) * N + j] = dS[size_t(i) * N + j] * decay[j] + dy[off + i] * r[off + j];
      }
      if (ds0) std::copy(dS.begin(), dS.end(), ds0_parts.begin() + (int64_t(bb) * H + h) * NN);
    }
  if (du)
    for (int bb = 0; bb < B; ++bb)
      for (int64_t e = 0; e < int64_t(H) * N; ++e) du[e] += du_parts[size_t(int64_t(bb) * H * N + e)];
  if (ds0)
    for (int bb = 0; bb < B; ++bb)
      for (int64_t e = 0; e < int64_t(H) * NN; ++e) ds0[e] += ds0_parts[size_t(int64_t(bb) * H * NN + e)];
}

}  // namespace rwkv::ops
