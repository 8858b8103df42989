// RWKV-6 (x060) on the CPU backend, checked three ways:
// 1. WKV6 (cpu/x060_ops.h) against values worked out by hand, with and without an initial state,
//    and each x060 op's backward against float finite differences.
// 2. The backend's forward loss against an independent float64 implementation of the x060 model
//    written below from RWKV-PEFT's rwkvt/rwkv6 equations (per-token loops, explicit state
//    matrices, adapters merged into the weights), on a tiny L2 C64 head-32 model whose weights are
//    all randomised so that no path is dead. infctx: two carried chunks give the whole sequence's
//    logits.
// 3. EVERY trained tensor's gradient, for full fine-tuning, LoRA on all eight linears (with
//    train_parts time/ln; and on an int8-quantised base), PiSSA, MiSS and state tuning, against central differences of that float64
//    model: a directional derivative along a random direction over the whole tensor plus single
//    elements. The float64 differences are exact to ~1e-9, so what is measured is the float32
//    backward's own error. The objective is the loss plus L2Wrap's implicit term
//    (1e-4/(2M) * max(logits_row)^2 over all rows), whose gradient the backend adds.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/model_x060.h"
#include "cpu/x060_ops.h"
#include "tests/check.h"
#include "train/init_weights.h"

using namespace rwkv;
using DVec = std::vector<double>;

static std::mt19937 gen(11);

// ---------------------------------------------------------------------------------------------
// 1. WKV6 by hand and the ops' backward passes

// H = 1, N = 2, T = 3, every decay exp(-exp(w)) = 1/2 (w = log(ln 2)), u = [1, 2]:
//   t0: r=[1,0] k=[1,1] v=[2,3]   y0_i = (r.(u*k)) v_i + (S r)_i = 1*v = [2,3];  S0 = k v^T = [[2,2],[3,3]]
//   t1: r=[1,1] k=[1,0] v=[1,-2]  bonus r.(u*k) = 1: y1 = v + S0 r = [1+4, -2+6] = [5,4]
//                                 S1 = S0/2 + [k0 v0, k1 v1] = [[2,1],[-0.5,1.5]]
//   t2: r=[1,0] k=0 v=0           y2 = S1 r = [2, -0.5]
// With s0 = identity the first two steps become y0 = v + s0 r = [3,3]; S0 = s0/2 + k v^T =
// [[2.5,2],[3,3.5]]; y1 = v + S0 r = [1+4.5, -2+6.5] = [5.5,4.5].
static void wkv6_by_hand() {
  const float w_half = float(std::log(std::log(2.0)));
  const std::vector<float> r = {1, 0, 1, 1, 1, 0}, k = {1, 1, 1, 0, 0, 0}, v = {2, 3, 1, -2, 0, 0};
  const std::vector<float> w(6, w_half), u = {1, 2};
  std::vector<float> y(6), states(3 * 4);
  ops::wkv6_fwd(r.data(), w.data(), k.data(), v.data(), u.data(), nullptr, y.data(), states.data(), 1, 3, 1, 2);
  const float want[] = {2, 3, 5, 4, 2, -0.5f};
  for (int i = 0; i < 6; ++i) CHECK_CLOSE(y[i], want[i], 1e-6);
  const float s1[] = {2, 1, -0.5f, 1.5f};  // [value][key]
  for (int i = 0; i < 4; ++i) CHECK_CLOSE(states[4 + i], s1[i], 1e-6);
  const std::vector<float> s0 = {1, 0, 0, 1};
  ops::wkv6_fwd(r.data(), w.data(), k.data(), v.data(), u.data(), s0.data(), y.data(), states.data(), 1, 3, 1, 2);
  CHECK_CLOSE(y[0], 3, 1e-6); CHECK_CLOSE(y[1], 3, 1e-6);
  CHECK_CLOSE(y[2], 5.5, 1e-6); CHECK_CLOSE(y[3], 4.5, 1e-6);
}

