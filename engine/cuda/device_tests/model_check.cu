// Whole-model check of the CUDA backend against the CPU backend (the float32 oracle), run on
// the GPU machine by run_model_check.sh, for every method the GPU trains:
//   1. one training step of a small random model per method (full; LoRA + ln; LoRA with
//      dropout; PiSSA; MiSS; state tuning; infctx; LoRA on an int8 base, MiSS and state tuning on
//      an nf4 base, RWKV_CUDA_QUANT=1), each with --grad_cp 0 and 1 and the head in
//      several chunks: the loss, every trainable tensor's gradient and, after one AdamW step,
//      every updated tensor and the merged model; grad_cp 1 against grad_cp 0 on the GPU;
//   2. a fine-tune of STEPS steps per method on both backends from the same init and data:
//      the two loss curves, step by step;
//   3. (--bench) tokens/s and the allocator's peak of the GPU backend alone at a real size.
// With RWKV_CUDA_X060=1 in its environment (core/gpu_switches.h: the GPU's RWKV-6 path, off until
// this passes on a device) it then runs 1. and 2. for an RWKV-6 (x060) model too (`model_check
// STEPS x060`: those alone); without it, what it checks is unchanged.
// Tolerances are bf16's: the GPU rounds every activation and GEMM operand to bf16 (8 bits of
// mantissa, relative step 2^-8 = 0.4%) and the errors of ~20 chained ops per layer add up, so a
// gradient tensor passes when ||g_gpu - g_cpu|| / ||g_cpu|| <= 5%; the loss within 0.5%; a
// loss curve when every step is within 1%.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/errors.h"
#include "core/gpu_switches.h"
#include "core/model_x060.h"
#include "core/quant.h"
#include "cpu/pissa.h"
#include "train/infctx.h"
#include "train/init_weights.h"

using namespace rwkv;

