// The chunked WKV7 (cpu/wkv7_chunked.h) against the sequential CPU op (cpu/ops.h wkv7_fwd /
// wkv7_bwd), which the finite-difference test (ops_grad_test) and the PyTorch parity run already
// pin down: outputs, the states at chunk ends, the final state, sa and every gradient (ds0 too),
// on the inputs RWKV-7 gives the op (a = -kk, b = kk * a_gate, kk unit-norm per head) with decays
// from the model's range, near 1 and far stronger than the model makes, several T (partial last
// chunks included), B > 1, H > 1, with and without an initial state. Errors are
// max |chunked - sequential| / max |sequential| per tensor. Also: the bf16 emulation of the CUDA
// kernels, on the model's decay range, stays within what the device check will allow.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/ops.h"
#include "cpu/wkv7_chunked.h"
#include "tests/check.h"

using Vec = std::vector<float>;
using namespace rwkv;

namespace {
std::mt19937 gen(20240519);

Vec uniform(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(n);
  for (float& x : v) x = d(gen);
  return v;
}

float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// The decay regimes the op must handle. w_raw is the log-log decay: w = exp(-exp(w_raw)).
enum class Decay {
  Model,   // the model's soft clamp leaves w_raw <= -0.5: w in (0.545, 1); here w in (0.55, 0.98)
  NearOne, // w in (0.9975, 0.999994): long memory, the state barely decays over a chunk
  Strong,  // w down to 1e-9: the cumulative decay underflows within a chunk
  Mixed,   // every channel of every step drawn from the three above
};
const char* decay_name(Decay d) {
  switch (d) {
    case Decay::Model: return "model";
    case Decay::NearOne: return "near-one";
    case Decay::Strong: return "strong";
    default: return "mixed";
  }
}
Vec decay_inputs(size_t n, Decay kind) {
  std::uniform_real_distribution<float> model(-4.0f, -0.5f), near_one(-12.0f, -6.0f), strong(0.0f, 3.0f);
  std::uniform_int_distribution<int> pick(0, 2);
  Vec w(n);
  for (float& x : w) {
    const int k = kind == Decay::Mixed ? pick(gen) : kind == Decay::Model ? 0 : kind == Decay::NearOne ? 1 : 2;
    x = k == 0 ? model(gen) : k == 1 ? near_one(gen) : strong(gen);
  }
  return w;
}

struct Inputs {
  int B, T, H, N;
  Vec r, w, k, v, a, b, dy, s0;
  int64_t s0_stride = 0;
  size_t n() const { return size_t(B) * T * H * N; }
};

// a = -kk, b = kk * a_gate, kk unit-norm per (token, head), a_gate in (0, 1): RWKV-7's own.
Inputs make_inputs(int B, int T, int H, int N, Decay decay, int s0_kind /*0 none, 1 shared, 2 per sequence*/) {
  Inputs in{B, T, H, N};
  const size_t n = in.n();
  in.r = uniform(n, -1, 1);
  in.k = uniform(n, -1, 1);
  in.v = uniform(n, -1, 1);
  in.dy = uniform(n, -1, 1);
  in.w = decay_inputs(n, decay);
  Vec kk = uniform(n, -1, 1), gate = uniform(n, 0, 1);
  in.a.resize(n);
  in.b.resize(n);
  for (size_t h0 = 0; h0 < n; h0 += N) {
    double s = 0;
    for (int i = 0; i < N; ++i) s += double(kk[h0 + i]) * kk[h0 + i];
    const float inv = float(1.0 / std::sqrt(s));
    for (int i = 0; i < N; ++i) {
      in.a[h0 + i] = -kk[h0 + i] * inv;
      in.b[h0 + i] = kk[h0 + i] * inv * gate[h0 + i];
    }
  }
  const size_t hnn = size_t(H) * N * N;
  if (s0_kind == 1) in.s0 = uniform(hnn, -0.5f, 0.5f);
  if (s0_kind == 2) {
    in.s0 = uniform(size_t(B) * hnn, -0.5f, 0.5f);
    in.s0_stride = int64_t(hnn);
  }
  return in;
}

void round_inputs_to_bf16(Inputs& in) {
  for (Vec* x : {&in.r, &in.w, &in.k, &in.v, &in.a, &in.b, &in.dy})
    for (float& e : *x) e = round_bf16(e);
}

struct Result {
  Vec y, sa, chunk_end_states, final_state, dr, dw, dk, dv, da, db, ds0;
};

// The sequential op, with what the chunked one also reports derived from its every-step states.
Result run_sequential(const Inputs& in, int chunk_len) {
  const int B = in.B, T = in.T, H = in.H, N = in.N;
  const size_t n = in.n(), NN = size_t(N) * N;
  const float* s0 = in.s0.empty() ? nullptr : in.s0.data();
  Result out;
  Vec states(n * N);
  out.y.resize(n);
  ops::wkv7_fwd(in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(), s0, out.y.data(),
                states.data(), B, T, H, N, in.s0_stride);
  const int chunks = ops::wkv7_chunk_count(T, chunk_len);
  out.chunk_end_states.resize(size_t(B) * H * chunks * NN);
  out.final_state.resize(size_t(B) * H * NN);
  out.sa.resize(n);
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h) {
      auto state_after = [&](int t) { return states.data() + ((size_t(bb) * T + t) * H + h) * NN; };
      for (int c = 0; c < chunks; ++c) {
        const int t_end = std::min(T, (c + 1) * chunk_len) - 1;
        std::copy_n(state_after(t_end), NN, out.chunk_end_states.begin() + ((size_t(bb) * H + h) * chunks + c) * NN);
      }
      std::copy_n(state_after(T - 1), NN, out.final_state.begin() + (size_t(bb) * H + h) * NN);
      for (int t = 0; t < T; ++t) {
        const float* prev = t > 0 ? state_after(t - 1) : s0 ? s0 + bb * in.s0_stride + h * NN : nullptr;
        const size_t off = ((size_t(bb) * T + t) * H + h) * N;
        for (int i = 0; i < N; ++i) {
          double s = 0;
          if (prev)
            for (int j = 0; j < N; ++j) s += double(prev[i * N + j]) * in.a[off + j];
          out.sa[off + i] = float(s);
        }
      }
    }
  for (Vec* g : {&out.dr, &out.dw, &out.dk, &out.dv, &out.da, &out.db}) g->assign(n, 0.0f);
  const bool shared_s0 = !in.s0.empty() && in.s0_stride == 0;
  if (shared_s0) out.ds0.assign(size_t(H) * NN, 0.0f);
  ops::wkv7_bwd(in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(), s0, states.data(),
                in.dy.data(), out.dr.data(), out.dw.data(), out.dk.data(), out.dv.data(), out.da.data(), out.db.data(),
                shared_s0 ? out.ds0.data() : nullptr, B, T, H, N, in.s0_stride);
  return out;
}