static std::vector<float> randn(size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

// Relative error of analytic against central-difference gradients over every element of each
// input, for an op reduced to L = sum(out * R) (float64 sums over the float32 op).
using Inputs = std::vector<std::vector<float>>;
static void check_op(const char* name, Inputs in, const std::function<std::vector<float>(const Inputs&)>& fwd,
                     const std::function<Inputs(const Inputs&, const std::vector<float>&)>& bwd) {
  const std::vector<float> R = randn(fwd(in).size(), 1.0f);
  auto loss = [&](const Inputs& x) {
    const auto o = fwd(x);
    double s = 0;
    for (size_t i = 0; i < o.size(); ++i) s += double(o[i]) * R[i];
    return s;
  };
  const Inputs grads = bwd(in, R);
  for (size_t a = 0; a < in.size(); ++a) {
    double num = 0, den = 0;
    for (size_t i = 0; i < in[a].size(); ++i) {
      Inputs x = in;
      const float h = 1e-2f * std::max(1.0f, std::fabs(x[a][i]));
      x[a][i] = in[a][i] + h;
      const double lp = loss(x);
      x[a][i] = in[a][i] - h;
      const double fd = (lp - loss(x)) / (2.0 * h);
      num += (fd - grads[a][i]) * (fd - grads[a][i]);
      den += fd * fd;
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    std::fprintf(stderr, "  op %s input %zu: relative error %.2e\n", name, a, rel);
    if (rel > 5e-3) rwkv_test::fail(__FILE__, __LINE__, std::string(name) + " input " + std::to_string(a));
  }
}

static void ops_backward() {
  const int B = 2, T = 4, H = 2, N = 4, C = H * N;
  const size_t n = size_t(B) * T * C;
  // wkv6: r, w, k, v, u, s0 (the state-tuning form: one s0 for the batch)
  check_op("wkv6", {randn(n, 1), randn(n, 0.5f), randn(n, 1), randn(n, 1), randn(H * N, 0.5f), randn(H * N * N, 0.5f)},
           [&](const Inputs& x) {
             std::vector<float> y(n), st(n * N);
             ops::wkv6_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), y.data(),
                           st.data(), B, T, H, N);
             return y;
           },
           [&](const Inputs& x, const std::vector<float>& dy) {
             std::vector<float> y(n), st(n * N);
             ops::wkv6_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), y.data(),
                           st.data(), B, T, H, N);
             Inputs g = {std::vector<float>(n), std::vector<float>(n), std::vector<float>(n), std::vector<float>(n),
                         std::vector<float>(H * N), std::vector<float>(H * N * N)};
             ops::wkv6_bwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), x[5].data(), st.data(),
                           dy.data(), g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(), g[5].data(), B,
                           T, H, N);
             return g;
           });
  // ddlerp: x, xx, maa_x, w1, w2, mu_w..mu_g; the output is the five mixes end to end
  const int M = 6, Cm = 5, D = 3;
  auto ddlerp = [&](const Inputs& x, std::vector<float>& xxx, std::vector<float>& h, std::vector<float>& m) {
    std::vector<float> out(size_t(5) * M * Cm);
    const float* mu[5] = {x[5].data(), x[6].data(), x[7].data(), x[8].data(), x[9].data()};
    float* o[5];
    for (int j = 0; j < 5; ++j) o[j] = out.data() + size_t(j) * M * Cm;
    xxx.resize(size_t(M) * Cm); h.resize(size_t(M) * 5 * D); m.resize(size_t(5) * M * Cm);
    ops::ddlerp_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), x[4].data(), mu, o, xxx.data(), h.data(),
                    m.data(), M, Cm, D);
    return out;
  };
  Inputs in = {randn(M * Cm, 1), randn(M * Cm, 1), randn(Cm, 0.5f), randn(Cm * 5 * D, 0.7f), randn(5 * D * Cm, 0.7f)};
  for (int j = 0; j < 5; ++j) in.push_back(randn(Cm, 0.5f));
  check_op("ddlerp", in,
           [&](const Inputs& x) { std::vector<float> a, b, c; return ddlerp(x, a, b, c); },
           [&](const Inputs& x, const std::vector<float>& dy) {
             std::vector<float> xxx, h, m;
             ddlerp(x, xxx, h, m);
             Inputs g;
             for (const auto& v : x) g.push_back(std::vector<float>(v.size(), 0.0f));
             const float* mu[5] = {x[5].data(), x[6].data(), x[7].data(), x[8].data(), x[9].data()};
             const float* dout[5];
             float* dmu[5];
             for (int j = 0; j < 5; ++j) { dout[j] = dy.data() + size_t(j) * M * Cm; dmu[j] = g[5 + j].data(); }
             ops::ddlerp_bwd(x[1].data(), x[2].data(), x[3].data(), x[4].data(), mu, xxx.data(), h.data(), m.data(), dout,
                             g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(), dmu, M, Cm, D);
             return g;
           });
  // the low-rank decay: xw, time_decay, w1, w2
  check_op("decay_lowrank", {randn(M * Cm, 1), randn(Cm, 1), randn(Cm * D, 0.7f), randn(D * Cm, 0.7f)},
           [&](const Inputs& x) {
             std::vector<float> t(size_t(M) * D), w(size_t(M) * Cm);
             ops::decay_lowrank_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), t.data(), w.data(), M, Cm, D);
             return w;
           },
           [&](const Inputs& x, const std::vector<float>& dy) {
             std::vector<float> t(size_t(M) * D), w(size_t(M) * Cm);
             ops::decay_lowrank_fwd(x[0].data(), x[1].data(), x[2].data(), x[3].data(), t.data(), w.data(), M, Cm, D);
             Inputs g;
             for (const auto& v : x) g.push_back(std::vector<float>(v.size(), 0.0f));
             ops::decay_lowrank_bwd(x[0].data(), x[2].data(), x[3].data(), t.data(), dy.data(), g[0].data(), g[1].data(),
                                    g[2].data(), g[3].data(), M, Cm, D);
             return g;
           });
  check_op("silu", {randn(40, 2)},
           [&](const Inputs& x) { std::vector<float> y(40); ops::silu_fwd(x[0].data(), y.data(), 40); return y; },
           [&](const Inputs& x, const std::vector<float>& dy) {
             Inputs g = {std::vector<float>(40, 0.0f)};
             ops::silu_bwd(x[0].data(), dy.data(), g[0].data(), 40);
             return g;
           });
}

