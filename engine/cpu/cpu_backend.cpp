// The CPU backend: RWKV-7 (x070) and RWKV-6 (x060) forward and backward in float32 exactly as
// RWKV-PEFT's rwkvt/rwkv7 and rwkvt/rwkv6 compute them (ops.h and x060_ops.h for each op; the
// x060 block is x060_layer.h), with LoRA/PiSSA/MiSS adapters, state tuning and AdamW. Every
// activation is kept for backward (no recomputation): it is the oracle, not the fast path.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "core/adapter_math.h"
#include "core/backend.h"
#include "core/errors.h"
#include "core/dropout_mask.h"
#include "core/model_shapes.h"
#include "core/optimizer_state.h"
#include "core/x070_layout.h"
#include "cpu/ops.h"
#include "cpu/pissa.h"
#include "cpu/x060_layer.h"

namespace rwkv {
namespace {

struct Param {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> w, g, m, v;
  bool trainable = false;
  bool adapter = false;  // not part of the base model (lora_A/B, disha, time_state)
  // --quant: the frozen weight lives here instead of in w (which is then empty)
  std::unique_ptr<QuantTensor> q;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  std::vector<float> values() const { return q ? dequantize(*q) : w; }
};

// A linear layer (torch layout W [out, in]) with its optional adapter.
struct Linear {
  Param* W = nullptr;
  Param* A = nullptr;     // lora_A [r, in]
  Param* Bm = nullptr;    // lora_B [out, r]
  Param* miss = nullptr;  // disha [r, out]
  int in = 0, out = 0;
};

// What one linear's forward keeps for its backward.
struct LinearCache {
  std::vector<float> x_drop;  // dropout(x) for the LoRA path (empty when no dropout)
  std::vector<uint8_t> kept;  // dropout's keep mask
  std::vector<float> xa;      // x_drop A^T [M, r]
  std::vector<float> xs;      // MiSS block sums [M, r]
};

struct LayerParams {
  Param *ln0_w = nullptr, *ln0_b = nullptr, *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  Param *x_r, *x_w, *x_k, *x_v, *x_a, *x_g, *w0, *w1, *w2, *a0, *a1, *a2;
  Param *v0 = nullptr, *v1 = nullptr, *v2 = nullptr;
  Param *g1, *g2, *k_k, *k_a, *r_k, *lnx_w, *lnx_b, *ffn_x_k;
  Param* time_state = nullptr;
  Linear rec, key, val, out, ffn_key, ffn_val;
};

// An x060 block's tensors (x060_layer.h reads them through x060::LayerWeights) and linears,
// indexed by x060::LinearRole.
struct X060LayerParams {
  Param *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  Param *maa_x, *maa_w, *maa_k, *maa_v, *maa_r, *maa_g, *maa_w1, *maa_w2;
  Param *time_decay, *decay_w1, *decay_w2, *faaaa, *lnx_w, *lnx_b, *ffn_maa_k, *ffn_maa_r;
  Param* time_state = nullptr;
  std::array<Linear, x060::kLinearCount> lin;
};

// Where a block linear sits, for the adapter setup and --quant, whichever generation the block is.
struct LinearSlot {
  Linear* lin;
  const char* module;   // what target_modules names it by (the last part of its name)
  std::string prefix;   // its state-dict name without ".weight"
};

struct LayerCache {
  std::vector<float> x_in, ln0_mean, ln0_rstd, x0;                       // x0: after ln0 (layer 0)
  std::vector<float> h1, ln1_mean, ln1_rstd, xx, xr, xw, xk, xv, xa, xg;
  std::vector<float> r, w1o, w1t, wpre, w, k, v_raw, vlin, vg, v, a1o, a, g1o, g1s, g;
  std::vector<float> kkpre, kk, kknorm, k2, bvec, negkk, wkv, states, lnx_mean, lnx_rstd, gn;
  std::vector<float> o3, og;
  std::vector<float> x_mid, h2, ln2_mean, ln2_rstd, xx2, fk_in, fk, fk_act;
  std::vector<float> wkv_init;  // infctx: the WKV state this chunk started from, [B,H,N,N]
  LinearCache c_rec, c_key, c_val, c_out, c_fkey, c_fval;
};

// Replaces a tensor's values without moving its storage: trainable_view() hands out pointers
// into these vectors, which must stay valid after a resume imports the saved state.
void assign_in_place(std::vector<float>& dst, const std::vector<float>& src) {
  if (dst.size() == src.size()) std::copy(src.begin(), src.end(), dst.begin());
  else dst = src;
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelConfig& cfg, const PeftConfig& peft, const StateDict& weights,
             const BackendOptions& opt)
      : cfg_(cfg), peft_(peft), opt_(opt) {
    validate_model_weights(cfg, weights);
    std::map<std::string, const HostTensor*> by_name;
    for (const auto& [n, t] : weights) by_name[n] = &t;
    for (const auto& [name, shape] : model_tensor_shapes(cfg)) {
      Param* p = add(name, shape, false);
      p->w = by_name[name]->to_f32();
    }
    if (x060()) setup_x060_layers();
    else setup_layers();
    setup_peft(by_name);
    if (opt.quant != QuantType::None) quantize_base();
  }

  std::string device_name() const override { return "cpu"; }
  const ModelConfig& config() const override { return cfg_; }

  std::vector<ParamInfo> trainable_params() const override {
    std::vector<ParamInfo> out;
    for (const auto& p : params_)
      if (p->trainable) out.push_back({p->name, p->shape, decays(*p)});
    return out;
  }
  int64_t total_param_count() const override {
    int64_t n = 0;
    for (const auto& p : params_) n += p->numel();
    return n;
  }

  LossResult forward(const Batch& batch, float* logits_out) override {
    std::vector<float> logits;
    if (x060()) run_forward_x060(batch, logits);
    else run_forward(batch, logits);
    LossResult res;
    res.loss = ops::cross_entropy_fwd(logits.data(), batch.targets, batch.loss_mask,
                                      batch.B * batch.T, cfg_.vocab_size, &res.tokens);
    if (logits_out) std::copy(logits.begin(), logits.end(), logits_out);
    return res;
  }

  LossResult forward_backward(const Batch& batch, float loss_scale) override {
    std::vector<float> logits;
    if (x060()) run_forward_x060(batch, logits);
    else run_forward(batch, logits);
    const int M = batch.B * batch.T;
    LossResult res;
    std::vector<float> dlogits(logits.size());
    res.loss = ops::cross_entropy_fwd_bwd(logits.data(), batch.targets, batch.loss_mask,
                                          dlogits.data(), loss_scale, M, cfg_.vocab_size, &res.tokens,
                                          batch.l2wrap_rows);
    logits.clear();
    logits.shrink_to_fit();
    if (x060()) run_backward_x060(batch, dlogits);
    else run_backward(batch, dlogits);
    ++micro_batches_;
    // The CPU backward finishes every gradient at once; they are reported head first, the order
    // the GPU's backward finishes them in, so the bucket logic is the same.
    if (grad_ready_)
      for (int i = int(trainable_count()) - 1; i >= 0; --i) grad_ready_(i);
    return res;
  }

