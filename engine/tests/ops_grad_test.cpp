// Finite-difference checks of every CPU op's backward (cpu/ops.h). Each op's output is reduced
// to L = sum(out * R) for a fixed random R, accumulated in float64; every analytical input
// gradient is compared with central differences on sampled elements, both element-wise and as
// a whole-vector relative error, with tolerances that a wrong formula cannot meet.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/ops.h"
#include "tests/check.h"

using Vec = std::vector<float>;
using Inputs = std::vector<Vec>;
using namespace rwkv;

static std::mt19937 gen(1234);
static Vec randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  Vec v(n);
  for (float& x : v) x = d(gen);
  return v;
}

// fwd: inputs -> output. bwd: (inputs, dy) -> one gradient per input (empty = not checked).
static void check_op(const std::string& name, Inputs in, std::function<Vec(const Inputs&)> fwd,
                     std::function<Inputs(const Inputs&, const Vec&)> bwd, double tol = 2e-3) {
  const Vec out = fwd(in);
  const Vec R = randn(out.size());
  auto loss = [&](const Inputs& x) {
    const Vec o = fwd(x);
    double s = 0;
    for (size_t i = 0; i < o.size(); ++i) s += double(o[i]) * R[i];
    return s;
  };
  const Inputs grads = bwd(in, R);
  for (size_t a = 0; a < in.size(); ++a) {
    if (grads[a].empty()) continue;
    double num = 0, den = 0;
    const size_t n = in[a].size();
    const size_t stride = n > 48 ? n / 48 : 1;
    int bad = 0;
    for (size_t i = 0; i < n; i += stride) {
      Inputs x = in;
      const float orig = x[a][i];
      const float h = 1e-2f * std::max(1.0f, std::fabs(orig));
      x[a][i] = orig + h;
      const double lp = loss(x);
      x[a][i] = orig - h;
      const double lm = loss(x);
      const double fdv = (lp - lm) / (2.0 * h);
      num += (fdv - grads[a][i]) * (fdv - grads[a][i]);
      den += fdv * fdv;
      if (!rwkv_test::close(fdv, grads[a][i], 2e-2, 2e-3)) ++bad;
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    if (rel > tol || bad > 0)
      rwkv_test::fail(__FILE__, __LINE__, name + " input " + std::to_string(a) + ": relative error " +
                                              std::to_string(rel) + ", " + std::to_string(bad) + " bad elements");
  }
}

int main() {
  const int M = 6, K = 5, N = 4;
  check_op("linear", {randn(M * K), randn(N * K)},
           [&](const Inputs& x) { Vec y(M * N); ops::linear_fwd(x[0].data(), x[1].data(), y.data(), M, K, N); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec dx(M * K, 0), dW(N * K, 0);
             ops::linear_bwd(x[0].data(), x[1].data(), dy.data(), dx.data(), dW.data(), M, K, N); return Inputs{dx, dW}; });
  check_op("matmul", {randn(M * K), randn(K * N)},
           [&](const Inputs& x) { Vec y(M * N); ops::matmul_fwd(x[0].data(), x[1].data(), y.data(), M, K, N); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec dx(M * K, 0), dA(K * N, 0);
             ops::matmul_bwd(x[0].data(), x[1].data(), dy.data(), dx.data(), dA.data(), M, K, N); return Inputs{dx, dA}; });
  const int C = 8;
  check_op("layernorm", {randn(M * C), randn(C), randn(C)},
           [&](const Inputs& x) { Vec y(M * C), mu(M), rs(M);
             ops::layernorm_fwd(x[0].data(), x[1].data(), x[2].data(), y.data(), mu.data(), rs.data(), M, C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec y(M * C), mu(M), rs(M), dx(M * C, 0), dg(C, 0), db(C, 0);
             ops::layernorm_fwd(x[0].data(), x[1].data(), x[2].data(), y.data(), mu.data(), rs.data(), M, C);
             ops::layernorm_bwd(x[0].data(), x[1].data(), mu.data(), rs.data(), dy.data(), dx.data(), dg.data(), db.data(), M, C);
             return Inputs{dx, dg, db}; });
  const int H = 2, HN = 4;
  check_op("groupnorm", {randn(M * H * HN), randn(H * HN), randn(H * HN)},
           [&](const Inputs& x) { Vec y(M * H * HN), mu(M * H), rs(M * H);
             ops::groupnorm_fwd(x[0].data(), x[1].data(), x[2].data(), y.data(), mu.data(), rs.data(), M, H, HN, 64e-5f); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec y(M * H * HN), mu(M * H), rs(M * H), dx(M * H * HN, 0), dg(H * HN, 0), db(H * HN, 0);
             ops::groupnorm_fwd(x[0].data(), x[1].data(), x[2].data(), y.data(), mu.data(), rs.data(), M, H, HN, 64e-5f);
             ops::groupnorm_bwd(x[0].data(), x[1].data(), mu.data(), rs.data(), dy.data(), dx.data(), dg.data(), db.data(), M, H, HN);
             return Inputs{dx, dg, db}; });
  const int B = 2, T = 3;
  check_op("token_shift+mix", {randn(B * T * C), randn(C)},
           [&](const Inputs& x) { Vec xx(B * T * C), y(B * T * C);
             ops::token_shift_fwd(x[0].data(), xx.data(), B, T, C);
             ops::mix_fwd(x[0].data(), xx.data(), x[1].data(), y.data(), B * T, C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec xx(B * T * C), dx(B * T * C, 0), dxx(B * T * C, 0), dmu(C, 0);
             ops::token_shift_fwd(x[0].data(), xx.data(), B, T, C);
             ops::mix_bwd(xx.data(), x[1].data(), dy.data(), dx.data(), dxx.data(), dmu.data(), B * T, C);
             ops::token_shift_bwd(dxx.data(), dx.data(), B, T, C); return Inputs{dx, dmu}; });
  check_op("tanh", {randn(M * C)},
           [&](const Inputs& x) { Vec y(M * C); ops::tanh_fwd(x[0].data(), y.data(), M * C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec y(M * C), dx(M * C, 0); ops::tanh_fwd(x[0].data(), y.data(), M * C);
             ops::tanh_bwd(y.data(), dy.data(), dx.data(), M * C); return Inputs{dx}; });
  check_op("sigmoid+bias", {randn(M * C), randn(C)},
           [&](const Inputs& x) { Vec y(M * C); ops::sigmoid_fwd(x[0].data(), x[1].data(), y.data(), M, C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec y(M * C), dx(M * C, 0), db(C, 0);
             ops::sigmoid_fwd(x[0].data(), x[1].data(), y.data(), M, C);
             ops::sigmoid_bwd(y.data(), dy.data(), dx.data(), db.data(), M, C); return Inputs{dx, db}; });
  check_op("relu_sq", {randn(M * C)},
           [&](const Inputs& x) { Vec y(M * C); ops::relu_sq_fwd(x[0].data(), y.data(), M * C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec dx(M * C, 0); ops::relu_sq_bwd(x[0].data(), dy.data(), dx.data(), M * C); return Inputs{dx}; });
  check_op("decay", {randn(M * C), randn(C, 2.0f)},
           [&](const Inputs& x) { Vec y(M * C); ops::decay_fwd(x[0].data(), x[1].data(), y.data(), M, C); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec dz(M * C, 0), dw0(C, 0);
             ops::decay_bwd(x[0].data(), x[1].data(), dy.data(), dz.data(), dw0.data(), M, C); return Inputs{dz, dw0}; });
  check_op("l2norm_heads", {randn(M * H * HN)},
           [&](const Inputs& x) { Vec y(M * H * HN), n(M * H); ops::l2norm_heads_fwd(x[0].data(), y.data(), n.data(), M, H, HN); return y; },
           [&](const Inputs& x, const Vec& dy) { Vec y(M * H * HN), n(M * H), dx(M * H * HN, 0);
             ops::l2norm_heads_fwd(x[0].data(), y.data(), n.data(), M, H, HN);
             ops::l2norm_heads_bwd(y.data(), n.data(), dy.data(), dx.data(), M, H, HN); return Inputs{dx}; });
  // WKV7 with the inputs RWKV-PEFT gives it: a = -kk, b = kk * a with kk unit-norm per head.
  {
    const int T7 = 5, n7 = B * T7 * H * HN;
    Vec kk = randn(n7), aa(n7), a(n7), b(n7);
    for (int s = 0; s < B * T7 * H; ++s) {
      double nrm = 0;
      for (int i = 0; i < HN; ++i) nrm += kk[s * HN + i] * kk[s * HN + i];
      for (int i = 0; i < HN; ++i) kk[s * HN + i] /= float(std::sqrt(nrm));
    }
    std::uniform_real_distribution<float> u(0.1f, 0.9f);
    for (int i = 0; i < n7; ++i) { aa[i] = u(gen); a[i] = -kk[i]; b[i] = kk[i] * aa[i]; }
    Vec w = randn(n7, 0.5f);
    for (float& x : w) x -= 1.0f;
    auto fwd = [&](const Inputs& x) { Vec y(n7), st(size_t(n7) * HN);
      ops::wkv7_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    y.data(), st.data(), B, T7, H, HN); return y; };
    auto bwd = [&](const Inputs& x, const Vec& dy) {
      Vec y(n7), st(size_t(n7) * HN);
      ops::wkv7_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    y.data(), st.data(), B, T7, H, HN);
      Inputs g(7, Vec(n7, 0));
      g[6].assign(H * HN * HN, 0);
      ops::wkv7_bwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    st.data(), dy.data(), g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(),
                    g[5].data(), g[6].data(), B, T7, H, HN);
      return g; };
    check_op("wkv7", {randn(n7), w, randn(n7), randn(n7), a, b, randn(H * HN * HN, 0.3f)}, fwd, bwd);
    // infctx: one initial state per sequence (a carried state: no gradient into it).
    const int64_t per_seq = int64_t(H) * HN * HN;
    auto fwd_seq = [&](const Inputs& x) { Vec y(n7), st(size_t(n7) * HN);
      ops::wkv7_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    y.data(), st.data(), B, T7, H, HN, per_seq); return y; };
    auto bwd_seq = [&](const Inputs& x, const Vec& dy) {
      Vec y(n7), st(size_t(n7) * HN);
      ops::wkv7_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    y.data(), st.data(), B, T7, H, HN, per_seq);
      Inputs g(7, Vec(n7, 0));
      g[6].clear();
      ops::wkv7_bwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), x[6].data(),
                    st.data(), dy.data(), g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(),
                    g[5].data(), nullptr, B, T7, H, HN, per_seq);
      return g; };
    check_op("wkv7 per-sequence state", {randn(n7), w, randn(n7), randn(n7), a, b, randn(size_t(B) * per_seq, 0.3f)},
             fwd_seq, bwd_seq);
  }
  // Cross-entropy with a mask: the CE part of the gradient (L2Wrap removed) against FD of the loss.
  {
    const int Mc = 5, V = 7;
    Vec logits = randn(Mc * V, 2.0f);
    std::vector<int32_t> tgt = {1, 3, 0, 6, 2};
    Vec mask = {1, 0, 1, 1, 0};
    int64_t counted = 0;
    Vec dl(Mc * V);
    const double loss = ops::cross_entropy_fwd_bwd(logits.data(), tgt.data(), mask.data(), dl.data(), 1.0f, Mc, V, &counted);
    CHECK(counted == 3);
    CHECK_CLOSE(loss, ops::cross_entropy_fwd(logits.data(), tgt.data(), mask.data(), Mc, V, nullptr), 1e-9);
    for (int i = 0; i < Mc; ++i) {  // remove L2Wrap: 1e-4/M * max at argmax
      int arg = 0;
      for (int j = 1; j < V; ++j) if (logits[i * V + j] > logits[i * V + arg]) arg = j;
      dl[i * V + arg] -= float(1e-4 / Mc * logits[i * V + arg]);
    }
    for (int e = 0; e < Mc * V; ++e) {
      Vec lp = logits, lm = logits;
      lp[e] += 1e-3f; lm[e] -= 1e-3f;
      const double fd = (ops::cross_entropy_fwd(lp.data(), tgt.data(), mask.data(), Mc, V, nullptr) -
                         ops::cross_entropy_fwd(lm.data(), tgt.data(), mask.data(), Mc, V, nullptr)) / 2e-3;
      CHECK(rwkv_test::close(fd, dl[e], 1e-2, 1e-4));
    }
    // masked rows carry only the L2Wrap term
    double masked_sum = 0;
    for (int j = 0; j < V; ++j) masked_sum += std::fabs(dl[1 * V + j]);
    CHECK(masked_sum < 1e-7);
  }
  // AdamW against the formula in float64 over three steps.
  {
    Vec p = {0.5f, -1.0f, 2.0f}, m(3, 0), v(3, 0);
    double pd[3] = {0.5, -1.0, 2.0}, md[3] = {0, 0, 0}, vd[3] = {0, 0, 0};
    const double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
    for (int step = 1; step <= 3; ++step) {
      Vec g = {0.1f * step, -0.2f, 0.3f / step};
      ops::adamw_step(p.data(), g.data(), m.data(), v.data(), 3, float(lr), float(b1), float(b2), float(eps), float(wd), step);
      for (int i = 0; i < 3; ++i) {
        pd[i] -= lr * wd * pd[i];
        md[i] = b1 * md[i] + (1 - b1) * g[i];
        vd[i] = b2 * vd[i] + (1 - b2) * double(g[i]) * g[i];
        pd[i] -= lr * (md[i] / (1 - std::pow(b1, step))) / (std::sqrt(vd[i] / (1 - std::pow(b2, step))) + eps);
      }
    }
    for (int i = 0; i < 3; ++i) CHECK_CLOSE(p[i], pd[i], 1e-5);
  }
  return rwkv_test::summary("ops_grad_test");
}