// ---------------------------------------------------------------------------------------------
// 2. An independent float64 x060 model

struct RefModel {
  ModelConfig cfg;
  std::map<std::string, DVec> t;  // every tensor by name: the base and the adapter's
  PeftMethod method = PeftMethod::Full;
  double lora_scale = 1;

  const DVec& at(const std::string& n) const { return t.at(n); }
  // A linear's weight [out, in] as the forward multiplies with it: the base plus its adapter.
  DVec weight(const std::string& prefix, int out, int in) const {
    DVec W = at(prefix + ".weight");
    if (t.count(prefix + ".lora_A")) {
      const DVec &A = at(prefix + ".lora_A"), &Bm = at(prefix + ".lora_B");
      const int r = int(A.size()) / in;
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) {
          double s = 0;
          for (int j = 0; j < r; ++j) s += Bm[size_t(o) * r + j] * A[size_t(j) * in + i];
          W[size_t(o) * in + i] += lora_scale * s;
        }
    }
    if (t.count(prefix + ".disha")) {  // MiSS: the [r, out] block repeated along the input
      const DVec& blk = at(prefix + ".disha");
      const int r = int(blk.size()) / out;
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) W[size_t(o) * in + i] += blk[size_t(i % r) * out + o];
    }
    return W;
  }
};

struct Data {
  int B = 0, T = 0;
  std::vector<int32_t> in, tgt;
  std::vector<float> mask;
  Batch batch() const { return {B, T, in.data(), tgt.data(), mask.data()}; }
};

