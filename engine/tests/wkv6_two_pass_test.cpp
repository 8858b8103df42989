// The GPU WKV6 backward's algorithm (cuda/wkv6.cu), emulated in float32 on the CPU exactly as one
// (batch, head) block runs it, against the CPU backend's op (cpu/x060_ops.h wkv6_bwd, which keeps
// every state). The kernel recomputes the states in a forward pass instead of undoing steps, and
// takes the decay's gradient from sums over time (wkv6.cu's header derives it):
//   dL/da_t = sum_{s>t} r_s (dy_s S_{s-1}) - sum_{tau>=t} k_tau (G_tau^T v_tau),  dw = -exp(w) dL/da
// Two long running sums subtracted: this test measures in fp32 how far that drifts at the lengths
// training runs (T 4096) for near-one, typical and strong decay, where no GPU is needed to see it.
// kernel_check.cu checks the kernel itself against a double twin on the device.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/x060_ops.h"
#include "tests/check.h"

namespace {

// One head's backward as the kernel's threads compute it (j: the thread; its registers are the
// arrays indexed by j here; the kernel sums pass B's dy.v and r.u.k across its threads, in
// another order than here). Layout [T, N] for one (batch, head); s0 [N, N] or empty.
void two_pass_backward(int T, int N, const std::vector<float>& r, const std::vector<float>& w,
                       const std::vector<float>& k, const std::vector<float>& v, const std::vector<float>& u,
                       const std::vector<float>& dy, const std::vector<float>& s0, std::vector<float>& dr,
                       std::vector<float>& dw, std::vector<float>& dk, std::vector<float>& dv, std::vector<float>& du,
                       std::vector<float>& ds0) {
  dr.assign(size_t(T) * N, 0.f); dw = dk = dv = dr;
  du.assign(N, 0.f);
  ds0.assign(size_t(N) * N, 0.f);
  std::vector<float> q(size_t(T) * N);
  for (int j = 0; j < N; ++j) {  // pass A: column j of the state, forward in time
    std::vector<float> Sc(N);
    for (int i = 0; i < N; ++i) Sc[i] = s0.empty() ? 0.f : s0[size_t(i) * N + j];
    for (int t = 0; t < T; ++t) {
      const float* dyt = &dy[size_t(t) * N];
      const float* vt = &v[size_t(t) * N];
      const float rj = r[size_t(t) * N + j], kj = k[size_t(t) * N + j], dj = std::exp(-std::exp(w[size_t(t) * N + j]));
      float dyv = 0.f, drs = 0.f;
      for (int i = 0; i < N; ++i) {
        dyv += dyt[i] * vt[i];
        drs += dyt[i] * Sc[i];
        Sc[i] = Sc[i] * dj + kj * vt[i];
      }
      dr[size_t(t) * N + j] = drs + u[j] * kj * dyv;
      q[size_t(t) * N + j] = rj * drs;
    }
  }
  for (int j = 0; j < N; ++j) {  // pass B: column j and row j of G, backward in time
    std::vector<float> Gc(N, 0.f), Gr(N, 0.f), decay(N);
    float dlda = 0.f, q_next = 0.f, duj = 0.f;
    for (int t = T - 1; t >= 0; --t) {
      const float* rt = &r[size_t(t) * N];
      const float* kt = &k[size_t(t) * N];
      const float* vt = &v[size_t(t) * N];
      const float* dyt = &dy[size_t(t) * N];
      for (int x = 0; x < N; ++x) decay[x] = std::exp(-std::exp(w[size_t(t) * N + x]));
      const float wj = w[size_t(t) * N + j];
      float dyv = 0.f, bonus = 0.f, dks = 0.f, dvs = 0.f;
      for (int x = 0; x < N; ++x) {
        dyv += dyt[x] * vt[x];
        bonus += rt[x] * u[x] * kt[x];
        dks += Gc[x] * vt[x];
        dvs += Gr[x] * kt[x];
      }
      dk[size_t(t) * N + j] = dks + rt[j] * u[j] * dyv;
      dv[size_t(t) * N + j] = dvs + dyt[j] * bonus;
      dlda += q_next - kt[j] * dks;
      dw[size_t(t) * N + j] = -std::exp(wj) * dlda;
      q_next = q[size_t(t) * N + j];
      duj += rt[j] * kt[j] * dyv;
      for (int x = 0; x < N; ++x) {
        Gc[x] = Gc[x] * decay[j] + dyt[x] * rt[j];
        Gr[x] = Gr[x] * decay[x] + dyt[j] * rt[x];
      }
    }
    du[j] = duj;
    for (int i = 0; i < N; ++i) ds0[size_t(i) * N + j] = Gc[i];
  }
}

// max |a - b| / max |b|
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::fmax(num, std::fabs(double(a[i]) - b[i]));
    den = std::fmax(den, std::fabs(double(b[i])));
  }
  return num / std::fmax(den, 1e-30);
}