static int failures = 0;
static uint64_t rng_state = 12345;
static double urand() {  // [0, 1)
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return double(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

// Random-ish weights: RWKV's init (which zeroes several projections and would leave their
// gradients trivially zero) plus uniform noise, so every path carries signal.
static StateDict noisy_weights(const ModelConfig& cfg, uint64_t seed, float noise) {
  StateDict w = cfg.version == "x060" ? init_x060_weights(cfg, seed) : init_x070_weights(cfg, seed);
  for (auto& [name, t] : w) {
    std::vector<float> v = t.to_f32();
    for (float& x : v) x += float((urand() * 2 - 1) * noise);
    std::vector<int64_t> shape = t.shape;
    t = HostTensor::from_f32(v, shape);
  }
  return w;
}

struct Data {
  std::vector<int32_t> in, tgt;
  std::vector<float> mask;
};
// A learnable stream: next = (7 * tok + 3) mod V with a random restart 1 time in 16.
static Data make_data(int B, int T, int V, bool with_mask) {
  Data d;
  int tok = int(urand() * V);
  for (int i = 0; i < B * T + 1; ++i) {
    d.in.push_back(tok);
    tok = urand() < 1.0 / 16 ? int(urand() * V) : (7 * tok + 3) % V;
  }
  d.tgt.assign(d.in.begin() + 1, d.in.end());
  d.in.pop_back();
  d.mask.assign(B * T, 1.f);
  if (with_mask)
    for (int i = 0; i < B * T; i += 7) d.mask[i] = 0.f;
  return d;
}

static double rel_diff(const HostTensor& a, const HostTensor& b, double* ref_norm) {
  std::vector<float> x = a.to_f32(), y = b.to_f32();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    den += double(y[i]) * y[i];
  }
  *ref_norm = std::sqrt(den);
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// Compares two state dicts by name; returns the worst relative difference.
static double compare(const char* what, const StateDict& gpu, const StateDict& cpu, double tol,
                      double abs_floor) {
  std::map<std::string, const HostTensor*> g;
  for (const auto& [n, t] : gpu) g[n] = &t;
  double worst = 0;
  std::string worst_name;
  int fails = 0;
  for (const auto& [n, t] : cpu) {
    if (n == "step") continue;
    auto it = g.find(n);
    if (it == g.end()) { printf("  %s: %s missing on GPU\n", what, n.c_str()); ++fails; continue; }
    double ref = 0;
    const double r = rel_diff(*it->second, t, &ref);
    const bool ok = r <= tol || ref * r <= abs_floor;  // tiny tensors: absolute error instead
    if (!ok) { printf("  %s FAIL %s rel=%.3e |ref|=%.3e\n", what, n.c_str(), r, ref); ++fails; }
    if (r > worst && ref > abs_floor) { worst = r; worst_name = n; }
  }
  printf("CHECK %s: %zu tensors, worst rel diff %.3e (%s), %d over tol %.0e -> %s\n", what,
         cpu.size(), worst, worst_name.c_str(), fails, tol, fails ? "FAIL" : "PASS");
  failures += fails;
  return worst;
}

// AdamW's first step moves every element by lr * g / |g| = +-lr (plus decay): a sign. Where a
// gradient element is within bf16 noise of zero the two backends may pick opposite signs, so
// the updated weights are compared element-wise against lr: at most 2% of the elements of a
// tensor may differ by more than lr/2, and none by more than 2.5 lr (a wrong lr, sign or
// moment formula moves most elements, or moves them further).
// Tolerances in units of each tensor's own learning rate (lr x its group's lr_scale): Adam's first
// step moves an element by about its lr either way, so an element whose tiny gradient has
// another sign in bf16 differs by 2 of its lr, which is 4 lr on RWKV-LM's 2x att.w0 group.
static void check_updates(const StateDict& gpu, const StateDict& cpu, float base_lr,
                          const std::map<std::string, float>& lr_scale) {
  std::map<std::string, const HostTensor*> g;
  for (const auto& [n, t] : gpu) g[n] = &t;
  double worst_frac = 0, worst_abs = 0;
  int fails = 0;
  for (const auto& [n, t] : cpu) {
    const auto sc = lr_scale.find(n);
    const float lr = base_lr * (sc == lr_scale.end() ? 1.f : sc->second);
    std::vector<float> x = g.at(n)->to_f32(), y = t.to_f32();
    size_t off = 0;
    double mx = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double d = std::fabs(double(x[i]) - y[i]);
      off += d > 0.5 * lr;
      mx = std::max(mx, d);
    }
    const double frac = double(off) / x.size();
    worst_frac = std::max(worst_frac, frac);
    worst_abs = std::max(worst_abs, mx / lr);
    if (frac > 0.02 || mx > 2.5 * lr) {
      printf("  updated weights FAIL %s: %.2f%% of elements differ by > lr/2, max |diff| %.2f lr\n",
             n.c_str(), 100 * frac, mx / lr);
      ++fails;
    }
  }
  printf("CHECK updated weights (one AdamW step, lr %.0e, each tensor in its own group's lr): %zu tensors, "
         "worst %.3f%% of elements off by > lr/2 (tol 2%%), max |diff| %.2f lr (tol 2.5) -> %s\n", base_lr,
         cpu.size(), 100 * worst_frac, worst_abs, fails ? "FAIL" : "PASS");
  failures += fails;
}


// One method under test: how both backends are built and how a micro-batch is trained.
struct Method {
  std::string name;
  ModelConfig cfg;
  PeftConfig peft;
  StateDict weights;     // base weights (PiSSA: the residual W - B A)
  StateDict initial;     // trainable tensors both backends start from (PiSSA's A, B); may be empty
  int infctx_chunk = 0;  // > 0: --train_type infctx with this chunk_ctx
  QuantType quant = QuantType::None;  // --quant: both backends store the base linears quantised
};

static std::unique_ptr<Backend> build(const Method& m, bool gpu, bool grad_cp, int head_chunk,
                                      int64_t pass_tokens = -1) {
  BackendOptions bo;
  bo.seed = 99;
  bo.grad_checkpoint = grad_cp;
  bo.head_chunk = head_chunk;
  bo.pass_tokens = pass_tokens;
  bo.quant = m.quant;
  std::unique_ptr<Backend> be = gpu ? make_cuda_backend(m.cfg, m.peft, m.weights, bo)
                                    : make_cpu_backend(m.cfg, m.peft, m.weights, bo);
  if (!m.initial.empty()) be->import_trainable(m.initial);
  return be;
}

static LossResult train_micro(Backend& be, const Method& m, const Data& d, int B, int T, bool mask) {
  if (m.infctx_chunk > 0) {
    LossResult r;
    r.loss = infctx_forward_backward(be, m.cfg, B, T, m.infctx_chunk, d.in.data(), d.tgt.data(),
                                     mask ? d.mask.data() : nullptr, 1.0f);
    r.tokens = -1;  // not reported by the chunked path
    return r;
  }
  Batch b{B, T, d.in.data(), d.tgt.data(), mask ? d.mask.data() : nullptr};
  return be.forward_backward(b, 1.0f);
}

static void check_value(bool ok, const char* fmt, double a, double b, double rel) {
  printf(fmt, a, b, rel, ok ? "PASS" : "FAIL");
  failures += !ok;
}

// Only the tensors an adapter changes: the merged model's linears (MiSS/LoRA fold into them).
static StateDict merged_linears(const StateDict& merged) {
  StateDict out;
  for (const auto& [n, t] : merged)
    if (n.find("receptance.weight") != std::string::npos || n.find("key.weight") != std::string::npos ||
        n.find("value.weight") != std::string::npos || n.find("output.weight") != std::string::npos ||
        n.find("gate.weight") != std::string::npos ||  // x060's att.gate
        n.find("time_state") != std::string::npos)
      out.push_back({n, t});
  return out;
}

static void whole_step(const Method& m, int B, int T, bool grad_cp, int head_chunk) {
  printf("== whole step, %s, grad_cp %d, head_chunk %d: L%d D%d V%d, B%d T%d ==\n", m.name.c_str(), int(grad_cp),
         head_chunk, m.cfg.n_layer, m.cfg.n_embd, m.cfg.vocab_size, B, T);
  auto cpu = build(m, false, false, 0);
  auto gpu = build(m, true, grad_cp, head_chunk);
  compare("initial trainable weights", gpu->export_weights(ExportKind::AdapterOnly),
          cpu->export_weights(ExportKind::AdapterOnly), 4e-3, 1e-6);
  rng_state = 777;
  Data d = make_data(B, T, m.cfg.vocab_size, true);
  LossResult lc = train_micro(*cpu, m, d, B, T, true), lg = train_micro(*gpu, m, d, B, T, true);
  const double lrel = std::fabs(lg.loss - lc.loss) / lc.loss;
  printf("CHECK loss: cpu %.6f gpu %.6f rel %.2e tokens %lld/%lld -> %s\n", lc.loss, lg.loss, lrel,
         (long long)lc.tokens, (long long)lg.tokens, lrel <= 5e-3 && lc.tokens == lg.tokens ? "PASS" : "FAIL");
  failures += !(lrel <= 5e-3 && lc.tokens == lg.tokens);
  const double nc = cpu->grad_norm(), ng = gpu->grad_norm();
  check_value(std::fabs(ng - nc) / nc <= 5e-2, "CHECK grad norm: cpu %.6e gpu %.6e rel %.2e -> %s\n", nc, ng,
        std::fabs(ng - nc) / nc);
  compare("gradients", gpu->export_grads(), cpu->export_grads(), 5e-2, 1e-7);
  AdamWParams hp;
  hp.lr = 1e-3f;
  hp.weight_decay = 0.01f;
  // The trainer's parameter groups as RWKV-LM's flags make them (2x lr on att.w0, decay on
  // >=2-D .weight tensors only): a backend ignoring them moves att.w0 by half, so the
  // update check below fails there.
  std::map<std::string, float> scale_of;
  for (const ParamInfo& p : cpu->trainable_params()) {
    hp.lr_scale.push_back(p.name.find("att.w0") != std::string::npos ? 2.f : 1.f);
    scale_of[p.name] = hp.lr_scale.back();
    hp.decay.push_back(p.shape.size() >= 2 && p.name.size() > 7 && p.name.compare(p.name.size() - 7, 7, ".weight") == 0);
  }
  cpu->optimizer_step(hp);
  gpu->optimizer_step(hp);
  check_updates(gpu->export_weights(ExportKind::AdapterOnly), cpu->export_weights(ExportKind::AdapterOnly), hp.lr,
                scale_of);
  compare("adam moments", gpu->export_optimizer_state(), cpu->export_optimizer_state(), 1e-1, 1e-7);
  if (m.peft.method != PeftMethod::Full)
    compare("merged model (--merge 1) linears and state", merged_linears(gpu->export_weights(ExportKind::Merged)),
            merged_linears(cpu->export_weights(ExportKind::Merged)), 1e-2, 1e-6);
  MemoryStats ms = gpu->memory();
  printf("MEM gpu in_use %.1f MiB peak %.1f MiB reserved %.1f MiB\n", ms.in_use_bytes / 1048576.0,
         ms.peak_bytes / 1048576.0, ms.reserved_bytes / 1048576.0);
}

// --grad_cp 1 recomputes exactly the forward that --grad_cp 0 kept: the GPU's gradients agree
// with themselves far inside the bf16 tolerance, and the recomputing run holds less memory.
static void grad_cp_self_check(const Method& m, int B, int T) {
  printf("== grad_cp 1 vs grad_cp 0 on the GPU, %s ==\n", m.name.c_str());
  auto keep = build(m, true, false, 0);
  auto recompute = build(m, true, true, 0);
  rng_state = 4242;
  Data d = make_data(B, T, m.cfg.vocab_size, false);
  LossResult a = train_micro(*keep, m, d, B, T, false), b = train_micro(*recompute, m, d, B, T, false);
  check_value(std::fabs(a.loss - b.loss) <= 1e-6 * std::fabs(a.loss), "CHECK loss gcp0 %.7f gcp1 %.7f rel %.1e -> %s\n",
        a.loss, b.loss, std::fabs(a.loss - b.loss) / a.loss);
  compare("gradients grad_cp 1 vs 0", recompute->export_grads(), keep->export_grads(), 1e-3, 1e-8);
  const double pk = keep->memory().peak_bytes / 1048576.0, pr = recompute->memory().peak_bytes / 1048576.0;
  printf("CHECK allocator peak: grad_cp 0 %.1f MiB, grad_cp 1 %.1f MiB -> %s\n", pk, pr, pr < pk ? "PASS" : "FAIL");
  failures += !(pr < pk);
}

// A micro-batch run one sequence a pass (core/batch_passes.h) gives the unsplit step's loss and
// gradients (the fp32 sums only add up in another order): loss mask, dropout masks (each pass
// draws its rows' part of the micro-batch's mask), state tuning's summed d state, and the
// L2Wrap rows all span the whole micro-batch. B = 3 so the passes are not a power of two.
static void pass_check(const Method& m, int T) {
  printf("== passes of one sequence vs the whole micro-batch on the GPU (grad_cp 1), %s ==\n", m.name.c_str());
  const int B = 3;
  auto whole = build(m, true, true, 0, /*pass_tokens=*/0);
  auto split = build(m, true, true, 0, /*pass_tokens=*/T);
  rng_state = 5151;
  Data d = make_data(B, T, m.cfg.vocab_size, true);
  LossResult a = train_micro(*whole, m, d, B, T, true), b = train_micro(*split, m, d, B, T, true);
  check_value(std::fabs(a.loss - b.loss) <= 1e-6 * std::fabs(a.loss) && a.tokens == b.tokens,
              "CHECK loss whole %.7f passes %.7f rel %.1e -> %s\n", a.loss, b.loss, std::fabs(a.loss - b.loss) / a.loss);
  compare("gradients passes vs whole", split->export_grads(), whole->export_grads(), 1e-3, 1e-8);
  const double pw = whole->memory().peak_bytes / 1048576.0, ps = split->memory().peak_bytes / 1048576.0;
  printf("CHECK allocator peak: whole %.1f MiB, passes %.1f MiB -> %s\n", pw, ps, ps < pw ? "PASS" : "FAIL");
  failures += !(ps < pw);
}

static void curve(const Method& m, int B, int T, int steps) {
  printf("== %s, %d steps, both backends from the same init and data (grad_cp 1 on the GPU) ==\n",
         m.name.c_str(), steps);
  auto cpu = build(m, false, false, 0);
  auto gpu = build(m, true, true, 0);
  AdamWParams hp;
  hp.lr = m.peft.method == PeftMethod::State ? 2e-2f : 2e-3f;
  double worst = 0, sum_rel = 0, first = 0, last = 0;
  rng_state = 2024;
  for (int s = 0; s < steps; ++s) {
    Data d = make_data(B, T, m.cfg.vocab_size, false);
    LossResult lc = train_micro(*cpu, m, d, B, T, false), lg = train_micro(*gpu, m, d, B, T, false);
    for (auto* be : {cpu.get(), gpu.get()}) {
      const double n = be->grad_norm();
      if (n > 1.0) be->scale_grads(float(1.0 / n));
      be->optimizer_step(hp);
    }
    const double rel = std::fabs(lg.loss - lc.loss) / lc.loss;
    worst = std::max(worst, rel);
    sum_rel += rel;
    if (s == 0) first = lc.loss;
    last = lc.loss;
    if (s % 20 == 0 || s == steps - 1) printf("CURVE %s step %3d cpu %.5f gpu %.5f rel %.2e\n", m.name.c_str(), s, lc.loss, lg.loss, rel);
  }
  printf("CHECK %d-step %s curve: loss %.3f -> %.3f, worst rel %.3e mean rel %.3e (tol 1e-2) -> %s\n", steps,
         m.name.c_str(), first, last, worst, sum_rel / steps, worst <= 1e-2 ? "PASS" : "FAIL");
  failures += worst > 1e-2;
}

static std::vector<Method> methods(const ModelConfig& cfg, const StateDict& w) {
  std::vector<Method> out;
  Method full{"full fine-tuning", cfg, PeftConfig{}, w, {}, 0};
  out.push_back(full);
  Method lora{"LoRA r16 + ln", cfg, PeftConfig{}, w, {}, 0};
  lora.peft.method = PeftMethod::Lora;
  lora.peft.r = 16;
  lora.peft.lora_alpha = 32;
  lora.peft.target_modules = {"receptance", "key", "value", "output"};
  lora.peft.train_parts = {"ln"};
  out.push_back(lora);
  Method drop = lora;
  drop.name = "LoRA r16 dropout 0.1";
  drop.peft.lora_dropout = 0.1f;
  drop.peft.train_parts = {};
  out.push_back(drop);
  // PiSSA as the trainer runs it (train/adapter_start.cpp): the residual base and the SVD's A, B
  // on the LoRA path with scaling 1.
  Method pissa{"PiSSA r16", cfg, PeftConfig{}, w, {}, 0};
  pissa.peft.method = PeftMethod::Lora;
  pissa.peft.r = 16;
  pissa.peft.lora_alpha = 16;
  pissa.peft.target_modules = {"receptance", "key", "value", "output"};
  const auto prefixes = adapted_linear_prefixes(cfg, pissa.peft.target_modules);
  const StateDict init = pissa_initial_adapters(w, prefixes, 16, 4, 8, 5, 1.0f);
  subtract_pissa_init(pissa.weights, init, prefixes, 1.0f);
  pissa.initial = pissa_adapter_from_init(init, prefixes);
  out.push_back(pissa);
  Method miss{"MiSS r16", cfg, PeftConfig{}, w, {}, 0};
  miss.peft.method = PeftMethod::Miss;
  miss.peft.r = 16;
  miss.peft.target_modules = {"receptance", "key", "value", "output"};  // "key"/"value" match att. and ffn.
  out.push_back(miss);
  Method state{"state tuning", cfg, PeftConfig{}, w, {}, 0};
  state.peft.method = PeftMethod::State;
  // a non-zero trained state, so the kernel's initial-state path carries signal
  for (int l = 0; l < cfg.n_layer; ++l) {
    std::vector<float> s0(size_t(cfg.n_head()) * cfg.head_size * cfg.head_size);
    for (float& x : s0) x = float((urand() * 2 - 1) * 0.3);
    state.weights.push_back({"blocks." + std::to_string(l) + ".att.time_state",
                             HostTensor::from_f32(s0, {cfg.n_head(), cfg.head_size, cfg.head_size})});
  }
  out.push_back(state);
  Method inf = lora;
  inf.name = "infctx LoRA, chunk_ctx 32";
  inf.infctx_chunk = 32;
  out.push_back(inf);
  // --quant: the same dequantised base on both backends (core/quant.cpp and its GPU twin are
  // bit-exact), so the bf16 tolerances hold; the GPU's scratch-and-GEMM path is what is checked
  Method lora8 = lora;
  lora8.name = "LoRA r16 + ln, int8 base";
  lora8.quant = QuantType::Int8;
  out.push_back(lora8);
  Method miss4 = miss;
  miss4.name = "MiSS r16, nf4 base";
  miss4.quant = QuantType::Nf4;
  out.push_back(miss4);
  Method state4 = state;
  state4.name = "state tuning, nf4 base";
  state4.quant = QuantType::Nf4;
  out.push_back(state4);
  return out;
}

// The same methods on an RWKV-6 (x060) model: LoRA, PiSSA and MiSS adapt x060's att.gate too
// (RWKV-PEFT's default target list for it); "key"/"value"/"receptance" match att. and ffn.
static std::vector<Method> x060_methods(const ModelConfig& cfg, const StateDict& w) {
  std::vector<Method> out = methods(cfg, w);
  for (Method& m : out) {
    m.name = "x060 " + m.name;
    if (m.peft.method == PeftMethod::Full || m.peft.method == PeftMethod::State) continue;
    m.peft.target_modules = {"receptance", "key", "value", "gate", "output"};
    if (!m.initial.empty()) {  // PiSSA: redo the split for the longer target list
      m.weights = w;
      const auto prefixes = adapted_linear_prefixes(cfg, m.peft.target_modules);
      const StateDict init = pissa_initial_adapters(w, prefixes, 16, 4, 8, 5, 1.0f);
      subtract_pissa_init(m.weights, init, prefixes, 1.0f);
      m.initial = pissa_adapter_from_init(init, prefixes);
    }
  }
  return out;
}

static void bench(int L, int D, int T, int B, bool lora, int steps, bool grad_cp, QuantType quant) {
  steps = std::max(steps, 4);
  ModelConfig cfg = model_config_for_size(L, D, 65536);
  printf("== bench %s L%d D%d ctx %d bsz %d quant %s ==\n", lora ? "LoRA r64" : "full", L, D, T, B, quant_type_name(quant));
  StateDict w = noisy_weights(cfg, 7, 0.0f);
  PeftConfig peft;
  if (lora) { peft.method = PeftMethod::Lora; peft.r = 64; peft.lora_alpha = 128; }
  BackendOptions bo;
  bo.grad_checkpoint = grad_cp;
  bo.quant = quant;
  auto gpu = make_cuda_backend(cfg, peft, w, bo);
  w.clear();
  AdamWParams hp;
  std::vector<double> tps;
  for (int s = 0; s < steps; ++s) {
    std::vector<int32_t> in(size_t(B) * T), tg(size_t(B) * T);
    for (auto& x : in) x = int(urand() * 65536);
    for (auto& x : tg) x = int(urand() * 65536);
    Batch b{B, T, in.data(), tg.data(), nullptr};
    auto t0 = std::chrono::steady_clock::now();
    LossResult r = gpu->forward_backward(b, 1.0f);
    gpu->grad_norm();
    gpu->optimizer_step(hp);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tps.push_back(B * T / sec);
    printf("BENCHSTEP %d loss %.4f %.0f tokens/s\n", s, r.loss, B * T / sec);
  }
  std::vector<double> tail(tps.begin() + std::min<size_t>(3, tps.size() - 1), tps.end());
  std::sort(tail.begin(), tail.end());
  MemoryStats m = gpu->memory();
  // What nvidia-smi would show for this process (the peer's memory figure): the allocator
  // caches every block it ever used, so the device's used memory now is its peak plus the CUDA
  // context and the cuBLASLt workspace.
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  printf("BENCH %s%s-L%d-D%d-%dx%d-gcp%d tokens_per_s=%.0f peak_MiB=%.0f reserved_MiB=%.0f weights_MiB=%.0f "
         "device_used_MiB=%.0f\n",
         lora ? "lora" : "full", quant == QuantType::None ? "" : (std::string("-") + quant_type_name(quant)).c_str(),
         L, D, T, B, int(grad_cp), tail[tail.size() / 2], m.peak_bytes / 1048576.0,
         m.reserved_bytes / 1048576.0, (m.weights_bytes + m.grads_bytes + m.optimizer_bytes) / 1048576.0,
         (total_b - free_b) / 1048576.0);
}


int main(int argc, char** argv) {
  try {
    // The device check is what the GPU's --quant switch waits for (core/quant.h): on here.
    setenv("RWKV_CUDA_QUANT", "1", 1);
    // --bench L D CTX BSZ lora|none STEPS [GRAD_CP] [none|int8|nf4]: one configuration, GPU backend only.
    if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
      if (argc < 8) { printf("usage: model_check --bench L D CTX BSZ lora|none STEPS [GRAD_CP] [QUANT]\n"); return 2; }
      bench(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
            std::strcmp(argv[6], "lora") == 0, std::atoi(argv[7]), argc > 8 && std::atoi(argv[8]) != 0,
            argc > 9 ? parse_quant_type(argv[9]) : QuantType::None);
      return 0;
    }
    const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
    const bool x060_only = argc > 2 && std::strcmp(argv[2], "x060") == 0;
    const int B = 2, T = 64;
    auto check_all = [&](const std::vector<Method>& ms) {
      for (const Method& m : ms) {
        whole_step(m, B, T, false, 0);
        whole_step(m, B, T, true, 48);  // grad_cp 1 and the head in chunks of 48, 48, 32 rows
        if (m.infctx_chunk == 0) grad_cp_self_check(m, B, T);
        if (m.infctx_chunk == 0) pass_check(m, T);
      }
    };
    if (!x060_only) {
      ModelConfig cfg = model_config_for_size(2, 128, 512);
      StateDict w = noisy_weights(cfg, 1, 0.05f);
      check_all(methods(cfg, w));
      for (const Method& m : methods(cfg, w)) curve(m, B, T, steps);
    }
    // RWKV-6 (x060): only where the GPU path is switched on (the device run that verifies it).
    if (cuda_x060_enabled()) {
      ModelConfig cfg = model_config_x060_for_size(2, 128, 512);  // C 128: H 2, dim_ffn 448, Dm 32, Dd 64
      StateDict w = noisy_weights(cfg, 1, 0.05f);
      const std::vector<Method> ms = x060_methods(cfg, w);
      check_all(ms);
      whole_step(ms.front(), B, 50, false, 0);  // WKV6 takes a ctx_len that is no multiple of 16
      for (const Method& m : ms) curve(m, B, T, steps);
    } else if (x060_only) {
      printf("ERROR the x060 cases need RWKV_CUDA_X060=1 in the environment\n");
      return 2;
    }
  } catch (const EngineError& e) {
    printf("ERROR %s: %s (%s)\n", e.code.c_str(), e.what(), e.hint.c_str());
    return 2;
  }
  printf("SUMMARY %s (%d failed)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