static DVec layer_norm(const DVec& x, const DVec& g, const DVec& b, int rows, int width, double eps) {
  DVec y(x.size());
  for (int i = 0; i < rows; ++i) {
    double mu = 0, var = 0;
    for (int c = 0; c < width; ++c) mu += x[size_t(i) * width + c];
    mu /= width;
    for (int c = 0; c < width; ++c) var += (x[size_t(i) * width + c] - mu) * (x[size_t(i) * width + c] - mu);
    var /= width;
    for (int c = 0; c < width; ++c)
      y[size_t(i) * width + c] = (x[size_t(i) * width + c] - mu) / std::sqrt(var + eps) * g[c] + b[c];
  }
  return y;
}

static DVec linear(const DVec& x, const DVec& W, int rows, int in, int out) {
  DVec y(size_t(rows) * out, 0.0);
  for (int i = 0; i < rows; ++i)
    for (int o = 0; o < out; ++o) {
      double s = 0;
      for (int k = 0; k < in; ++k) s += W[size_t(o) * in + k] * x[size_t(i) * in + k];
      y[size_t(i) * out + o] = s;
    }
  return y;
}

// nn.ZeroPad2d((0, 0, 1, -1))(x) - x: the previous token's row (zeros before the first) minus this one's
static DVec shift_minus(const DVec& x, int B, int T, int C) {
  DVec xx(x.size());
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        const size_t i = (size_t(b) * T + t) * C + c;
        xx[i] = (t > 0 ? x[i - C] : 0.0) - x[i];
      }
  return xx;
}