void compare_at(int T, float w_lo, float w_hi, bool with_s0, const char* what) {
  const int N = 64;
  std::mt19937 rng(uint32_t(T) * 7 + uint32_t(w_hi * 100));
  std::uniform_real_distribution<float> sym(-1.f, 1.f), dec(w_lo, w_hi);
  const size_t n = size_t(T) * N;
  std::vector<float> r(n), w(n), k(n), v(n), dy(n), u(N), s0(with_s0 ? size_t(N) * N : 0);
  for (size_t i = 0; i < n; ++i) { r[i] = sym(rng); k[i] = sym(rng); v[i] = sym(rng); dy[i] = sym(rng); w[i] = dec(rng); }
  for (auto& x : u) x = sym(rng);
  for (auto& x : s0) x = 0.5f * sym(rng);
  // the oracle: one batch, one head
  std::vector<float> y(n), states(n * N), dr(n, 0.f), dw(n, 0.f), dk(n, 0.f), dv(n, 0.f), du(N, 0.f), ds0(size_t(N) * N, 0.f);
  const float* s0p = with_s0 ? s0.data() : nullptr;
  rwkv::ops::wkv6_fwd(r.data(), w.data(), k.data(), v.data(), u.data(), s0p, y.data(), states.data(), 1, T, 1, N);
  rwkv::ops::wkv6_bwd(r.data(), w.data(), k.data(), v.data(), u.data(), s0p, states.data(), dy.data(), dr.data(),
                      dw.data(), dk.data(), dv.data(), du.data(), with_s0 ? ds0.data() : nullptr, 1, T, 1, N);
  std::vector<float> er, ew, ek, ev, eu, es0;
  two_pass_backward(T, N, r, w, k, v, u, dy, s0, er, ew, ek, ev, eu, es0);
  const double e_dr = rel_err(er, dr), e_dw = rel_err(ew, dw), e_dk = rel_err(ek, dk), e_dv = rel_err(ev, dv),
               e_du = rel_err(eu, du), e_ds0 = with_s0 ? rel_err(es0, ds0) : 0.0;
  std::printf("%-28s T %5d: dr %.1e dw %.1e dk %.1e dv %.1e du %.1e ds0 %.1e\n", what, T, e_dr, e_dw, e_dk, e_dv, e_du,
              e_ds0);
  // fp32 against fp32 in another order: far inside kernel_check's bf16 tolerance (1e-2)
  CHECK(e_dr < 1e-4 && e_dk < 1e-4 && e_dv < 1e-4 && e_du < 1e-4 && e_ds0 < 1e-4);
  CHECK(e_dw < 1e-3);
}

}  // namespace

int main() {
  for (int T : {37, 1024, 4096}) {
    compare_at(T, -10.f, -7.f, true, "near-one decay (w -10..-7)");
    compare_at(T, -6.f, 1.f, true, "typical decay (w -6..1)");
    compare_at(T, 0.5f, 2.5f, false, "strong decay (w 0.5..2.5)");
  }
  return rwkv_test::summary("wkv6_two_pass_test");
}