  double grad_norm() override {
    double s = 0;
    for (const auto& p : params_)
      if (p->trainable)
        for (float g : p->g) s += double(g) * g;
    return std::sqrt(s);
  }
  void scale_grads(float f) override {
    for (auto& p : params_)
      if (p->trainable)
        for (float& g : p->g) g *= f;
  }
  void zero_grads() override {
    for (auto& p : params_)
      if (p->trainable) std::fill(p->g.begin(), p->g.end(), 0.0f);
  }
  void optimizer_step(const AdamWParams& hp) override {
    ++step_;
    size_t i = 0;  // index into hp.lr_scale / hp.decay: trainable_params() order
    for (auto& p : params_) {
      if (!p->trainable) continue;
      const float lr = i < hp.lr_scale.size() ? hp.lr * hp.lr_scale[i] : hp.lr;
      const bool decay = i < hp.decay.size() ? hp.decay[i] != 0 : decays(*p);
      ++i;
      ops::adamw_step(p->w.data(), p->g.data(), p->m.data(), p->v.data(), p->numel(), lr,
                      hp.beta1, hp.beta2, hp.eps, decay ? hp.weight_decay : 0.0f, step_);
    }
    zero_grads();
    micro_batches_ = 0;
  }
  int64_t optimizer_steps() const override { return step_; }

  StateDict export_weights(ExportKind kind) const override {
    StateDict out;
    if (kind == ExportKind::AdapterOnly) {
      for (const auto& p : params_)
        if (p->trainable) out.push_back({p->name, HostTensor::from_f32(p->w, p->shape)});
      return out;
    }
    for (const auto& p : params_) {
      if (p->adapter && kind == ExportKind::Merged) continue;
      std::vector<float> w = p->values();  // a quantised base: dequant(W), as RWKV-PEFT merges
      if (kind == ExportKind::Merged) merge_into(p->name, w);
      out.push_back({p->name, HostTensor::from_f32(w, p->shape)});
    }
    if (kind == ExportKind::Merged)  // state tuning: the trained state is the product
      for (const auto& p : params_)
        if (p->adapter && p->name.find("time_state") != std::string::npos)
          out.push_back({p->name, HostTensor::from_f32(p->w, p->shape)});
    return out;
  }

  StateDict export_grads() const override {
    StateDict out;
    for (const auto& p : params_)
      if (p->trainable) out.push_back({p->name, HostTensor::from_f32(p->g, p->shape)});
    return out;
  }

  void import_trainable(const StateDict& tensors) override {
    for (const auto& [name, t] : tensors) {
      Param* p = find(name);
      if (p && p->q)
        throw EngineError("E_QUANT_TRAINED", "'" + name + "' is a quantised base weight: it cannot be replaced",
                          "load base weights with --load_model; --quant keeps the block linears frozen");
      if (!p || t.numel() != p->numel())
        throw EngineError("E_RESUME_SHAPE", "saved tensor '" + name + "' does not fit this run",
                          "resume with the same model and PEFT settings, or use a new proj_dir");
      assign_in_place(p->w, t.to_f32());
    }
  }

  TrainableView trainable_view() override {
    TrainableView v;
    const bool sharded = shard_slices_set_;
    for (auto& p : params_) {
      if (!p->trainable) continue;
      v.param.push_back(p->w.data());
      v.grad.push_back(p->g.data());
      v.exp_avg.push_back(sharded ? nullptr : p->m.data());
      v.exp_avg_sq.push_back(sharded ? nullptr : p->v.data());
      v.numel.push_back(p->numel());
    }
    if (sharded) {
      v.shard_exp_avg = shard_m_.data();
      v.shard_exp_avg_sq = shard_v_.data();
      v.shard_count = int64_t(shard_m_.size());
    }
    return v;
  }
  void optimizer_step_slices(const AdamWParams& hp, const std::vector<TensorSlice>& slices) override {
    ++step_;
    std::vector<Param*> trained;
    for (auto& p : params_)
      if (p->trainable) trained.push_back(p.get());
    const bool sharded = shard_slices_set_;
    int64_t off = 0;  // sharded: where the slice's moments start in this rank's buffers
    for (const TensorSlice& s : slices) {
      Param* p = trained.at(size_t(s.tensor));
      const size_t i = size_t(s.tensor);
      const float lr = i < hp.lr_scale.size() ? hp.lr * hp.lr_scale[i] : hp.lr;
      const bool decay = i < hp.decay.size() ? hp.decay[i] != 0 : decays(*p);
      float* m = sharded ? shard_m_.data() + off : p->m.data() + s.begin;
      float* v = sharded ? shard_v_.data() + off : p->v.data() + s.begin;
      ops::adamw_step(p->w.data() + s.begin, p->g.data() + s.begin, m, v, s.end - s.begin, lr, hp.beta1, hp.beta2,
                      hp.eps, decay ? hp.weight_decay : 0.0f, step_);
      off += s.end - s.begin;
    }
    zero_grads();
    micro_batches_ = 0;
  }
  void shard_optimizer_state(const std::vector<TensorSlice>& slices, int64_t count) override {
    std::vector<Param*> trained;
    for (auto& p : params_)
      if (p->trainable) trained.push_back(p.get());
    shard_m_.assign(size_t(count), 0.0f);
    shard_v_.assign(size_t(count), 0.0f);
    int64_t off = 0;
    for (const TensorSlice& s : slices) {
      const Param* p = trained.at(size_t(s.tensor));
      std::copy(p->m.begin() + s.begin, p->m.begin() + s.end, shard_m_.begin() + off);
      std::copy(p->v.begin() + s.begin, p->v.begin() + s.end, shard_v_.begin() + off);
      off += s.end - s.begin;
    }
    for (Param* p : trained) {  // the rest of the state is another rank's
      std::vector<float>().swap(p->m);
      std::vector<float>().swap(p->v);
    }
    shard_slices_set_ = true;
  }
  void import_optimizer_shard(const float* m, const float* v, int64_t count, int64_t step) override {
    if (!shard_slices_set_ || count != int64_t(shard_m_.size()))
      throw EngineError("E_INTERNAL", "optimizer shard of the wrong size", "");
    std::copy(m, m + count, shard_m_.begin());
    std::copy(v, v + count, shard_v_.begin());
    step_ = step;
  }
  void set_grad_ready_hook(std::function<void(int)> hook) override { grad_ready_ = std::move(hook); }
  size_t trainable_count() const {
    size_t n = 0;
    for (const auto& p : params_) n += p->trainable;
    return n;
  }

  StateDict export_optimizer_state() const override {
    if (shard_slices_set_)
      throw EngineError("E_INTERNAL", "the sharded AdamW state is gathered by DataParallel", "");
    std::vector<AdamMoments> moments;
    for (const auto& p : params_)
      if (p->trainable) moments.push_back({p->name, p->shape, p->m, p->v});
    return optimizer_state_dict(moments, step_);
  }

  void import_optimizer_state(const StateDict& state) override {
    if (shard_slices_set_)
      throw EngineError("E_INTERNAL", "the sharded AdamW state is imported by DataParallel", "");
    read_optimizer_state(state, step_, [&](const std::string& name, bool second, const HostTensor& t) {
      Param* p = find(name);
      if (!p || !p->trainable || t.numel() != p->numel()) return false;
      assign_in_place(second ? p->v : p->m, t.to_f32());
      return true;
    });
  }

  MemoryStats memory() const override {
    MemoryStats s;
    for (const auto& p : params_) {
      s.weights_bytes += p->q ? p->q->bytes() : p->w.size() * 4;
      s.grads_bytes += p->g.size() * 4;
      s.optimizer_bytes += (p->m.size() + p->v.size()) * 4;
    }
    s.optimizer_bytes += (shard_m_.size() + shard_v_.size()) * 4;
    s.activations_bytes = peak_activations_ + deq_.size() * 4;  // + the one dequantised matrix
    s.in_use_bytes = s.weights_bytes + s.grads_bytes + s.optimizer_bytes + deq_.size() * 4;
    s.reserved_bytes = s.in_use_bytes;
    s.peak_bytes = s.in_use_bytes + peak_activations_;
    return s;
  }