// Cross-entropy over the counted rows and, when asked, L2Wrap's implicit term.
static double ref_objective(const RefModel& m, const Data& d, bool with_l2wrap) {
  const ModelConfig& cfg = m.cfg;
  const int B = d.B, T = d.T, M = B * T, C = cfg.n_embd, H = cfg.n_head(), N = cfg.head_size, F = cfg.dim_ffn,
            V = cfg.vocab_size, Dm = cfg.d_mix_lora, Dd = cfg.d_decay_lora;
  DVec x(size_t(M) * C);
  for (int i = 0; i < M; ++i)
    for (int c = 0; c < C; ++c) x[size_t(i) * C + c] = m.at("emb.weight")[size_t(d.in[i]) * C + c];
  x = layer_norm(x, m.at("blocks.0.ln0.weight"), m.at("blocks.0.ln0.bias"), M, C, 1e-5);
  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".", a = p + "att.", f = p + "ffn.";
    // time mix
    const DVec h = layer_norm(x, m.at(p + "ln1.weight"), m.at(p + "ln1.bias"), M, C, 1e-5);
    const DVec xx = shift_minus(h, B, T, C);
    const DVec &maa_x = m.at(a + "time_maa_x"), &w1 = m.at(a + "time_maa_w1"), &w2 = m.at(a + "time_maa_w2");
    const char* mix_names[5] = {"time_maa_w", "time_maa_k", "time_maa_v", "time_maa_r", "time_maa_g"};
    std::vector<DVec> mixed(5, DVec(size_t(M) * C));
    for (int i = 0; i < M; ++i) {
      DVec hid(size_t(5) * Dm);
      for (int q = 0; q < 5 * Dm; ++q) {
        double s = 0;
        for (int c = 0; c < C; ++c) s += (h[size_t(i) * C + c] + xx[size_t(i) * C + c] * maa_x[c]) * w1[size_t(c) * 5 * Dm + q];
        hid[q] = std::tanh(s);
      }
      for (int j = 0; j < 5; ++j)
        for (int c = 0; c < C; ++c) {
          double mj = 0;
          for (int q = 0; q < Dm; ++q) mj += hid[size_t(j) * Dm + q] * w2[(size_t(j) * Dm + q) * C + c];
          const size_t e = size_t(i) * C + c;
          mixed[j][e] = h[e] + xx[e] * (m.at(a + mix_names[j])[c] + mj);
        }
    }
    const DVec r = linear(mixed[3], m.weight(a + "receptance", C, C), M, C, C);
    const DVec k = linear(mixed[1], m.weight(a + "key", C, C), M, C, C);
    const DVec v = linear(mixed[2], m.weight(a + "value", C, C), M, C, C);
    DVec g = linear(mixed[4], m.weight(a + "gate", C, C), M, C, C);
    for (double& z : g) z = z / (1 + std::exp(-z));
    DVec decay(size_t(M) * C);
    for (int i = 0; i < M; ++i) {
      DVec hid(Dd);
      for (int q = 0; q < Dd; ++q) {
        double s = 0;
        for (int c = 0; c < C; ++c) s += mixed[0][size_t(i) * C + c] * m.at(a + "time_decay_w1")[size_t(c) * Dd + q];
        hid[q] = std::tanh(s);
      }
      for (int c = 0; c < C; ++c) {
        double wv = m.at(a + "time_decay")[c];
        for (int q = 0; q < Dd; ++q) wv += hid[q] * m.at(a + "time_decay_w2")[size_t(q) * C + c];
        decay[size_t(i) * C + c] = std::exp(-std::exp(wv));
      }
    }
    DVec y(size_t(M) * C);
    const DVec& u = m.at(a + "time_faaaa");
    for (int b = 0; b < B; ++b)
      for (int hd = 0; hd < H; ++hd) {
        std::vector<DVec> S(N, DVec(N, 0.0));  // S[value][key]
        if (m.t.count(a + "time_state"))
          for (int i = 0; i < N; ++i)
            for (int j = 0; j < N; ++j) S[i][j] = m.at(a + "time_state")[(size_t(hd) * N + i) * N + j];
        for (int t = 0; t < T; ++t) {
          const size_t o = (size_t(b) * T + t) * C + size_t(hd) * N;
          for (int i = 0; i < N; ++i) {
            double yi = 0;
            for (int j = 0; j < N; ++j) yi += r[o + j] * (u[size_t(hd) * N + j] * k[o + j] * v[o + i] + S[i][j]);
            y[o + i] = yi;
          }
          for (int i = 0; i < N; ++i)
            for (int j = 0; j < N; ++j) S[i][j] = S[i][j] * decay[o + j] + k[o + j] * v[o + i];
        }
      }
    // ln_x: GroupNorm(H) per token, eps 1e-5 * head_size_divisor^2
    DVec gn(y.size());
    const DVec &gw = m.at(a + "ln_x.weight"), &gb = m.at(a + "ln_x.bias");
    for (int i = 0; i < M * H; ++i) {
      double mu = 0, var = 0;
      for (int n = 0; n < N; ++n) mu += y[size_t(i) * N + n];
      mu /= N;
      for (int n = 0; n < N; ++n) var += (y[size_t(i) * N + n] - mu) * (y[size_t(i) * N + n] - mu);
      var /= N;
      for (int n = 0; n < N; ++n) {
        const int c = (i % H) * N + n;
        gn[size_t(i) * N + n] = (y[size_t(i) * N + n] - mu) / std::sqrt(var + 1e-5 * 64) * gw[c] + gb[c];
      }
    }
    for (size_t e = 0; e < gn.size(); ++e) gn[e] *= g[e];
    const DVec att = linear(gn, m.weight(a + "output", C, C), M, C, C);
    for (size_t e = 0; e < x.size(); ++e) x[e] += att[e];
    // channel mix
    const DVec h2 = layer_norm(x, m.at(p + "ln2.weight"), m.at(p + "ln2.bias"), M, C, 1e-5);
    const DVec xx2 = shift_minus(h2, B, T, C);
    DVec xk(h2.size()), xr(h2.size());
    for (size_t e = 0; e < h2.size(); ++e) {
      xk[e] = h2[e] + xx2[e] * m.at(f + "time_maa_k")[e % C];
      xr[e] = h2[e] + xx2[e] * m.at(f + "time_maa_r")[e % C];
    }
    DVec kk = linear(xk, m.weight(f + "key", F, C), M, C, F);
    for (double& z : kk) z = z > 0 ? z * z : 0.0;
    const DVec kv = linear(kk, m.weight(f + "value", C, F), M, F, C);
    const DVec rr = linear(xr, m.weight(f + "receptance", C, C), M, C, C);
    for (size_t e = 0; e < x.size(); ++e) x[e] += kv[e] / (1 + std::exp(-rr[e]));
  }
  x = layer_norm(x, m.at("ln_out.weight"), m.at("ln_out.bias"), M, C, 1e-5);
  const DVec logits = linear(x, m.at("head.weight"), M, C, V);
  double loss = 0, l2 = 0;
  int counted = 0;
  for (int i = 0; i < M; ++i) {
    const double* row = logits.data() + size_t(i) * V;
    const double mx = *std::max_element(row, row + V);
    l2 += 1e-4 / (2.0 * M) * mx * mx;
    if (d.mask[i] == 0) continue;
    double se = 0;
    for (int j = 0; j < V; ++j) se += std::exp(row[j] - mx);
    loss += std::log(se) + mx - row[d.tgt[i]];
    ++counted;
  }
  return loss / counted + (with_l2wrap ? l2 : 0.0);
}