Result run_chunked(const Inputs& in, const ops::Wkv7ChunkOptions& opt) {
  const int B = in.B, T = in.T, H = in.H, N = in.N;
  const size_t n = in.n();
  const float* s0 = in.s0.empty() ? nullptr : in.s0.data();
  Result out;
  out.y.resize(n);
  out.sa.resize(n);
  out.chunk_end_states.resize(ops::wkv7_chunked_state_floats(B, T, H, N, opt.chunk_len));
  ops::wkv7_chunked_fwd(in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(), s0,
                        out.y.data(), out.chunk_end_states.data(), out.sa.data(), B, T, H, N, in.s0_stride, opt);
  out.final_state.resize(size_t(B) * H * N * N);
  ops::wkv7_chunked_final_state(out.chunk_end_states.data(), B, T, H, N, opt.chunk_len, out.final_state.data());
  // The backward accumulates: start from a known non-zero value and take it off afterwards.
  for (Vec* g : {&out.dr, &out.dw, &out.dk, &out.dv, &out.da, &out.db}) g->assign(n, 0.25f);
  const bool shared_s0 = !in.s0.empty() && in.s0_stride == 0;
  if (shared_s0) out.ds0.assign(size_t(H) * N * N, 0.25f);
  ops::wkv7_chunked_bwd(in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(), s0,
                        out.chunk_end_states.data(), out.sa.data(), in.dy.data(), out.dr.data(), out.dw.data(),
                        out.dk.data(), out.dv.data(), out.da.data(), out.db.data(), shared_s0 ? out.ds0.data() : nullptr,
                        B, T, H, N, in.s0_stride, opt);
  for (Vec* g : {&out.dr, &out.dw, &out.dk, &out.dv, &out.da, &out.db, &out.ds0})
    for (float& x : *g) x -= 0.25f;
  return out;
}