 private:
  Param* add(const std::string& name, std::vector<int64_t> shape, bool adapter) {
    auto p = std::make_unique<Param>();
    p->name = name;
    p->shape = std::move(shape);
    int64_t n = 1;
    for (auto d : p->shape) n *= d;
    p->w.assign(n, 0.0f);
    p->adapter = adapter;
    Param* raw = p.get();
    by_name_[name] = raw;
    params_.push_back(std::move(p));
    return raw;
  }
  Param* find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  void make_trainable(Param* p) {
    if (p->trainable) return;
    p->trainable = true;
    p->g.assign(p->w.size(), 0.0f);
    p->m.assign(p->w.size(), 0.0f);
    p->v.assign(p->w.size(), 0.0f);
  }
  static bool decays(const Param& p) {
    int dims = 0;  // RWKV's rule: len(p.squeeze().shape) >= 2
    for (auto d : p.shape) if (d > 1) ++dims;
    return dims >= 2;
  }

  void setup_layers() {
    layers_.resize(cfg_.n_layer);
    const int C = cfg_.n_embd, F = cfg_.dim_ffn;
    auto find_param = [&](const std::string& name) { return find(name); };
    for (int l = 0; l < cfg_.n_layer; ++l) {
      LayerParams& L = layers_[l];
      x070::bind_block_tensors(L, l, find_param);
      for (const x070::LinearSpec& spec : x070::kBlockLinears)
        x070::linear_of(L, spec.role) = {find(x070::block_prefix(l) + spec.part + ".weight"), nullptr, nullptr,
                                         nullptr, spec.in_is_ffn ? F : C, spec.out_is_ffn ? F : C};
    }
    find_outer_params();
  }

  void find_outer_params() {
    emb_ = find("emb.weight");
    ln0_w_ = find("blocks.0.ln0.weight");
    ln0_b_ = find("blocks.0.ln0.bias");
    ln_out_w_ = find("ln_out.weight");
    ln_out_b_ = find("ln_out.bias");
    head_ = find("head.weight");
  }

  bool x060() const { return cfg_.version == "x060"; }

  void setup_x060_layers() {
    const int C = cfg_.n_embd, F = cfg_.dim_ffn;
    x060_layers_.resize(cfg_.n_layer);
    for (int l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".", a = p + "att.", f = p + "ffn.";
      X060LayerParams& L = x060_layers_[l];
      L.ln1_w = find(p + "ln1.weight"); L.ln1_b = find(p + "ln1.bias");
      L.ln2_w = find(p + "ln2.weight"); L.ln2_b = find(p + "ln2.bias");
      L.maa_x = find(a + "time_maa_x"); L.maa_w = find(a + "time_maa_w"); L.maa_k = find(a + "time_maa_k");
      L.maa_v = find(a + "time_maa_v"); L.maa_r = find(a + "time_maa_r"); L.maa_g = find(a + "time_maa_g");
      L.maa_w1 = find(a + "time_maa_w1"); L.maa_w2 = find(a + "time_maa_w2");
      L.time_decay = find(a + "time_decay"); L.decay_w1 = find(a + "time_decay_w1"); L.decay_w2 = find(a + "time_decay_w2");
      L.faaaa = find(a + "time_faaaa");
      L.lnx_w = find(a + "ln_x.weight"); L.lnx_b = find(a + "ln_x.bias");
      L.ffn_maa_k = find(f + "time_maa_k"); L.ffn_maa_r = find(f + "time_maa_r");
      using R = x060::LinearRole;
      auto set = [&](R role, const std::string& name, int in, int out) {
        L.lin[size_t(role)] = {find(name + ".weight"), nullptr, nullptr, nullptr, in, out};
      };
      set(R::AttReceptance, a + "receptance", C, C);
      set(R::AttKey, a + "key", C, C);
      set(R::AttValue, a + "value", C, C);
      set(R::AttGate, a + "gate", C, C);
      set(R::AttOutput, a + "output", C, C);
      set(R::FfnKey, f + "key", C, F);
      set(R::FfnReceptance, f + "receptance", C, C);
      set(R::FfnValue, f + "value", F, C);
    }
    find_outer_params();
  }

  // Every block linear of layer l, with the module name target_modules matches: x070's
  // att.receptance/key/value/output and ffn.key/value; x060's att.receptance/key/value/gate/
  // output and ffn.key/receptance/value (RWKV-PEFT wraps each of them with make_linear_att/ffn).
  std::vector<LinearSlot> linear_slots(int l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    if (x060()) {
      X060LayerParams& L = x060_layers_[l];
      using R = x060::LinearRole;
      auto slot = [&](R role, const char* module, const std::string& part) {
        return LinearSlot{&L.lin[size_t(role)], module, p + part};
      };
      return {slot(R::AttReceptance, "receptance", "att.receptance"), slot(R::AttKey, "key", "att.key"),
              slot(R::AttValue, "value", "att.value"),                slot(R::AttGate, "gate", "att.gate"),
              slot(R::AttOutput, "output", "att.output"),             slot(R::FfnKey, "key", "ffn.key"),
              slot(R::FfnReceptance, "receptance", "ffn.receptance"), slot(R::FfnValue, "value", "ffn.value")};
    }
    std::vector<LinearSlot> slots;
    for (const x070::LinearSpec& spec : x070::kBlockLinears)
      slots.push_back({&x070::linear_of(layers_[l], spec.role), spec.module, p + spec.part});
    return slots;
  }

  // State tuning's att.time_state of layer l (null until setup_peft adds it).
  Param*& time_state_of(int l) { return x060() ? x060_layers_[l].time_state : layers_[l].time_state; }

  bool targeted(const std::string& module) const {
    return std::find(peft_.target_modules.begin(), peft_.target_modules.end(), module) !=
           peft_.target_modules.end();
  }

  void setup_peft(const std::map<std::string, const HostTensor*>& by_name) {
    if (peft_.method == PeftMethod::Full) {
      for (auto& p : params_) make_trainable(p.get());
      return;
    }
    const int r = peft_.r;
    if ((peft_.method == PeftMethod::Lora || peft_.method == PeftMethod::Pissa ||
         peft_.method == PeftMethod::Miss) && r <= 0)
      throw EngineError("E_PEFT_CONFIG", "the adapter rank r must be > 0", "set r in --peft_config");
    uint64_t rng = lora_init_stream(peft_.seed);
    for (int l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      if (peft_.method == PeftMethod::State) {
        Param*& state = time_state_of(l);
        state = add(p + "att.time_state", {cfg_.n_head(), cfg_.head_size, cfg_.head_size}, true);
        auto it = by_name.find(state->name);  // a state file given as base weights
        if (it != by_name.end()) state->w = it->second->to_f32();
        make_trainable(state);
        continue;
      }
      for (auto& s : linear_slots(l)) {
        if (!targeted(s.module)) continue;
        Linear& lin = *s.lin;
        if (peft_.method == PeftMethod::Miss) {
          lin.miss = add(s.prefix + ".disha", {r, lin.out}, true);  // zeros: starts at W
          make_trainable(lin.miss);
          continue;
        }
        lin.A = add(s.prefix + ".lora_A", {r, lin.in}, true);
        lin.Bm = add(s.prefix + ".lora_B", {lin.out, r}, true);
        if (peft_.method == PeftMethod::Pissa) {
          pissa_init(lin.W->w.data(), lin.out, lin.in, r, peft_.svd_niter, peft_.seed + l,
                     lin.A->w.data(), lin.Bm->w.data());
        } else {
          kaiming_uniform_lora_a(lin.A->w, lin.in, rng);
        }
        make_trainable(lin.A);
        make_trainable(lin.Bm);
      }
    }
    // RWKV-PEFT additionally trains base parameters whose name contains a train_parts entry
    // (default ["time", "ln"]), matched as a substring of the full name as it does.
    for (auto& p : params_) {
      if (p->adapter) continue;
      for (const auto& part : peft_.train_parts)
        if (!part.empty() && p->name.find(part) != std::string::npos) make_trainable(p.get());
    }
  }