// ---------------------------------------------------------------------------------------------
// 3. The backend against it

static ModelConfig tiny_config() {
  ModelConfig cfg = model_config_x060_for_size(2, 64, 40, 32);  // H 2, N 32, dim_ffn 224, mix 32, decay 64
  return cfg;
}

// init_x060_weights plus noise: the init's zero matrices (att.output, ffn.value/receptance) and
// its tiny low-rank maps would leave paths without a gradient to check.
static StateDict random_model(const ModelConfig& cfg) {
  StateDict w = init_x060_weights(cfg, 5);
  std::normal_distribution<float> noise(0.0f, 0.15f);
  for (auto& [name, t] : w) {
    std::vector<float> v = t.to_f32();
    const bool lowrank = name.find("_w1") != std::string::npos || name.find("_w2") != std::string::npos;
    for (float& x : v) x += lowrank ? 2 * noise(gen) : noise(gen);
    t = HostTensor::from_f32(v, t.shape);
  }
  return w;
}

static Data make_data(const ModelConfig& cfg, int B, int T) {
  Data d;
  d.B = B, d.T = T;
  std::uniform_int_distribution<int> tok(0, cfg.vocab_size - 1);
  for (int i = 0; i < B * T; ++i) {
    d.in.push_back(tok(gen));
    d.tgt.push_back(tok(gen));
    d.mask.push_back(i % 5 == 2 ? 0.0f : 1.0f);
  }
  return d;
}

static RefModel reference_of(const ModelConfig& cfg, const PeftConfig& peft, const StateDict& weights) {
  RefModel m;
  m.cfg = cfg;
  m.method = peft.method;
  m.lora_scale = peft.lora_scaling();
  for (const auto& [name, t] : weights) {
    const std::vector<float> v = t.to_f32();
    m.t[name] = DVec(v.begin(), v.end());
  }
  return m;
}

struct Tolerance {
  double directional = 0, element = 0;  // the worst errors seen, for the report
};