// max |x - ref| / max |ref|, infinite if anything is not finite.
double rel_err(const Vec& x, const Vec& ref) {
  if (x.size() != ref.size()) return INFINITY;
  double maxref = 0, maxerr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(x[i])) return INFINITY;
    maxref = std::max(maxref, std::fabs(double(ref[i])));
    maxerr = std::max(maxerr, std::fabs(double(x[i]) - ref[i]));
  }
  return maxerr / std::max(maxref, 1e-30);
}

struct Tolerance {
  double values;  // y, sa, the states
  double grads;   // dr dk dv da db ds0
  double dw;      // the decay's gradient, through the reverse cumulative sum
};

// Compares every tensor, prints the errors (the numbers the notes quote) and returns the worst.
double compare(const std::string& name, const Result& got, const Result& ref, const Tolerance& tol) {
  struct Item { const char* what; const Vec& x; const Vec& r; double tol; };
  const Item items[] = {
      {"y", got.y, ref.y, tol.values}, {"sa", got.sa, ref.sa, tol.values},
      {"chunk states", got.chunk_end_states, ref.chunk_end_states, tol.values},
      {"final state", got.final_state, ref.final_state, tol.values},
      {"dr", got.dr, ref.dr, tol.grads}, {"dk", got.dk, ref.dk, tol.grads}, {"dv", got.dv, ref.dv, tol.grads},
      {"da", got.da, ref.da, tol.grads}, {"db", got.db, ref.db, tol.grads}, {"dw", got.dw, ref.dw, tol.dw},
      {"ds0", got.ds0, ref.ds0, tol.grads}};
  std::string line = name + ":";
  double worst = 0;
  for (const Item& it : items) {
    if (it.r.empty() && it.x.empty()) continue;
    const double e = rel_err(it.x, it.r);
    worst = std::max(worst, e / it.tol);
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s %.1e", it.what, e);
    line += buf;
    if (!(e <= it.tol))
      rwkv_test::fail(__FILE__, __LINE__, name + ": " + it.what + " relative error " + std::to_string(e) +
                                              " > " + std::to_string(it.tol));
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  return worst;
}

// fp32 throughout: what two fp32 evaluations of one function may differ by. A wrong formula is
// off by order 1; the states' ~1e-6 is the fp32 summation order.
const Tolerance kFp32{2e-5, 5e-5, 2e-4};

void check_exact(int B, int T, int H, int N, int chunk_len, Decay decay, int s0_kind) {
  const Inputs in = make_inputs(B, T, H, N, decay, s0_kind);
  ops::Wkv7ChunkOptions opt;
  opt.chunk_len = chunk_len;
  const std::string name = "B" + std::to_string(B) + " T" + std::to_string(T) + " H" + std::to_string(H) + " N" +
                           std::to_string(N) + " chunk " + std::to_string(chunk_len) + " decay " + decay_name(decay) +
                           (s0_kind == 0 ? "" : s0_kind == 1 ? " s0 shared" : " s0 per sequence");
  compare(name, run_chunked(in, opt), run_sequential(in, chunk_len), kFp32);
}

// The kernels' arithmetic (tf32 operands, factored decays) on the model's decay range, against
// the sequential fp32 op on the same bf16-rounded inputs (the kernels read bf16). Measured: about
// 4e-4 of max |ref| on y, the states and most gradients, 1.2e-3 on dw; bf16 operands would give
// 3e-3 and 8e-3, too close to the device check's 1e-2 once the outputs are rounded to bf16.
void check_gpu_emulation(int B, int T, int H, int s0_kind) {
  Inputs in = make_inputs(B, T, H, 64, Decay::Model, s0_kind);
  round_inputs_to_bf16(in);
  ops::Wkv7ChunkOptions opt;
  opt.emulate_gpu_tf32 = true;
  const std::string name = "tf32 emulation B" + std::to_string(B) + " T" + std::to_string(T) + " H" +
                           std::to_string(H) + (s0_kind ? " s0" : "");
  compare(name, run_chunked(in, opt), run_sequential(in, opt.chunk_len), Tolerance{1.5e-3, 1.5e-3, 4e-3});
}

// The backward's value split (cuda/wkv7_chunked.cu's V_SPLIT blocks a head): each slice of the
// state's value rows forms its own part of the key-side gradients, the parts are summed. Exact
// math, so it must meet the fp32 bar against the sequential op as the unsplit walk does, and the
// kernels' tf32 arithmetic split must stay within the emulation's bar.
void check_value_split(int B, int T, int H, int split, int s0_kind, bool emulate) {
  Inputs in = make_inputs(B, T, H, 64, emulate ? Decay::Model : Decay::Mixed, s0_kind);
  if (emulate) round_inputs_to_bf16(in);
  ops::Wkv7ChunkOptions opt;
  opt.value_split = split;
  opt.emulate_gpu_tf32 = emulate;
  const std::string name = "value split " + std::to_string(split) + (emulate ? " tf32 emulation" : "") + " B" +
                           std::to_string(B) + " T" + std::to_string(T) + " H" + std::to_string(H) +
                           (s0_kind ? " s0" : "");
  compare(name, run_chunked(in, opt), run_sequential(in, opt.chunk_len),
          emulate ? Tolerance{1.5e-3, 1.5e-3, 4e-3} : kFp32);
}

}  // namespace