  // Folds an adapter into base weight `name` (a copy in w).
  void merge_into(const std::string& name, std::vector<float>& w) const {
    const std::string suffix = ".weight";
    if (name.size() < suffix.size()) return;
    const std::string prefix = name.substr(0, name.size() - suffix.size());
    const Param* A = find(prefix + ".lora_A");
    const Param* Bm = find(prefix + ".lora_B");
    const Param* miss = find(prefix + ".disha");
    if (A && Bm)
      fold_lora(w, A->w, Bm->w, int(A->shape[0]), int(A->shape[1]), int(Bm->shape[0]), peft_.lora_scaling());
    if (miss) fold_miss(w, miss->w, int(miss->shape[0]), int(miss->shape[1]));
  }

  // --quant: RWKV-PEFT quantises the weight of every block linear, adapted or not, after PiSSA's
  // residual is taken (setup_peft ran); emb, head, the low-rank matrices and vectors stay fp32.
  void quantize_base() {
    size_t largest = 0;
    for (int l = 0; l < cfg_.n_layer; ++l)
      for (const LinearSlot& slot : linear_slots(l)) {
        Param* W = slot.lin->W;
        if (W->trainable)
          throw EngineError("E_QUANT_TRAINED",
                            std::string("--quant ") + quant_type_name(opt_.quant) + " keeps " + W->name +
                                " frozen, but this run would train it",
                            "quantised bases are for PEFT (LoRA, PiSSA, MiSS, state tuning): drop --quant for full "
                            "fine-tuning, or remove the --train_parts entry that names this weight");
        W->q = std::make_unique<QuantTensor>(quantize(opt_.quant, W->w.data(), W->shape));
        W->w.clear();
        W->w.shrink_to_fit();
        largest = std::max(largest, size_t(W->numel()));
      }
    deq_.assign(largest, 0.0f);
  }

  // The weight a linear's GEMM reads: its fp32 values, or a quantised base dequantised (to the
  // bf16 values RWKV-PEFT multiplies with) into the one scratch matrix all linears share.
  const float* weight_of(const Linear& L) {
    if (!L.W->q) return L.W->w.data();
    dequantize(*L.W->q, 0, L.W->q->n, deq_.data());
    return deq_.data();
  }

  // ---- linear with adapter ----
  void lin_fwd(Linear& L, const float* x, float* y, int M, LinearCache& c, uint64_t salt) {
    ops::linear_fwd(x, weight_of(L), y, M, L.in, L.out);
    if (L.A) {
      const int r = int(L.A->shape[0]);
      const float* xin = x;
      c.x_drop.clear();
      if (peft_.lora_dropout > 0 && peft_.method == PeftMethod::Lora) {
        c.x_drop.resize(size_t(M) * L.in);
        c.kept.resize(c.x_drop.size());
        const float keep = 1.0f - peft_.lora_dropout;
        // Counter-based masks (core/dropout_mask.h, shared with the CUDA backend): the same
        // step and micro-batch give the same mask after a resume.
        const uint64_t stream = dropout_stream(opt_.seed, step_, micro_batches_, salt);
        for (size_t i = 0; i < c.x_drop.size(); ++i) {
          c.kept[i] = dropout_keeps(stream, i, keep);
          c.x_drop[i] = c.kept[i] ? x[i] / keep : 0.0f;
        }
        xin = c.x_drop.data();
      }
      c.xa.assign(size_t(M) * r, 0.0f);
      ops::linear_fwd(xin, L.A->w.data(), c.xa.data(), M, L.in, r);
      std::vector<float> yb(size_t(M) * L.out);
      ops::linear_fwd(c.xa.data(), L.Bm->w.data(), yb.data(), M, r, L.out);
      const float s = peft_.lora_scaling();
      for (size_t i = 0; i < yb.size(); ++i) y[i] += s * yb[i];
    }
    if (L.miss) {
      const int r = int(L.miss->shape[0]);
      c.xs.assign(size_t(M) * r, 0.0f);
      for (int m = 0; m < M; ++m)
        for (int i = 0; i < L.in; ++i) c.xs[size_t(m) * r + i % r] += x[size_t(m) * L.in + i];
      std::vector<float> ym(size_t(M) * L.out);
      ops::matmul_fwd(c.xs.data(), L.miss->w.data(), ym.data(), M, r, L.out);
      for (size_t i = 0; i < ym.size(); ++i) y[i] += ym[i];
    }
  }

  void lin_bwd(Linear& L, const float* x, const float* dy, float* dx, int M, LinearCache& c) {
    ops::linear_bwd(x, weight_of(L), dy, dx, L.W->trainable ? L.W->g.data() : nullptr, M, L.in, L.out);
    if (L.A) {
      const int r = int(L.A->shape[0]);
      const float s = peft_.lora_scaling();
      std::vector<float> dys(dy, dy + size_t(M) * L.out);
      for (float& v : dys) v *= s;
      std::vector<float> dxa(size_t(M) * r, 0.0f);
      ops::linear_bwd(c.xa.data(), L.Bm->w.data(), dys.data(), dxa.data(), L.Bm->g.data(), M, r, L.out);
      const float* xin = c.x_drop.empty() ? x : c.x_drop.data();
      if (c.x_drop.empty()) {
        ops::linear_bwd(xin, L.A->w.data(), dxa.data(), dx, L.A->g.data(), M, L.in, r);
      } else {
        std::vector<float> dxd(size_t(M) * L.in, 0.0f);
        ops::linear_bwd(xin, L.A->w.data(), dxa.data(), dx ? dxd.data() : nullptr, L.A->g.data(), M, L.in, r);
        if (dx) {
          const float keep = 1.0f - peft_.lora_dropout;
          for (size_t i = 0; i < dxd.size(); ++i)
            if (c.kept[i]) dx[i] += dxd[i] / keep;
        }
      }
    }
    if (L.miss) {
      const int r = int(L.miss->shape[0]);
      std::vector<float> dxs(size_t(M) * r, 0.0f);
      ops::matmul_bwd(c.xs.data(), L.miss->w.data(), dy, dx ? dxs.data() : nullptr, L.miss->g.data(), M, r, L.out);
      if (dx)
        for (int m = 0; m < M; ++m)
          for (int i = 0; i < L.in; ++i) dx[size_t(m) * L.in + i] += dxs[size_t(m) * r + i % r];
    }
  }

  static float* G(Param* p) { return p && p->trainable ? p->g.data() : nullptr; }