static void check_method(const std::string& label, const PeftConfig& peft, size_t expect_tensors, Tolerance& worst,
                         QuantType quant = QuantType::None) {
  const ModelConfig cfg = tiny_config();
  const StateDict base = random_model(cfg);
  BackendOptions options;
  options.quant = quant;  // the block linears stored quantised; the reference sees dequant(W)
  auto be = make_cpu_backend(cfg, peft, base, options);
  // Adapters start at zero (lora_B, disha, time_state): randomise what trains so every grad is live.
  StateDict trained = be->export_weights(ExportKind::AdapterOnly);
  for (auto& [name, t] : trained) {
    std::vector<float> v = t.to_f32();
    const bool adapter = name.find("lora_") != std::string::npos || name.find("disha") != std::string::npos ||
                         name.find("time_state") != std::string::npos;
    if (adapter)
      for (float& x : v) x += std::normal_distribution<float>(0.0f, 0.1f)(gen);
    t = HostTensor::from_f32(v, t.shape);
  }
  be->import_trainable(trained);
  // the reference holds what the backend holds: the base (PiSSA: its residual W - B A) and every
  // adapter tensor beside it
  RefModel ref = reference_of(cfg, peft, be->export_weights(ExportKind::Full));
  const Data d = make_data(cfg, 2, 6);
  const Batch batch = d.batch();
  // the forward's loss against the float64 model
  const double loss32 = be->forward(batch, nullptr).loss, loss64 = ref_objective(ref, d, false);
  std::fprintf(stderr, "%s: loss float32 %.9f, float64 reference %.9f\n", label.c_str(), loss32, loss64);
  CHECK_CLOSE(loss32, loss64, 2e-6);
  be->zero_grads();
  be->forward_backward(batch, 1.0f);
  const StateDict grads = be->export_grads();
  CHECK(grads.size() == expect_tensors);
  double worst_dir = 0, worst_elem = 0;
  std::string worst_dir_name, worst_elem_name;
  for (const auto& [name, gt] : grads) {
    const std::vector<float> g = gt.to_f32();
    DVec& w = ref.t.at(name);
    const DVec w0 = w;
    double gnorm = 0;
    for (float x : g) gnorm += double(x) * x;
    gnorm = std::sqrt(gnorm);
    // (a) along a random direction over the whole tensor: every element's gradient counts
    DVec dir(w.size());
    double dnorm = 0, analytic = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      dir[i] = std::normal_distribution<double>(0.0, 1.0)(gen);
      dnorm += dir[i] * dir[i];
    }
    dnorm = std::sqrt(dnorm);
    for (size_t i = 0; i < w.size(); ++i) analytic += double(g[i]) * dir[i] / dnorm;
    const double h = 1e-6;
    for (size_t i = 0; i < w.size(); ++i) w[i] = w0[i] + h * dir[i] / dnorm;
    const double lp = ref_objective(ref, d, true);
    for (size_t i = 0; i < w.size(); ++i) w[i] = w0[i] - h * dir[i] / dnorm;
    const double lm = ref_objective(ref, d, true);
    w = w0;
    const double fd = (lp - lm) / (2 * h);
    // relative to the gradient's norm: a random unit direction sees ~|g|/sqrt(n) of it, and a
    // wrong element shifts the projection by its own error
    const double dir_err = std::fabs(fd - analytic) / std::max(gnorm, 1e-12);
    if (dir_err > worst_dir) worst_dir = dir_err, worst_dir_name = name;
    if (dir_err > 2e-4)
      rwkv_test::fail(__FILE__, __LINE__, label + ": " + name + " directional derivative " + std::to_string(analytic) +
                                              " vs finite difference " + std::to_string(fd));
    // (b) single elements: the largest gradient and two random ones
    std::vector<size_t> picks = {size_t(std::max_element(g.begin(), g.end(), [](float x, float y) {
                                   return std::fabs(x) < std::fabs(y);
                                 }) - g.begin())};
    std::uniform_int_distribution<size_t> pick(0, w.size() - 1);
    picks.push_back(pick(gen));
    picks.push_back(pick(gen));
    for (size_t e : picks) {
      const double he = 1e-6 * std::max(1.0, std::fabs(w0[e]));
      w[e] = w0[e] + he;
      const double ep = ref_objective(ref, d, true);
      w[e] = w0[e] - he;
      const double em = ref_objective(ref, d, true);
      w[e] = w0[e];
      const double fde = (ep - em) / (2 * he);
      const double err = std::fabs(fde - g[e]) / std::max(gnorm, 1e-12);
      if (std::getenv("X060_DEBUG") && err > 2e-4) {
        for (double hh : {1e-3, 1e-4, 1e-6, 1e-7}) {
          w[e] = w0[e] + hh; const double a1 = ref_objective(ref, d, true);
          w[e] = w0[e] - hh; const double a2 = ref_objective(ref, d, true);
          w[e] = w0[e];
          std::fprintf(stderr, "   %s[%zu] h %.0e fd %.9f analytic %.9f\n", name.c_str(), e, hh, (a1 - a2) / (2 * hh), g[e]);
        }
      }
      if (err > worst_elem) worst_elem = err, worst_elem_name = name;
      if (err > 2e-4)
        rwkv_test::fail(__FILE__, __LINE__, label + ": " + name + "[" + std::to_string(e) + "] " + std::to_string(g[e]) +
                                                " vs finite difference " + std::to_string(fde));
    }
  }
  std::fprintf(stderr, "%s: %zu tensors; worst error / |grad|: directional %.2e (%s), element %.2e (%s)\n",
               label.c_str(), grads.size(), worst_dir, worst_dir_name.c_str(), worst_elem, worst_elem_name.c_str());
  worst.directional = std::max(worst.directional, worst_dir);
  worst.element = std::max(worst.element, worst_elem);
}