int main() {
  // Head size 64 as the model uses, several T: whole chunks, partial last chunks, one step.
  check_exact(2, 48, 2, 64, 16, Decay::Model, 0);
  check_exact(2, 37, 2, 64, 16, Decay::Model, 1);
  check_exact(1, 1, 1, 64, 16, Decay::Model, 1);
  check_exact(2, 70, 3, 64, 16, Decay::Mixed, 2);
  check_exact(1, 64, 2, 64, 16, Decay::NearOne, 1);
  check_exact(2, 45, 1, 64, 16, Decay::Strong, 1);
  check_exact(3, 50, 2, 64, 16, Decay::Mixed, 1);
  check_exact(1, 512, 1, 64, 16, Decay::Model, 1);  // no drift over many chunks
  // Other chunk lengths and head sizes: nothing in the algorithm is tied to 16 or 64.
  check_exact(3, 33, 2, 16, 8, Decay::Mixed, 1);
  check_exact(2, 100, 2, 32, 32, Decay::Model, 2);
  check_exact(1, 130, 1, 64, 64, Decay::Mixed, 0);
  check_exact(2, 21, 2, 16, 1, Decay::Strong, 1);
  // The CUDA kernels' arithmetic.
  check_gpu_emulation(2, 128, 2, 0);
  check_gpu_emulation(1, 256, 1, 1);
  // The value split the CUDA backward runs with several blocks a head.
  for (int split : {2, 4}) {
    check_value_split(2, 70, 3, split, 1, false);
    check_value_split(1, 128, 2, split, 2, false);
    check_value_split(2, 64, 2, split, 1, true);
  }
  return rwkv_test::summary("wkv7_chunked_test");
}