  // infctx token shift: position 0 of each sequence sees the previous chunk's last input
  // (xx = shifted - h, so the carried value is added there), and this chunk's last input is
  // carried on. The carried value is a constant: the backward pass is unchanged.
  static void carry_shift(std::vector<float>& carried, const std::vector<float>& h, std::vector<float>& xx,
                          int B, int T, int C) {
    for (int b = 0; b < B; ++b) {
      float* first = xx.data() + int64_t(b) * T * C;
      const float* prev = carried.data() + int64_t(b) * C;
      for (int i = 0; i < C; ++i) first[i] += prev[i];
      std::copy_n(h.data() + (int64_t(b) * T + T - 1) * C, C, carried.data() + int64_t(b) * C);
    }
  }

  void run_forward(const Batch& batch, std::vector<float>& logits) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd, H = cfg_.n_head(),
              N = cfg_.head_size, F = cfg_.dim_ffn, V = cfg_.vocab_size;
    const size_t MC = size_t(M) * C;
    std::vector<float> x = embed(batch);
    cache_.assign(cfg_.n_layer, LayerCache());
    std::vector<float> v_first;
    uint64_t act = 0;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      LayerParams& L = layers_[l];
      LayerCache& c = cache_[l];
      c.x_in = x;
      if (l == 0) {
        c.ln0_mean.resize(M); c.ln0_rstd.resize(M); c.x0.resize(MC);
        ops::layernorm_fwd(x.data(), L.ln0_w->w.data(), L.ln0_b->w.data(), c.x0.data(),
                           c.ln0_mean.data(), c.ln0_rstd.data(), M, C);
        x = c.x0;
      }
      // ---- time mix ----
      c.h1.resize(MC); c.ln1_mean.resize(M); c.ln1_rstd.resize(M);
      ops::layernorm_fwd(x.data(), L.ln1_w->w.data(), L.ln1_b->w.data(), c.h1.data(),
                         c.ln1_mean.data(), c.ln1_rstd.data(), M, C);
      c.xx.resize(MC);
      ops::token_shift_fwd(c.h1.data(), c.xx.data(), B, T, C);
      if (batch.carry) carry_shift(batch.carry->att_shift[l], c.h1, c.xx, B, T, C);
      for (auto [dst, mu] : {std::pair{&c.xr, L.x_r}, {&c.xw, L.x_w}, {&c.xk, L.x_k},
                             {&c.xv, L.x_v}, {&c.xa, L.x_a}, {&c.xg, L.x_g}}) {
        dst->resize(MC);
        ops::mix_fwd(c.h1.data(), c.xx.data(), mu->w.data(), dst->data(), M, C);
      }
      c.r.resize(MC);
      lin_fwd(L.rec, c.xr.data(), c.r.data(), M, c.c_rec, x070::dropout_slot(l, x070::LinearRole::AttReceptance));
      const int Dw = cfg_.d_decay_lora, Da = cfg_.d_aaa_lora, Dv = cfg_.d_mv_lora, Dg = cfg_.d_gate_lora;
      c.w1o.resize(size_t(M) * Dw); c.w1t.resize(size_t(M) * Dw); c.wpre.resize(MC); c.w.resize(MC);
      ops::matmul_fwd(c.xw.data(), L.w1->w.data(), c.w1o.data(), M, C, Dw);
      ops::tanh_fwd(c.w1o.data(), c.w1t.data(), int64_t(M) * Dw);
      ops::matmul_fwd(c.w1t.data(), L.w2->w.data(), c.wpre.data(), M, Dw, C);
      ops::decay_fwd(c.wpre.data(), L.w0->w.data(), c.w.data(), M, C);
      c.k.resize(MC); c.v_raw.resize(MC);
      lin_fwd(L.key, c.xk.data(), c.k.data(), M, c.c_key, x070::dropout_slot(l, x070::LinearRole::AttKey));
      lin_fwd(L.val, c.xv.data(), c.v_raw.data(), M, c.c_val, x070::dropout_slot(l, x070::LinearRole::AttValue));
      if (l == 0) {
        v_first = c.v_raw;
        c.v = c.v_raw;
      } else {
        c.vlin.resize(size_t(M) * Dv); c.vg.resize(MC); c.v.resize(MC);
        std::vector<float> tmp(MC);
        ops::matmul_fwd(c.xv.data(), L.v1->w.data(), c.vlin.data(), M, C, Dv);
        ops::matmul_fwd(c.vlin.data(), L.v2->w.data(), tmp.data(), M, Dv, C);
        ops::sigmoid_fwd(tmp.data(), L.v0->w.data(), c.vg.data(), M, C);
        for (size_t i = 0; i < MC; ++i) c.v[i] = c.v_raw[i] + (v_first[i] - c.v_raw[i]) * c.vg[i];
      }
      c.a1o.resize(size_t(M) * Da); c.a.resize(MC);
      {
        std::vector<float> tmp(MC);
        ops::matmul_fwd(c.xa.data(), L.a1->w.data(), c.a1o.data(), M, C, Da);
        ops::matmul_fwd(c.a1o.data(), L.a2->w.data(), tmp.data(), M, Da, C);
        ops::sigmoid_fwd(tmp.data(), L.a0->w.data(), c.a.data(), M, C);
      }
      c.g1o.resize(size_t(M) * Dg); c.g1s.resize(size_t(M) * Dg); c.g.resize(MC);
      ops::matmul_fwd(c.xg.data(), L.g1->w.data(), c.g1o.data(), M, C, Dg);
      ops::sigmoid_fwd(c.g1o.data(), nullptr, c.g1s.data(), M, Dg);
      ops::matmul_fwd(c.g1s.data(), L.g2->w.data(), c.g.data(), M, Dg, C);
      c.kkpre.resize(MC); c.kk.resize(MC); c.kknorm.resize(size_t(M) * H); c.k2.resize(MC);
      for (size_t i = 0; i < MC; ++i) c.kkpre[i] = c.k[i] * L.k_k->w[i % C];
      ops::l2norm_heads_fwd(c.kkpre.data(), c.kk.data(), c.kknorm.data(), M, H, N);
      for (size_t i = 0; i < MC; ++i) c.k2[i] = c.k[i] * (1.0f + (c.a[i] - 1.0f) * L.k_a->w[i % C]);
      c.negkk.resize(MC); c.bvec.resize(MC);
      for (size_t i = 0; i < MC; ++i) { c.negkk[i] = -c.kk[i]; c.bvec[i] = c.kk[i] * c.a[i]; }
      c.wkv.resize(MC); c.states.resize(MC * N);
      const int64_t NN = int64_t(N) * N;
      if (batch.carry) c.wkv_init = batch.carry->wkv[l];
      ops::wkv7_fwd(c.r.data(), c.w.data(), c.k2.data(), c.v.data(), c.negkk.data(), c.bvec.data(),
                    batch.carry ? c.wkv_init.data() : L.time_state ? L.time_state->w.data() : nullptr,
                    c.wkv.data(), c.states.data(), B, T, H, N, batch.carry ? H * NN : 0);
      if (batch.carry)  // the state after each sequence's last token starts the next chunk
        for (int b = 0; b < B; ++b)
          std::copy_n(c.states.data() + (int64_t(b) * T + T - 1) * H * NN, H * NN,
                      batch.carry->wkv[l].data() + int64_t(b) * H * NN);
      c.gn.resize(MC); c.lnx_mean.resize(size_t(M) * H); c.lnx_rstd.resize(size_t(M) * H);
      ops::groupnorm_fwd(c.wkv.data(), L.lnx_w->w.data(), L.lnx_b->w.data(), c.gn.data(),
                         c.lnx_mean.data(), c.lnx_rstd.data(), M, H, N, cfg_.ln_x_eps());
      c.o3 = c.gn;
      for (int64_t s = 0; s < int64_t(M) * H; ++s) {  // bonus: (r * k * r_k).sum per head * v
        const int h = int(s % H);
        float dot = 0;
        for (int n = 0; n < N; ++n) dot += c.r[s * N + n] * c.k2[s * N + n] * L.r_k->w[h * N + n];
        for (int n = 0; n < N; ++n) c.o3[s * N + n] += dot * c.v[s * N + n];
      }
      c.og.resize(MC);
      for (size_t i = 0; i < MC; ++i) c.og[i] = c.o3[i] * c.g[i];
      std::vector<float> att(MC);
      lin_fwd(L.out, c.og.data(), att.data(), M, c.c_out, x070::dropout_slot(l, x070::LinearRole::AttOutput));
      for (size_t i = 0; i < MC; ++i) x[i] += att[i];
      // ---- channel mix ----
      c.x_mid = x;
      c.h2.resize(MC); c.ln2_mean.resize(M); c.ln2_rstd.resize(M);
      ops::layernorm_fwd(x.data(), L.ln2_w->w.data(), L.ln2_b->w.data(), c.h2.data(),
                         c.ln2_mean.data(), c.ln2_rstd.data(), M, C);
      c.xx2.resize(MC); c.fk_in.resize(MC);
      ops::token_shift_fwd(c.h2.data(), c.xx2.data(), B, T, C);
      if (batch.carry) carry_shift(batch.carry->ffn_shift[l], c.h2, c.xx2, B, T, C);
      ops::mix_fwd(c.h2.data(), c.xx2.data(), L.ffn_x_k->w.data(), c.fk_in.data(), M, C);
      c.fk.resize(size_t(M) * F); c.fk_act.resize(size_t(M) * F);
      lin_fwd(L.ffn_key, c.fk_in.data(), c.fk.data(), M, c.c_fkey, x070::dropout_slot(l, x070::LinearRole::FfnKey));
      ops::relu_sq_fwd(c.fk.data(), c.fk_act.data(), int64_t(M) * F);
      std::vector<float> ffo(MC);
      lin_fwd(L.ffn_val, c.fk_act.data(), ffo.data(), M, c.c_fval, x070::dropout_slot(l, x070::LinearRole::FfnValue));
      for (size_t i = 0; i < MC; ++i) x[i] += ffo[i];
      act += (MC * 40 + MC * N + size_t(M) * F * 2) * 4;
    }
    head_forward(x, logits, M);
    act += size_t(M) * V * 8;
    peak_activations_ = std::max(peak_activations_, act);
  }

  void run_backward(const Batch& batch, const std::vector<float>& dlogits) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd, H = cfg_.n_head(),
              N = cfg_.head_size, F = cfg_.dim_ffn, V = cfg_.vocab_size;
    const size_t MC = size_t(M) * C;
    std::vector<float> dx = head_backward(dlogits, M);
    std::vector<float> dv_first(MC, 0.0f);
    for (int l = cfg_.n_layer - 1; l >= 0; --l) {
      LayerParams& L = layers_[l];
      LayerCache& c = cache_[l];
      // ---- channel mix ----  x = x_mid + ffn(ln2(x_mid))
      {
        std::vector<float> dfk_act(size_t(M) * F, 0.0f), dfk(size_t(M) * F, 0.0f), dfk_in(MC, 0.0f),
            dh2(MC, 0.0f), dxx2(MC, 0.0f);
        lin_bwd(L.ffn_val, c.fk_act.data(), dx.data(), dfk_act.data(), M, c.c_fval);
        ops::relu_sq_bwd(c.fk.data(), dfk_act.data(), dfk.data(), int64_t(M) * F);
        lin_bwd(L.ffn_key, c.fk_in.data(), dfk.data(), dfk_in.data(), M, c.c_fkey);
        ops::mix_bwd(c.xx2.data(), L.ffn_x_k->w.data(), dfk_in.data(), dh2.data(), dxx2.data(), G(L.ffn_x_k), M, C);
        ops::token_shift_bwd(dxx2.data(), dh2.data(), B, T, C);
        ops::layernorm_bwd(c.x_mid.data(), L.ln2_w->w.data(), c.ln2_mean.data(), c.ln2_rstd.data(),
                           dh2.data(), dx.data(), G(L.ln2_w), G(L.ln2_b), M, C);
      }
      // ---- time mix ----  x_mid = x_att_in + att(ln1(x_att_in))
      const int Dw = cfg_.d_decay_lora, Da = cfg_.d_aaa_lora, Dv = cfg_.d_mv_lora, Dg = cfg_.d_gate_lora;
      std::vector<float> dog(MC, 0.0f), do3(MC), dg(MC), dr(MC, 0.0f), dk2(MC, 0.0f), dv(MC, 0.0f),
          dw(MC, 0.0f), dnegkk(MC, 0.0f), dbvec(MC, 0.0f), dwkv(MC, 0.0f), dgn;
      lin_bwd(L.out, c.og.data(), dx.data(), dog.data(), M, c.c_out);
      for (size_t i = 0; i < MC; ++i) { do3[i] = dog[i] * c.g[i]; dg[i] = dog[i] * c.o3[i]; }
      // bonus term
      for (int64_t s = 0; s < int64_t(M) * H; ++s) {
        const int h = int(s % H);
        float dot = 0, ddot = 0;
        for (int n = 0; n < N; ++n) {
          dot += c.r[s * N + n] * c.k2[s * N + n] * L.r_k->w[h * N + n];
          ddot += do3[s * N + n] * c.v[s * N + n];
        }
        for (int n = 0; n < N; ++n) {
          const size_t i = s * N + n;
          dv[i] += dot * do3[i];
          dr[i] += ddot * c.k2[i] * L.r_k->w[h * N + n];
          dk2[i] += ddot * c.r[i] * L.r_k->w[h * N + n];
          if (L.r_k->trainable) L.r_k->g[h * N + n] += ddot * c.r[i] * c.k2[i];
        }
      }
      ops::groupnorm_bwd(c.wkv.data(), L.lnx_w->w.data(), c.lnx_mean.data(), c.lnx_rstd.data(),
                         do3.data(), dwkv.data(), G(L.lnx_w), G(L.lnx_b), M, H, N);
      ops::wkv7_bwd(c.r.data(), c.w.data(), c.k2.data(), c.v.data(), c.negkk.data(), c.bvec.data(),
                    batch.carry ? c.wkv_init.data() : L.time_state ? L.time_state->w.data() : nullptr,
                    c.states.data(), dwkv.data(), dr.data(), dw.data(), dk2.data(), dv.data(), dnegkk.data(),
                    dbvec.data(), batch.carry ? nullptr : G(L.time_state), B, T, H, N,
                    batch.carry ? int64_t(H) * N * N : 0);
      c.states.clear();
      c.states.shrink_to_fit();
      // a = -kk, b = kk * a ; k2 = k * (1 + (a-1) k_a) ; kk = normalize(k * k_k)
      std::vector<float> dkk(MC), da(MC, 0.0f), dk(MC, 0.0f), dkkpre(MC, 0.0f);
      for (size_t i = 0; i < MC; ++i) {
        const int ch = int(i % C);
        dkk[i] = -dnegkk[i] + dbvec[i] * c.a[i];
        da[i] += dbvec[i] * c.kk[i] + dk2[i] * c.k[i] * L.k_a->w[ch];
        dk[i] += dk2[i] * (1.0f + (c.a[i] - 1.0f) * L.k_a->w[ch]);
        if (L.k_a->trainable) L.k_a->g[ch] += dk2[i] * c.k[i] * (c.a[i] - 1.0f);
      }
      ops::l2norm_heads_bwd(c.kk.data(), c.kknorm.data(), dkk.data(), dkkpre.data(), M, H, N);
      for (size_t i = 0; i < MC; ++i) {
        const int ch = int(i % C);
        dk[i] += dkkpre[i] * L.k_k->w[ch];
        if (L.k_k->trainable) L.k_k->g[ch] += dkkpre[i] * c.k[i];
      }
      std::vector<float> dxr(MC, 0.0f), dxw(MC, 0.0f), dxk(MC, 0.0f), dxv(MC, 0.0f), dxa(MC, 0.0f), dxg(MC, 0.0f);
      // g = sigmoid(xg g1) g2
      {
        std::vector<float> dg1s(size_t(M) * Dg, 0.0f), dg1o(size_t(M) * Dg, 0.0f);
        ops::matmul_bwd(c.g1s.data(), L.g2->w.data(), dg.data(), dg1s.data(), G(L.g2), M, Dg, C);
        ops::sigmoid_bwd(c.g1s.data(), dg1s.data(), dg1o.data(), nullptr, M, Dg);
        ops::matmul_bwd(c.xg.data(), L.g1->w.data(), dg1o.data(), dxg.data(), G(L.g1), M, C, Dg);
      }
      // a = sigmoid(a0 + (xa a1) a2)
      {
        std::vector<float> dpre(MC, 0.0f), da1o(size_t(M) * Da, 0.0f);
        ops::sigmoid_bwd(c.a.data(), da.data(), dpre.data(), G(L.a0), M, C);
        ops::matmul_bwd(c.a1o.data(), L.a2->w.data(), dpre.data(), da1o.data(), G(L.a2), M, Da, C);
        ops::matmul_bwd(c.xa.data(), L.a1->w.data(), da1o.data(), dxa.data(), G(L.a1), M, C, Da);
      }
      // v residual
      std::vector<float> dv_raw(MC, 0.0f);
      if (l == 0) {
        for (size_t i = 0; i < MC; ++i) dv_raw[i] = dv[i] + dv_first[i];
      } else {
        std::vector<float> dvg(MC), dpre(MC, 0.0f), dvlin(size_t(M) * Dv, 0.0f);
        for (size_t i = 0; i < MC; ++i) {
          dv_raw[i] = dv[i] * (1.0f - c.vg[i]);
          dv_first[i] += dv[i] * c.vg[i];
          dvg[i] = dv[i] * (cache_[0].v_raw[i] - c.v_raw[i]);
        }
        ops::sigmoid_bwd(c.vg.data(), dvg.data(), dpre.data(), G(L.v0), M, C);
        ops::matmul_bwd(c.vlin.data(), L.v2->w.data(), dpre.data(), dvlin.data(), G(L.v2), M, Dv, C);
        ops::matmul_bwd(c.xv.data(), L.v1->w.data(), dvlin.data(), dxv.data(), G(L.v1), M, C, Dv);
      }
      lin_bwd(L.val, c.xv.data(), dv_raw.data(), dxv.data(), M, c.c_val);
      lin_bwd(L.key, c.xk.data(), dk.data(), dxk.data(), M, c.c_key);
      // w = decay(w0 + tanh(xw w1) w2)
      {
        std::vector<float> dwpre(MC, 0.0f), dw1t(size_t(M) * Dw, 0.0f), dw1o(size_t(M) * Dw, 0.0f);
        ops::decay_bwd(c.wpre.data(), L.w0->w.data(), dw.data(), dwpre.data(), G(L.w0), M, C);
        ops::matmul_bwd(c.w1t.data(), L.w2->w.data(), dwpre.data(), dw1t.data(), G(L.w2), M, Dw, C);
        ops::tanh_bwd(c.w1t.data(), dw1t.data(), dw1o.data(), int64_t(M) * Dw);
        ops::matmul_bwd(c.xw.data(), L.w1->w.data(), dw1o.data(), dxw.data(), G(L.w1), M, C, Dw);
      }
      lin_bwd(L.rec, c.xr.data(), dr.data(), dxr.data(), M, c.c_rec);
      std::vector<float> dh1(MC, 0.0f), dxx(MC, 0.0f);
      for (auto [dout, mu] : {std::pair{&dxr, L.x_r}, {&dxw, L.x_w}, {&dxk, L.x_k},
                              {&dxv, L.x_v}, {&dxa, L.x_a}, {&dxg, L.x_g}})
        ops::mix_bwd(c.xx.data(), mu->w.data(), dout->data(), dh1.data(), dxx.data(), G(mu), M, C);
      ops::token_shift_bwd(dxx.data(), dh1.data(), B, T, C);
      const std::vector<float>& att_in = l == 0 ? c.x0 : c.x_in;
      ops::layernorm_bwd(att_in.data(), L.ln1_w->w.data(), c.ln1_mean.data(), c.ln1_rstd.data(),
                         dh1.data(), dx.data(), G(L.ln1_w), G(L.ln1_b), M, C);
      if (l == 0) {
        std::vector<float> dx_in(MC, 0.0f);
        ops::layernorm_bwd(c.x_in.data(), L.ln0_w->w.data(), c.ln0_mean.data(), c.ln0_rstd.data(),
                           dx.data(), dx_in.data(), G(L.ln0_w), G(L.ln0_b), M, C);
        dx.swap(dx_in);
      }
    }
    embedding_backward(batch, dx);
    cache_.clear();
  }

  // ---- shared by both generations: emb -> (blocks) -> ln_out -> head ----
  // The batch's embeddings [B*T, C], after checking every token id against the vocabulary.
  std::vector<float> embed(const Batch& batch) const {
    const int M = batch.B * batch.T, C = cfg_.n_embd, V = cfg_.vocab_size;
    for (int i = 0; i < M; ++i)
      if (batch.inputs[i] < 0 || batch.inputs[i] >= V || batch.targets[i] < 0 || batch.targets[i] >= V)
        throw EngineError("E_DATA_TOKEN", "token id " + std::to_string(std::max(batch.inputs[i], batch.targets[i])) +
                                              " is outside the vocabulary of " + std::to_string(V),
                          "the dataset was tokenized for a larger vocabulary than --vocab_size");
    std::vector<float> x(size_t(M) * C);
    for (int i = 0; i < M; ++i)
      std::copy_n(emb_->w.data() + int64_t(batch.inputs[i]) * C, C, x.data() + size_t(i) * C);
    return x;
  }

  // logits = head(ln_out(x)); keeps x and ln_out's output for head_backward.
  void head_forward(const std::vector<float>& x, std::vector<float>& logits, int M) {
    const int C = cfg_.n_embd, V = cfg_.vocab_size;
    x_final_ = x;
    lno_mean_.resize(M); lno_rstd_.resize(M); hout_.resize(size_t(M) * C);
    ops::layernorm_fwd(x.data(), ln_out_w_->w.data(), ln_out_b_->w.data(), hout_.data(),
                       lno_mean_.data(), lno_rstd_.data(), M, C);
    logits.assign(size_t(M) * V, 0.0f);
    ops::linear_fwd(hout_.data(), head_->w.data(), logits.data(), M, C, V);
  }

  // The gradient at the last block's output, from the logits' gradient.
  std::vector<float> head_backward(const std::vector<float>& dlogits, int M) {
    const int C = cfg_.n_embd, V = cfg_.vocab_size;
    std::vector<float> dhout(size_t(M) * C, 0.0f), dx(size_t(M) * C, 0.0f);
    ops::linear_bwd(hout_.data(), head_->w.data(), dlogits.data(), dhout.data(), G(head_), M, C, V);
    ops::layernorm_bwd(x_final_.data(), ln_out_w_->w.data(), lno_mean_.data(), lno_rstd_.data(),
                       dhout.data(), dx.data(), G(ln_out_w_), G(ln_out_b_), M, C);
    return dx;
  }

  void embedding_backward(const Batch& batch, const std::vector<float>& dx) {
    if (!emb_->trainable) return;
    const int M = batch.B * batch.T, C = cfg_.n_embd;
    for (int i = 0; i < M; ++i) {
      float* row = emb_->g.data() + int64_t(batch.inputs[i]) * C;
      for (int ch = 0; ch < C; ++ch) row[ch] += dx[size_t(i) * C + ch];
    }
  }

  // ---- x060 (RWKV-6): emb -> ln0 -> x060 blocks (x060_layer.h) -> ln_out -> head ----
  // Runs an x060 block's linears through the backend's adapters (lin_fwd/lin_bwd), keeping each
  // linear's cache per layer; dropout masks are salted by layer and role.
  class X060Linears final : public x060::LinearRunner {
   public:
    X060Linears(CpuBackend& backend, int layer) : be_(backend), layer_(layer) {}
    void forward(x060::LinearRole role, const float* x, float* y, int M) override {
      be_.lin_fwd(be_.x060_layers_[layer_].lin[size_t(role)], x, y, M, be_.x060_lin_cache_[layer_][size_t(role)],
                  uint64_t(layer_) * x070::kSlotsPerLayer + uint64_t(role));
    }
    void backward(x060::LinearRole role, const float* x, const float* dy, float* dx, int M) override {
      be_.lin_bwd(be_.x060_layers_[layer_].lin[size_t(role)], x, dy, dx, M, be_.x060_lin_cache_[layer_][size_t(role)]);
    }

   private:
    CpuBackend& be_;
    int layer_;
  };

  static x060::TensorRef ref(Param* p) {
    if (!p) return {};
    return {p->w.data(), G(p)};
  }

  x060::LayerWeights x060_weights(int l) {
    const X060LayerParams& L = x060_layers_[l];
    x060::LayerWeights w;
    w.ln1_w = ref(L.ln1_w); w.ln1_b = ref(L.ln1_b); w.ln2_w = ref(L.ln2_w); w.ln2_b = ref(L.ln2_b);
    w.maa_x = ref(L.maa_x); w.maa_w = ref(L.maa_w); w.maa_k = ref(L.maa_k); w.maa_v = ref(L.maa_v);
    w.maa_r = ref(L.maa_r); w.maa_g = ref(L.maa_g); w.maa_w1 = ref(L.maa_w1); w.maa_w2 = ref(L.maa_w2);
    w.time_decay = ref(L.time_decay); w.decay_w1 = ref(L.decay_w1); w.decay_w2 = ref(L.decay_w2);
    w.faaaa = ref(L.faaaa); w.lnx_w = ref(L.lnx_w); w.lnx_b = ref(L.lnx_b);
    w.ffn_maa_k = ref(L.ffn_maa_k); w.ffn_maa_r = ref(L.ffn_maa_r);
    w.time_state = ref(L.time_state);
    return w;
  }

  void run_forward_x060(const Batch& batch, std::vector<float>& logits) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd, V = cfg_.vocab_size;
    std::vector<float> x = embed(batch);
    x060_emb_out_ = x;  // ln0's input
    ln0_mean_.resize(M); ln0_rstd_.resize(M);
    ops::layernorm_fwd(x060_emb_out_.data(), ln0_w_->w.data(), ln0_b_->w.data(), x.data(), ln0_mean_.data(),
                       ln0_rstd_.data(), M, C);
    x060_cache_.assign(cfg_.n_layer, x060::LayerCache());
    x060_lin_cache_.assign(cfg_.n_layer, {});
    uint64_t act = x060_emb_out_.size() * 4;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      X060Linears linears(*this, l);
      x060::LayerCarry carry;
      if (batch.carry)
        carry = {batch.carry->att_shift[l].data(), batch.carry->ffn_shift[l].data(), batch.carry->wkv[l].data()};
      x060::layer_forward(cfg_, x060_weights(l), linears, B, T, x, x060_cache_[l], batch.carry ? &carry : nullptr);
      act += x060_cache_[l].bytes();
    }
    head_forward(x, logits, M);
    act += size_t(M) * V * 8;
    peak_activations_ = std::max(peak_activations_, act);
  }

  void run_backward_x060(const Batch& batch, const std::vector<float>& dlogits) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd;
    std::vector<float> dx = head_backward(dlogits, M);
    for (int l = cfg_.n_layer - 1; l >= 0; --l) {
      X060Linears linears(*this, l);
      x060::layer_backward(cfg_, x060_weights(l), linears, B, T, x060_cache_[l], dx);
      x060_cache_[l] = x060::LayerCache();
    }
    std::vector<float> dx_emb(dx.size(), 0.0f);
    ops::layernorm_bwd(x060_emb_out_.data(), ln0_w_->w.data(), ln0_mean_.data(), ln0_rstd_.data(), dx.data(),
                       dx_emb.data(), G(ln0_w_), G(ln0_b_), M, C);
    embedding_backward(batch, dx_emb);
    x060_cache_.clear();
    x060_lin_cache_.clear();
  }

  ModelConfig cfg_;
  PeftConfig peft_;
  BackendOptions opt_;
  std::vector<std::unique_ptr<Param>> params_;
  std::function<void(int)> grad_ready_;  // data-parallel: a trainable tensor's gradient is finished
  // ZeRO-1: this rank's AdamW moments only (shard_optimizer_state), its slices end to end
  std::vector<float> shard_m_, shard_v_;
  bool shard_slices_set_ = false;
  std::map<std::string, Param*> by_name_;
  std::vector<LayerParams> layers_;  // x070
  std::vector<X060LayerParams> x060_layers_;
  Param *emb_ = nullptr, *ln_out_w_ = nullptr, *ln_out_b_ = nullptr, *head_ = nullptr;
  Param *ln0_w_ = nullptr, *ln0_b_ = nullptr;
  std::vector<LayerCache> cache_;  // x070
  std::vector<x060::LayerCache> x060_cache_;
  std::vector<std::array<LinearCache, x060::kLinearCount>> x060_lin_cache_;
  std::vector<float> x060_emb_out_, ln0_mean_, ln0_rstd_;  // x060's ln0 (x070 keeps its own in cache_[0])
  std::vector<float> x_final_, lno_mean_, lno_rstd_, hout_;
  std::vector<float> deq_;  // --quant: the dequantised weight of the linear being computed
  int64_t step_ = 0;
  uint64_t micro_batches_ = 0;  // within the current optimizer step (dropout masks)
  uint64_t peak_activations_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                          const StateDict& weights, const BackendOptions& opt) {
  return std::make_unique<CpuBackend>(cfg, peft, weights, opt);
}

}  // namespace rwkv