// infctx: the sequence as two chunks, the second starting from the first's carried state, gives
// the whole sequence's logits.
static void carried_chunks_equal_whole() {
  const ModelConfig cfg = tiny_config();
  auto be = make_cpu_backend(cfg, PeftConfig{}, random_model(cfg), BackendOptions{});
  const int B = 2, T = 6, half = 3, V = cfg.vocab_size;
  const Data d = make_data(cfg, B, T);
  std::vector<float> whole(size_t(B) * T * V);
  be->forward(d.batch(), whole.data());
  CarriedState carry;
  carry.reset(cfg, B);
  double worst = 0;
  for (int part = 0; part < 2; ++part) {
    std::vector<int32_t> in, tgt;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < half; ++t) {
        in.push_back(d.in[size_t(b) * T + part * half + t]);
        tgt.push_back(d.tgt[size_t(b) * T + part * half + t]);
      }
    Batch chunk{B, half, in.data(), tgt.data(), nullptr, &carry};
    std::vector<float> logits(size_t(B) * half * V);
    be->forward(chunk, logits.data());
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < half; ++t)
        for (int j = 0; j < V; ++j)
          worst = std::max(worst, double(std::fabs(logits[(size_t(b) * half + t) * V + j] -
                                                   whole[(size_t(b) * T + part * half + t) * V + j])));
  }
  std::fprintf(stderr, "infctx: two carried chunks vs the whole sequence, worst logit difference %.2e\n", worst);
  CHECK(worst < 1e-4);
}

int main() {
  wkv6_by_hand();
  ops_backward();
  const size_t base_tensors = x060_tensor_shapes(tiny_config()).size();
  Tolerance worst;
  PeftConfig full;
  check_method("full", full, base_tensors, worst);
  PeftConfig lora;
  lora.method = PeftMethod::Lora;
  lora.r = 4;
  lora.lora_alpha = 8;
  lora.target_modules = {"receptance", "key", "value", "gate", "output"};  // all eight linears of a block
  lora.train_parts = {"time", "ln"};
  // per layer: 8 linears x (A, B), time_* (12 att + 2 ffn), ln1/ln2/ln_x (6); then ln0 and ln_out
  check_method("lora", lora, size_t(2 * (16 + 14 + 6) + 4), worst);
  PeftConfig lora_int8 = lora;  // --quant int8: the eight linears of each block dequantised in the GEMMs
  lora_int8.train_parts.clear();
  check_method("lora --quant int8", lora_int8, 2 * 16, worst, QuantType::Int8);
  PeftConfig pissa = lora;  // LoRA initialised from the SVD of W (W -= B A), scaling 1
  pissa.method = PeftMethod::Pissa;
  pissa.svd_niter = 2;
  pissa.train_parts.clear();
  check_method("pissa", pissa, 2 * 16, worst);
  PeftConfig miss;
  miss.method = PeftMethod::Miss;
  miss.r = 8;
  // the default target_modules (receptance, key, value, output) match seven of the eight linears:
  // att.gate only when named (the trainer names it for x060, as RWKV-PEFT wraps every linear)
  check_method("miss", miss, 2 * 7, worst);
  PeftConfig state;
  state.method = PeftMethod::State;
  check_method("state", state, 2, worst);
  std::fprintf(stderr, "worst over every method: directional %.2e, element %.2e (tolerance 2e-4 of |grad|)\n",
               worst.directional, worst.element);
  carried_chunks_equal_whole();
  return rwkv_test::summary("x060_grad_test");
}
