// The CUDA backend: RWKV-7 (x070) forward and backward on the GPU, the same chain of ops as
// the CPU backend (engine/cpu/cpu_backend.cpp, the oracle) built from the kernels of
// kernels.h / model_kernels.h and cuBLASLt GEMMs. Activations and GEMM operands are bf16 with
// fp32 accumulation; trained tensors have an fp32 master, fp32 gradient and AdamW moments;
// frozen matrices exist only in bf16 (small per-channel vectors are fp32 either way, they feed
// the fp32 parameters of the norm / mix / activation kernels). Every activation of a step is
// kept for the backward (no recomputation yet: --grad_cp 1 is reported as not supported).
// Modes: full fine-tuning and LoRA (dropout 0) with train_parts; others report
// E_CUDA_UNSUPPORTED and point to --accelerator cpu.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "core/backend.h"
#include "core/errors.h"
#include "cuda/caching_allocator.h"
#include "cuda/cuda_context.h"
#include "cuda/cuda_model.h"
#include "cuda/kernels.h"
#include "cuda/model_kernels.h"

namespace rwkv {
namespace cuda {
namespace {

struct DParam {
  std::string name;
  std::vector<int64_t> shape;
  int64_t n = 0;
  bool trainable = false, adapter = false, gemm = false;
  std::vector<float> host;   // initial values until upload
  float* master = nullptr;   // fp32: trained tensors and every small vector
  bf16_t* w16 = nullptr;     // bf16: every GEMM operand
  float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  bool packed = false;       // master/grad live in a per-layer packed block (the six mixes)
};

struct Linear {
  DParam* W = nullptr;
  DParam* A = nullptr;
  DParam* Bm = nullptr;
  int in = 0, out = 0;
};

struct Layer {
  DParam *ln0_w = nullptr, *ln0_b = nullptr, *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  DParam *x_r, *x_w, *x_k, *x_v, *x_a, *x_g, *w0, *w1, *w2, *a0, *a1, *a2;
  DParam *v0 = nullptr, *v1 = nullptr, *v2 = nullptr;
  DParam *g1, *g2, *k_k, *k_a, *r_k, *lnx_w, *lnx_b, *ffn_x_k;
  Linear rec, key, val, out, ffn_key, ffn_val;
  float* mu = nullptr;   // [6, C]: x_r, x_w, x_k, x_v, x_a, x_g
  float* dmu = nullptr;  // [6, C]
};

// Activations of one layer kept for the backward (all bf16 unless noted; owned by the arena).
struct LayerActs {
  bf16_t *x_in = nullptr, *att_in = nullptr, *h1, *mix, *r, *w1o, *w1t, *wpre, *w, *k, *v_raw;
  bf16_t *vlin = nullptr, *vpre = nullptr, *vg = nullptr, *v, *a1o, *apre, *a, *g1o, *g1s, *g;
  bf16_t *kk, *k2, *negkk, *bvec, *wkv, *gn, *o3, *og, *x_mid, *h2, *fk_in, *fk, *fk_act;
  bf16_t *xa_rec = nullptr, *xa_key = nullptr, *xa_val = nullptr, *xa_out = nullptr;
  bf16_t *xa_fkey = nullptr, *xa_fval = nullptr;
  float *ln0_mean = nullptr, *ln0_rstd = nullptr, *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;
  float *lnx_mean, *lnx_rstd, *kknorm, *ckpt, *sa;
};

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Device buffers of one step, all handed back to the caching allocator at once.
class Arena {
 public:
  explicit Arena(CachingAllocator& a) : alloc_(a) {}
  ~Arena() { clear(); }
  template <class T>
  T* get(int64_t n) {
    void* p = alloc_.allocate(size_t(std::max<int64_t>(n, 1)) * sizeof(T));
    ptrs_.push_back(p);
    return static_cast<T*>(p);
  }
  void clear() {
    for (void* p : ptrs_) alloc_.release(p);
    ptrs_.clear();
  }

 private:
  CachingAllocator& alloc_;
  std::vector<void*> ptrs_;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelConfig& cfg, const PeftConfig& peft, const StateDict& weights,
              const BackendOptions& opt)
      : cfg_(cfg), peft_(peft), opt_(opt) {
    ctx_ = std::make_unique<Context>(opt.device);  // driver / GPU / cuBLASLt errors first
    if (opt.grad_checkpoint)
      throw EngineError("E_CUDA_UNSUPPORTED", "--grad_cp 1 is not yet implemented on the GPU",
                        "use --grad_cp 0 (every activation is kept), or --accelerator cpu");
    if (peft.method != PeftMethod::Full && peft.method != PeftMethod::Lora)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        std::string("PEFT method '") + peft_method_name(peft.method) +
                            "' is not yet on the GPU (full fine-tuning and LoRA are)",
                        "use --accelerator cpu for this method");
    if (peft.method == PeftMethod::Lora && peft.lora_dropout > 0)
      throw EngineError("E_CUDA_UNSUPPORTED", "LoRA dropout is not yet on the GPU",
                        "set lora_dropout to 0 in --peft_config, or use --accelerator cpu");
    if (cfg.head_size != kWkvHeadSize)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        "the GPU WKV7 kernel needs head_size 64, the model has " +
                            std::to_string(cfg.head_size),
                        "use --accelerator cpu for this model");
    validate_x070_weights(cfg, weights);
    std::map<std::string, const HostTensor*> by_name;
    for (const auto& [n, t] : weights) by_name[n] = &t;
    for (const auto& [name, shape] : x070_tensor_shapes(cfg)) add(name, shape, false)->host = by_name[name]->to_f32();
    setup_layers();
    setup_peft();
    upload();
    alloc_.empty_cache();
    alloc_.reset_peak();
  }

  ~CudaBackend() override {
    if (ctx_) cudaStreamSynchronize(ctx_->stream());
    for (void* p : owned_) alloc_.release(p);
  }

  std::string device_name() const override { return "cuda:" + std::to_string(opt_.device) + " " + ctx_->device().name; }
  const ModelConfig& config() const override { return cfg_; }
  std::vector<ParamInfo> trainable_params() const override {
    std::vector<ParamInfo> out;
    for (const auto& p : params_)
      if (p->trainable) out.push_back({p->name, p->shape, decays(*p)});
    return out;
  }
  int64_t total_param_count() const override {
    int64_t n = 0;
    for (const auto& p : params_) n += p->n;
    return n;
  }

  LossResult forward(const Batch& batch, float* logits_out) override {
    Arena arena(alloc_);
    bf16_t* logits = run_forward(batch, arena);
    const int M = batch.B * batch.T, V = cfg_.vocab_size;
    std::vector<float> lf(size_t(M) * V);
    {
      float* d = arena.get<float>(int64_t(M) * V);
      bf16_to_f32_device(int64_t(M) * V, logits, d, s());
      check_cuda(cudaMemcpyAsync(lf.data(), d, lf.size() * 4, cudaMemcpyDeviceToHost, s()), "logits download");
      check_cuda(cudaStreamSynchronize(s()), "forward");
    }
    LossResult res;
    double total = 0;
    for (int i = 0; i < M; ++i) {
      if (batch.loss_mask && batch.loss_mask[i] == 0) continue;
      const float* row = lf.data() + size_t(i) * V;
      const float mx = *std::max_element(row, row + V);
      double se = 0;
      for (int j = 0; j < V; ++j) se += std::exp(double(row[j]) - mx);
      total += std::log(se) + mx - row[batch.targets[i]];
      ++res.tokens;
    }
    res.loss = res.tokens ? total / res.tokens : 0.0;
    if (logits_out) std::copy(lf.begin(), lf.end(), logits_out);
    acts_.clear();
    return res;
  }

  LossResult forward_backward(const Batch& batch, float loss_scale) override {
    Arena arena(alloc_);
    bf16_t* logits = run_forward(batch, arena);
    const int M = batch.B * batch.T, V = cfg_.vocab_size;
    std::vector<int32_t> tgt(M);
    int64_t n = 0;
    for (int i = 0; i < M; ++i) {
      const bool counts = !batch.loss_mask || batch.loss_mask[i] != 0;
      tgt[i] = counts ? batch.targets[i] : -1;
      n += counts;
    }
    int32_t* d_tgt = arena.get<int32_t>(M);
    int32_t* d_arg = arena.get<int32_t>(M);
    float* d_mx = arena.get<float>(M);
    float* d_loss = arena.get<float>(1);
    check_cuda(cudaMemcpyAsync(d_tgt, tgt.data(), size_t(M) * 4, cudaMemcpyHostToDevice, s()), "targets upload");
    check_cuda(cudaMemsetAsync(d_loss, 0, 4, s()), "loss reset");
    row_argmax(M, V, logits, d_arg, d_mx, s());
    cross_entropy_fused(M, V, logits, d_tgt, n ? float(loss_scale / double(n)) : 0.f, d_loss, s());
    l2wrap_apply(M, V, logits, d_arg, d_mx, float(1e-4 / M), s());
    float loss_sum = 0;
    check_cuda(cudaMemcpyAsync(&loss_sum, d_loss, 4, cudaMemcpyDeviceToHost, s()), "loss download");
    run_backward(batch, logits, arena);
    check_cuda(cudaStreamSynchronize(s()), "forward_backward");
    acts_.clear();
    LossResult res;
    res.tokens = n;
    res.loss = n ? double(loss_sum) / n : 0.0;
    return res;
  }

  double grad_norm() override {
    double* d = static_cast<double*>(alloc_.allocate(8));
    check_cuda(cudaMemsetAsync(d, 0, 8, s()), "grad_norm");
    for (const auto& p : params_)
      if (p->trainable) sum_squares(p->n, p->grad, d, s());
    double h = 0;
    check_cuda(cudaMemcpyAsync(&h, d, 8, cudaMemcpyDeviceToHost, s()), "grad_norm");
    check_cuda(cudaStreamSynchronize(s()), "grad_norm");
    alloc_.release(d);
    return std::sqrt(h);
  }
  void scale_grads(float f) override {
    for (const auto& p : params_)
      if (p->trainable) scale_f32(p->n, p->grad, f, s());
  }
  void zero_grads() override {
    for (const auto& p : params_)
      if (p->trainable) check_cuda(cudaMemsetAsync(p->grad, 0, size_t(p->n) * 4, s()), "zero_grads");
    for (auto& L : layers_) check_cuda(cudaMemsetAsync(L.dmu, 0, size_t(6) * cfg_.n_embd * 4, s()), "zero_grads");
  }
  void optimizer_step(const AdamWParams& hp) override {
    ++step_;
    std::vector<AdamTensor> decay, plain;
    for (const auto& p : params_) {
      if (!p->trainable) continue;
      AdamTensor t{p->master, p->grad, p->m, p->v, p->w16, p->n};
      (decays(*p) ? decay : plain).push_back(t);
    }
    AdamHyper h{hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, 1.f, int(step_)};
    if (!decay.empty()) adamw_multi_tensor(decay.data(), int(decay.size()), h, s());
    h.weight_decay = 0.f;
    if (!plain.empty()) adamw_multi_tensor(plain.data(), int(plain.size()), h, s());
    zero_grads();
    check_cuda(cudaStreamSynchronize(s()), "optimizer_step");
  }
  int64_t optimizer_steps() const override { return step_; }

  StateDict export_weights(ExportKind kind) const override {
    StateDict out;
    if (kind == ExportKind::AdapterOnly) {
      for (const auto& p : params_)
        if (p->trainable) out.push_back({p->name, HostTensor::from_f32(download(*p), p->shape)});
      return out;
    }
    for (const auto& p : params_) {
      if (p->adapter && kind == ExportKind::Merged) continue;
      std::vector<float> w = download(*p);
      if (kind == ExportKind::Merged) merge_into(p->name, w);
      out.push_back({p->name, HostTensor::from_f32(w, p->shape)});
    }
    return out;
  }
  StateDict export_grads() const override {
    StateDict out;
    for (const auto& p : params_)
      if (p->trainable) out.push_back({p->name, HostTensor::from_f32(fetch(p->grad, p->n), p->shape)});
    return out;
  }
  void import_trainable(const StateDict& tensors) override {
    for (const auto& [name, t] : tensors) {
      DParam* p = find(name);
      if (!p || !p->trainable || t.numel() != p->n)
        throw EngineError("E_RESUME_SHAPE", "saved tensor '" + name + "' does not fit this run",
                          "resume with the same model and PEFT settings, or use a new proj_dir");
      put(p->master, t.to_f32());
      if (p->w16) f32_to_bf16_device(p->n, p->master, p->w16, s());
    }
    check_cuda(cudaStreamSynchronize(s()), "import_trainable");
  }
  StateDict export_optimizer_state() const override {
    StateDict out;
    for (const auto& p : params_) {
      if (!p->trainable) continue;
      out.push_back({p->name + ".exp_avg", HostTensor::from_f32(fetch(p->m, p->n), p->shape)});
      out.push_back({p->name + ".exp_avg_sq", HostTensor::from_f32(fetch(p->v, p->n), p->shape)});
    }
    HostTensor step;
    step.dtype = DType::I64;
    step.bytes.resize(8);
    std::memcpy(step.bytes.data(), &step_, 8);
    out.push_back({"step", step});
    return out;
  }
  void import_optimizer_state(const StateDict& state) override {
    for (const auto& [name, t] : state) {
      if (name == "step") {
        if (t.dtype != DType::I64 || t.bytes.size() != 8)
          throw EngineError("E_RESUME_CORRUPT", "optimizer state 'step' is not an int64 scalar", "");
        std::memcpy(&step_, t.bytes.data(), 8);
        continue;
      }
      const bool is_m = ends_with(name, ".exp_avg"), is_v = ends_with(name, ".exp_avg_sq");
      const std::string base = name.substr(0, name.size() - (is_v ? 11 : is_m ? 8 : 0));
      DParam* p = (is_m || is_v) ? find(base) : nullptr;
      if (!p || !p->trainable || t.numel() != p->n)
        throw EngineError("E_RESUME_SHAPE", "optimizer state '" + name + "' does not fit this run",
                          "resume with the same model and PEFT settings, or use a new proj_dir");
      put(is_m ? p->m : p->v, t.to_f32());
    }
    check_cuda(cudaStreamSynchronize(s()), "import_optimizer_state");
  }

  MemoryStats memory() const override {
    MemoryStats st;
    for (const auto& p : params_) {
      st.weights_bytes += (p->master && !p->packed ? p->n * 4 : 0) + (p->w16 ? p->n * 2 : 0);
      if (p->trainable) {
        st.grads_bytes += p->n * 4;
        st.optimizer_bytes += p->n * 8;
      }
    }
    st.in_use_bytes = alloc_.in_use();
    st.reserved_bytes = alloc_.reserved();
    st.peak_bytes = alloc_.peak_in_use();
    const uint64_t fixed = st.weights_bytes + st.grads_bytes + st.optimizer_bytes;
    st.activations_bytes = st.peak_bytes > fixed ? st.peak_bytes - fixed : 0;
    return st;
  }

 private:
  cudaStream_t s() const { return ctx_->stream(); }

  DParam* add(const std::string& name, std::vector<int64_t> shape, bool adapter) {
    auto p = std::make_unique<DParam>();
    p->name = name;
    p->shape = std::move(shape);
    p->n = 1;
    for (auto d : p->shape) p->n *= d;
    p->host.assign(p->n, 0.f);
    p->adapter = adapter;
    // GEMM operands: linears, the embedding/head, the low-rank matrices and the LoRA factors.
    static const char* kLowRank[] = {".att.w1", ".att.w2", ".att.a1", ".att.a2", ".att.v1",
                                     ".att.v2", ".att.g1", ".att.g2"};
    p->gemm = ends_with(name, ".lora_A") || ends_with(name, ".lora_B") ||
              (ends_with(name, ".weight") && name.find("ln") == std::string::npos);
    for (const char* suf : kLowRank) p->gemm = p->gemm || ends_with(name, suf);
    DParam* raw = p.get();
    by_name_[name] = raw;
    params_.push_back(std::move(p));
    return raw;
  }
  DParam* find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  static bool decays(const DParam& p) {
    int dims = 0;
    for (auto d : p.shape) if (d > 1) ++dims;
    return dims >= 2;
  }

  void setup_layers() {
    layers_.resize(cfg_.n_layer);
    const int C = cfg_.n_embd, F = cfg_.dim_ffn;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".", a = p + "att.";
      Layer& L = layers_[l];
      if (l == 0) { L.ln0_w = find(p + "ln0.weight"); L.ln0_b = find(p + "ln0.bias"); }
      L.ln1_w = find(p + "ln1.weight"); L.ln1_b = find(p + "ln1.bias");
      L.ln2_w = find(p + "ln2.weight"); L.ln2_b = find(p + "ln2.bias");
      L.x_r = find(a + "x_r"); L.x_w = find(a + "x_w"); L.x_k = find(a + "x_k");
      L.x_v = find(a + "x_v"); L.x_a = find(a + "x_a"); L.x_g = find(a + "x_g");
      L.w0 = find(a + "w0"); L.w1 = find(a + "w1"); L.w2 = find(a + "w2");
      L.a0 = find(a + "a0"); L.a1 = find(a + "a1"); L.a2 = find(a + "a2");
      if (l > 0) { L.v0 = find(a + "v0"); L.v1 = find(a + "v1"); L.v2 = find(a + "v2"); }
      L.g1 = find(a + "g1"); L.g2 = find(a + "g2");
      L.k_k = find(a + "k_k"); L.k_a = find(a + "k_a"); L.r_k = find(a + "r_k");
      L.lnx_w = find(a + "ln_x.weight"); L.lnx_b = find(a + "ln_x.bias");
      L.ffn_x_k = find(p + "ffn.x_k");
      L.rec = {find(a + "receptance.weight"), nullptr, nullptr, C, C};
      L.key = {find(a + "key.weight"), nullptr, nullptr, C, C};
      L.val = {find(a + "value.weight"), nullptr, nullptr, C, C};
      L.out = {find(a + "output.weight"), nullptr, nullptr, C, C};
      L.ffn_key = {find(p + "ffn.key.weight"), nullptr, nullptr, C, F};
      L.ffn_val = {find(p + "ffn.value.weight"), nullptr, nullptr, F, C};
    }
    emb_ = find("emb.weight");
    ln_out_w_ = find("ln_out.weight");
    ln_out_b_ = find("ln_out.bias");
    head_ = find("head.weight");
  }

  // The same adapters, in the same order and with the same random stream, as the CPU backend,
  // so both start from identical weights.
  void setup_peft() {
    if (peft_.method == PeftMethod::Full) {
      for (auto& p : params_) p->trainable = true;
      return;
    }
    const int r = peft_.r;
    if (r <= 0) throw EngineError("E_PEFT_CONFIG", "the adapter rank r must be > 0", "set r in --peft_config");
    uint64_t rng = splitmix(peft_.seed ^ 0x5EEDull);
    for (int l = 0; l < cfg_.n_layer; ++l) {
      Layer& L = layers_[l];
      const std::string p = "blocks." + std::to_string(l) + ".";
      struct Slot { Linear* lin; const char* module; std::string prefix; };
      Slot slots[] = {{&L.rec, "receptance", p + "att.receptance"}, {&L.key, "key", p + "att.key"},
                      {&L.val, "value", p + "att.value"},           {&L.out, "output", p + "att.output"},
                      {&L.ffn_key, "key", p + "ffn.key"},           {&L.ffn_val, "value", p + "ffn.value"}};
      for (auto& sl : slots) {
        if (std::find(peft_.target_modules.begin(), peft_.target_modules.end(), sl.module) ==
            peft_.target_modules.end())
          continue;
        Linear& lin = *sl.lin;
        lin.A = add(sl.prefix + ".lora_A", {r, lin.in}, true);
        lin.Bm = add(sl.prefix + ".lora_B", {lin.out, r}, true);
        const float bound = 1.0f / std::sqrt(float(lin.in));
        for (float& x : lin.A->host) {
          rng = splitmix(rng);
          x = (float((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f) * bound;
        }
        lin.A->trainable = lin.Bm->trainable = true;
      }
    }
    for (auto& p : params_) {
      if (p->adapter) continue;
      for (const auto& part : peft_.train_parts)
        if (!part.empty() && p->name.find(part) != std::string::npos) p->trainable = true;
    }
  }

  template <class T>
  T* own(int64_t n) {
    void* p = alloc_.allocate(size_t(n) * sizeof(T));
    owned_.push_back(p);
    return static_cast<T*>(p);
  }
  void put(float* dst, const std::vector<float>& src) {
    check_cuda(cudaMemcpyAsync(dst, src.data(), src.size() * 4, cudaMemcpyHostToDevice, s()), "upload");
    check_cuda(cudaStreamSynchronize(s()), "upload");
  }
  std::vector<float> fetch(const float* src, int64_t n) const {
    std::vector<float> h(n);
    check_cuda(cudaMemcpyAsync(h.data(), src, size_t(n) * 4, cudaMemcpyDeviceToHost, s()), "download");
    check_cuda(cudaStreamSynchronize(s()), "download");
    return h;
  }
  std::vector<float> download(const DParam& p) const {
    if (p.master) return fetch(p.master, p.n);
    float* tmp = static_cast<float*>(const_cast<CachingAllocator&>(alloc_).allocate(size_t(p.n) * 4));
    bf16_to_f32_device(p.n, p.w16, tmp, s());
    std::vector<float> h = fetch(tmp, p.n);
    const_cast<CachingAllocator&>(alloc_).release(tmp);
    return h;
  }

  void upload() {
    const int C = cfg_.n_embd;
    for (auto& L : layers_) {
      L.mu = own<float>(6 * C);
      L.dmu = own<float>(6 * C);
      check_cuda(cudaMemsetAsync(L.dmu, 0, size_t(6) * C * 4, s()), "dmu");
      DParam* mixes[6] = {L.x_r, L.x_w, L.x_k, L.x_v, L.x_a, L.x_g};
      for (int k = 0; k < 6; ++k) {
        mixes[k]->master = L.mu + k * C;
        mixes[k]->packed = true;
        if (mixes[k]->trainable) mixes[k]->grad = L.dmu + k * C;
      }
    }
    for (auto& pp : params_) {
      DParam& p = *pp;
      if (!p.master && (p.trainable || !p.gemm)) p.master = own<float>(p.n);
      if (p.master) {
        put(p.master, p.host);
      }
      if (p.gemm) {
        p.w16 = own<bf16_t>(p.n);
        if (p.master) {
          f32_to_bf16_device(p.n, p.master, p.w16, s());
        } else {
          float* tmp = static_cast<float*>(alloc_.allocate(size_t(p.n) * 4));
          put(tmp, p.host);
          f32_to_bf16_device(p.n, tmp, p.w16, s());
          check_cuda(cudaStreamSynchronize(s()), "upload");
          alloc_.release(tmp);
        }
      }
      if (p.trainable) {
        if (!p.grad) p.grad = own<float>(p.n);
        p.m = own<float>(p.n);
        p.v = own<float>(p.n);
        check_cuda(cudaMemsetAsync(p.grad, 0, size_t(p.n) * 4, s()), "grad init");
        check_cuda(cudaMemsetAsync(p.m, 0, size_t(p.n) * 4, s()), "m init");
        check_cuda(cudaMemsetAsync(p.v, 0, size_t(p.n) * 4, s()), "v init");
      }
      p.host.clear();
      p.host.shrink_to_fit();
    }
    check_cuda(cudaStreamSynchronize(s()), "upload");
  }

  // Folds LoRA into a base weight on the host (export with --merge 1).
  void merge_into(const std::string& name, std::vector<float>& w) const {
    if (!ends_with(name, ".weight")) return;
    const std::string prefix = name.substr(0, name.size() - 7);
    const DParam* A = find(prefix + ".lora_A");
    const DParam* Bm = find(prefix + ".lora_B");
    if (!A || !Bm) return;
    const std::vector<float> a = download(*A), b = download(*Bm);
    const int r = int(A->shape[0]), in = int(A->shape[1]), out = int(Bm->shape[0]);
    const float sc = peft_.lora_scaling();
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) {
        float acc = 0;
        for (int j = 0; j < r; ++j) acc += b[int64_t(o) * r + j] * a[int64_t(j) * in + i];
        w[int64_t(o) * in + i] += sc * acc;
      }
  }

  static float* G(const DParam* p) { return p && p->trainable ? p->grad : nullptr; }

  // ---- GEMM helpers (row-major) ----
  // y[M,out] = x W^T (+ s * (x A^T) B^T); xa keeps x A^T for the backward.
  void lin_fwd(const Linear& L, const bf16_t* x, bf16_t* y, int M, bf16_t** xa, Arena& ar) {
    ctx_->gemm(false, true, M, L.out, L.in, x, L.in, L.W->w16, L.in, y, L.out, GemmOut::BF16);
    if (L.A) {
      const int r = int(L.A->shape[0]);
      *xa = ar.get<bf16_t>(int64_t(M) * r);
      ctx_->gemm(false, true, M, r, L.in, x, L.in, L.A->w16, L.in, *xa, r, GemmOut::BF16);
      ctx_->gemm(false, true, M, L.out, r, *xa, r, L.Bm->w16, r, y, L.out, GemmOut::BF16,
                 peft_.lora_scaling(), 1.f);
    }
  }
  // dx (= or +=) dy W (+ LoRA); grads of W, A, B accumulated.
  void lin_bwd(const Linear& L, const bf16_t* x, const bf16_t* dy, bf16_t* dx, bool accumulate,
               int M, const bf16_t* xa, Arena& ar) {
    ctx_->gemm(false, false, M, L.in, L.out, dy, L.out, L.W->w16, L.in, dx, L.in, GemmOut::BF16,
               1.f, accumulate ? 1.f : 0.f);
    if (L.W->trainable)
      ctx_->gemm(true, false, L.out, L.in, M, dy, L.out, x, L.in, L.W->grad, L.in, GemmOut::F32, 1.f, 1.f);
    if (L.A) {
      const int r = int(L.A->shape[0]);
      const float sc = peft_.lora_scaling();
      bf16_t* dxa = ar.get<bf16_t>(int64_t(M) * r);
      ctx_->gemm(false, false, M, r, L.out, dy, L.out, L.Bm->w16, r, dxa, r, GemmOut::BF16, sc, 0.f);
      ctx_->gemm(true, false, L.out, r, M, dy, L.out, xa, r, L.Bm->grad, r, GemmOut::F32, sc, 1.f);
      ctx_->gemm(true, false, r, L.in, M, dxa, r, x, L.in, L.A->grad, L.in, GemmOut::F32, 1.f, 1.f);
      ctx_->gemm(false, false, M, L.in, r, dxa, r, L.A->w16, L.in, dx, L.in, GemmOut::BF16, 1.f, 1.f);
    }
  }
  // y[M,N] = x[M,K] A[K,N]
  void mm_fwd(const bf16_t* x, const DParam* A, bf16_t* y, int M, int K, int N) {
    ctx_->gemm(false, false, M, N, K, x, K, A->w16, N, y, N, GemmOut::BF16);
  }
  void mm_bwd(const bf16_t* x, const DParam* A, const bf16_t* dy, bf16_t* dx, bool accumulate,
              int M, int K, int N) {
    ctx_->gemm(false, true, M, K, N, dy, N, A->w16, N, dx, K, GemmOut::BF16, 1.f, accumulate ? 1.f : 0.f);
    if (A->trainable)
      ctx_->gemm(true, false, K, N, M, x, K, dy, N, A->grad, N, GemmOut::F32, 1.f, 1.f);
  }

  bf16_t* run_forward(const Batch& batch, Arena& ar) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd, H = cfg_.n_head(),
              N = cfg_.head_size, F = cfg_.dim_ffn, V = cfg_.vocab_size;
    const int64_t MC = int64_t(M) * C;
    if (T % kWkvCheckpoint != 0)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        "the GPU WKV7 kernel needs ctx_len to be a multiple of 16 (got " + std::to_string(T) + ")",
                        "choose a ctx_len that is a multiple of 16, or use --accelerator cpu");
    for (int i = 0; i < M; ++i)
      if (batch.inputs[i] < 0 || batch.inputs[i] >= V || batch.targets[i] < 0 || batch.targets[i] >= V)
        throw EngineError("E_DATA_TOKEN", "token id " + std::to_string(std::max(batch.inputs[i], batch.targets[i])) +
                                              " is outside the vocabulary of " + std::to_string(V),
                          "the dataset was tokenized for a larger vocabulary than --vocab_size");
    tokens_ = ar.get<int32_t>(M);
    check_cuda(cudaMemcpyAsync(tokens_, batch.inputs, size_t(M) * 4, cudaMemcpyHostToDevice, s()), "tokens upload");
    acts_.assign(cfg_.n_layer, LayerActs());
    bf16_t* x = ar.get<bf16_t>(MC);
    embedding_forward(M, C, tokens_, emb_->w16, x, s());
    const int Dw = cfg_.d_decay_lora, Da = cfg_.d_aaa_lora, Dv = cfg_.d_mv_lora, Dg = cfg_.d_gate_lora;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      Layer& L = layers_[l];
      LayerActs& c = acts_[l];
      c.x_in = x;
      if (l == 0) {
        c.ln0_mean = ar.get<float>(M); c.ln0_rstd = ar.get<float>(M);
        c.att_in = ar.get<bf16_t>(MC);
        norm_forward(M, C, C, 1e-5f, x, L.ln0_w->master, L.ln0_b->master, c.att_in, c.ln0_mean, c.ln0_rstd, s());
      } else {
        c.att_in = x;
      }
      c.h1 = ar.get<bf16_t>(MC); c.ln1_mean = ar.get<float>(M); c.ln1_rstd = ar.get<float>(M);
      norm_forward(M, C, C, 1e-5f, c.att_in, L.ln1_w->master, L.ln1_b->master, c.h1, c.ln1_mean, c.ln1_rstd, s());
      c.mix = ar.get<bf16_t>(6 * MC);
      shift_lerp_forward(B, T, C, 6, c.h1, L.mu, c.mix, s());
      const bf16_t *xr = c.mix, *xw = c.mix + MC, *xk = c.mix + 2 * MC, *xv = c.mix + 3 * MC,
                   *xa = c.mix + 4 * MC, *xg = c.mix + 5 * MC;
      c.r = ar.get<bf16_t>(MC);
      lin_fwd(L.rec, xr, c.r, M, &c.xa_rec, ar);
      c.w1o = ar.get<bf16_t>(int64_t(M) * Dw); c.w1t = ar.get<bf16_t>(int64_t(M) * Dw);
      c.wpre = ar.get<bf16_t>(MC); c.w = ar.get<bf16_t>(MC);
      mm_fwd(xw, L.w1, c.w1o, M, C, Dw);
      act_forward(Act::Tanh, int64_t(M) * Dw, Dw, c.w1o, nullptr, c.w1t, s());
      mm_fwd(c.w1t, L.w2, c.wpre, M, Dw, C);
      act_forward(Act::DecayClamp, MC, C, c.wpre, L.w0->master, c.w, s());
      c.k = ar.get<bf16_t>(MC); c.v_raw = ar.get<bf16_t>(MC);
      lin_fwd(L.key, xk, c.k, M, &c.xa_key, ar);
      lin_fwd(L.val, xv, c.v_raw, M, &c.xa_val, ar);
      if (l == 0) {
        c.v = c.v_raw;
      } else {
        c.vlin = ar.get<bf16_t>(int64_t(M) * Dv); c.vpre = ar.get<bf16_t>(MC);
        c.vg = ar.get<bf16_t>(MC); c.v = ar.get<bf16_t>(MC);
        mm_fwd(xv, L.v1, c.vlin, M, C, Dv);
        mm_fwd(c.vlin, L.v2, c.vpre, M, Dv, C);
        act_forward(Act::Sigmoid, MC, C, c.vpre, L.v0->master, c.vg, s());
        value_residual_forward(MC, c.v_raw, acts_[0].v_raw, c.vg, c.v, s());
      }
      c.a1o = ar.get<bf16_t>(int64_t(M) * Da); c.apre = ar.get<bf16_t>(MC); c.a = ar.get<bf16_t>(MC);
      mm_fwd(xa, L.a1, c.a1o, M, C, Da);
      mm_fwd(c.a1o, L.a2, c.apre, M, Da, C);
      act_forward(Act::Sigmoid, MC, C, c.apre, L.a0->master, c.a, s());
      c.g1o = ar.get<bf16_t>(int64_t(M) * Dg); c.g1s = ar.get<bf16_t>(int64_t(M) * Dg); c.g = ar.get<bf16_t>(MC);
      mm_fwd(xg, L.g1, c.g1o, M, C, Dg);
      act_forward(Act::Sigmoid, int64_t(M) * Dg, Dg, c.g1o, nullptr, c.g1s, s());
      mm_fwd(c.g1s, L.g2, c.g, M, Dg, C);
      c.kk = ar.get<bf16_t>(MC); c.kknorm = ar.get<float>(int64_t(M) * H); c.k2 = ar.get<bf16_t>(MC);
      c.negkk = ar.get<bf16_t>(MC); c.bvec = ar.get<bf16_t>(MC);
      kk_prepare_forward(M, H, c.k, c.a, L.k_k->master, L.k_a->master, c.kk, c.kknorm, c.k2, c.negkk, c.bvec, s());
      c.wkv = ar.get<bf16_t>(MC);
      c.ckpt = ar.get<float>(int64_t(wkv7_state_floats(B, T, H)));
      c.sa = ar.get<float>(int64_t(wkv7_sa_floats(B, T, H)));
      wkv7_forward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, c.wkv, c.ckpt, c.sa, s());
      c.gn = ar.get<bf16_t>(MC); c.lnx_mean = ar.get<float>(int64_t(M) * H); c.lnx_rstd = ar.get<float>(int64_t(M) * H);
      norm_forward(M, C, N, cfg_.ln_x_eps(), c.wkv, L.lnx_w->master, L.lnx_b->master, c.gn, c.lnx_mean, c.lnx_rstd, s());
      c.o3 = ar.get<bf16_t>(MC); c.og = ar.get<bf16_t>(MC);
      bonus_gate_forward(M, H, c.gn, c.r, c.k2, c.v, L.r_k->master, c.g, c.o3, c.og, s());
      bf16_t* att = ar.get<bf16_t>(MC);
      lin_fwd(L.out, c.og, att, M, &c.xa_out, ar);
      c.x_mid = ar.get<bf16_t>(MC);
      add_forward(MC, c.att_in, att, c.x_mid, s());
      // channel mix
      c.h2 = ar.get<bf16_t>(MC); c.ln2_mean = ar.get<float>(M); c.ln2_rstd = ar.get<float>(M);
      norm_forward(M, C, C, 1e-5f, c.x_mid, L.ln2_w->master, L.ln2_b->master, c.h2, c.ln2_mean, c.ln2_rstd, s());
      c.fk_in = ar.get<bf16_t>(MC);
      shift_lerp_forward(B, T, C, 1, c.h2, L.ffn_x_k->master, c.fk_in, s());
      c.fk = ar.get<bf16_t>(int64_t(M) * F); c.fk_act = ar.get<bf16_t>(int64_t(M) * F);
      lin_fwd(L.ffn_key, c.fk_in, c.fk, M, &c.xa_fkey, ar);
      act_forward(Act::ReluSquare, int64_t(M) * F, F, c.fk, nullptr, c.fk_act, s());
      bf16_t* ffo = ar.get<bf16_t>(MC);
      lin_fwd(L.ffn_val, c.fk_act, ffo, M, &c.xa_fval, ar);
      bf16_t* x_out = ar.get<bf16_t>(MC);
      add_forward(MC, c.x_mid, ffo, x_out, s());
      x = x_out;
    }
    x_final_ = x;
    lno_mean_ = ar.get<float>(M); lno_rstd_ = ar.get<float>(M);
    hout_ = ar.get<bf16_t>(MC);
    norm_forward(M, C, C, 1e-5f, x, ln_out_w_->master, ln_out_b_->master, hout_, lno_mean_, lno_rstd_, s());
    bf16_t* logits = ar.get<bf16_t>(int64_t(M) * V);
    ctx_->gemm(false, true, M, V, C, hout_, C, head_->w16, C, logits, V, GemmOut::BF16);
    return logits;
  }

  void run_backward(const Batch& batch, const bf16_t* dlogits, Arena& ar) {
    const int B = batch.B, T = batch.T, M = B * T, C = cfg_.n_embd, H = cfg_.n_head(),
              N = cfg_.head_size, F = cfg_.dim_ffn, V = cfg_.vocab_size;
    const int64_t MC = int64_t(M) * C;
    const int Dw = cfg_.d_decay_lora, Da = cfg_.d_aaa_lora, Dv = cfg_.d_mv_lora, Dg = cfg_.d_gate_lora;
    bf16_t* dhout = ar.get<bf16_t>(MC);
    ctx_->gemm(false, false, M, C, V, dlogits, V, head_->w16, C, dhout, C, GemmOut::BF16);
    if (head_->trainable)
      ctx_->gemm(true, false, V, C, M, dlogits, V, hout_, C, head_->grad, C, GemmOut::F32, 1.f, 1.f);
    bf16_t* dx = ar.get<bf16_t>(MC);
    norm_backward(M, C, C, x_final_, ln_out_w_->master, lno_mean_, lno_rstd_, dhout, dx, G(ln_out_w_), G(ln_out_b_), s());
    float* dv_first = ar.get<float>(MC);
    check_cuda(cudaMemsetAsync(dv_first, 0, size_t(MC) * 4, s()), "dv_first");
    // Scratch reused by every layer (the arena frees it with the step).
    bf16_t* tmp = ar.get<bf16_t>(MC);
    bf16_t* dF1 = ar.get<bf16_t>(int64_t(M) * F);
    bf16_t* dF2 = ar.get<bf16_t>(int64_t(M) * F);
    bf16_t* dmix = ar.get<bf16_t>(6 * MC);
    bf16_t *dog = ar.get<bf16_t>(MC), *do3 = ar.get<bf16_t>(MC), *dg = ar.get<bf16_t>(MC),
           *dwkv = ar.get<bf16_t>(MC), *dr = ar.get<bf16_t>(MC), *dw = ar.get<bf16_t>(MC),
           *dk2 = ar.get<bf16_t>(MC), *dv = ar.get<bf16_t>(MC), *dnegkk = ar.get<bf16_t>(MC),
           *dbvec = ar.get<bf16_t>(MC), *dk = ar.get<bf16_t>(MC), *da = ar.get<bf16_t>(MC),
           *dpre = ar.get<bf16_t>(MC), *dvg = ar.get<bf16_t>(MC), *dv_raw = ar.get<bf16_t>(MC);
    const int Dmax = std::max(std::max(Dw, Da), std::max(Dv, Dg));
    bf16_t* dlow1 = ar.get<bf16_t>(int64_t(M) * Dmax);
    bf16_t* dlow2 = ar.get<bf16_t>(int64_t(M) * Dmax);
    for (int l = cfg_.n_layer - 1; l >= 0; --l) {
      Layer& L = layers_[l];
      LayerActs& c = acts_[l];
      // ---- channel mix: x = x_mid + ffn(ln2(x_mid)) ----
      lin_bwd(L.ffn_val, c.fk_act, dx, dF1, false, M, c.xa_fval, ar);
      act_backward(Act::ReluSquare, int64_t(M) * F, F, c.fk, nullptr, dF1, dF2, nullptr, s());
      lin_bwd(L.ffn_key, c.fk_in, dF2, dpre, false, M, c.xa_fkey, ar);
      shift_lerp_backward(B, T, C, 1, c.h2, L.ffn_x_k->master, dpre, tmp, G(L.ffn_x_k), s());
      norm_backward(M, C, C, c.x_mid, L.ln2_w->master, c.ln2_mean, c.ln2_rstd, tmp, dpre, G(L.ln2_w), G(L.ln2_b), s());
      add_forward(MC, dx, dpre, dx, s());
      // ---- time mix: x_mid = att_in + att(ln1(att_in)) ----
      lin_bwd(L.out, c.og, dx, dog, false, M, c.xa_out, ar);
      gate_backward(MC, dog, c.g, c.o3, do3, dg, s());
      norm_backward(M, C, N, c.wkv, L.lnx_w->master, c.lnx_mean, c.lnx_rstd, do3, dwkv, G(L.lnx_w), G(L.lnx_b), s());
      wkv7_backward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, dwkv, c.ckpt, c.sa, dr, dw, dk2, dv, dnegkk, dbvec, s());
      bonus_backward(M, H, do3, c.r, c.k2, c.v, L.r_k->master, dr, dk2, dv, G(L.r_k), s());
      kk_prepare_backward(M, H, c.k, c.a, L.k_k->master, L.k_a->master, c.kk, c.kknorm, dk2, dnegkk, dbvec, dk, da, G(L.k_k), G(L.k_a), s());
      bf16_t *dxr = dmix, *dxw = dmix + MC, *dxk = dmix + 2 * MC, *dxv = dmix + 3 * MC,
             *dxa = dmix + 4 * MC, *dxg = dmix + 5 * MC;
      const bf16_t *xr = c.mix, *xw = c.mix + MC, *xk = c.mix + 2 * MC, *xv = c.mix + 3 * MC,
                   *xa = c.mix + 4 * MC, *xg = c.mix + 5 * MC;
      // g = sigmoid(xg g1) g2
      mm_bwd(c.g1s, L.g2, dg, dlow1, false, M, Dg, C);
      act_backward(Act::Sigmoid, int64_t(M) * Dg, Dg, c.g1o, nullptr, dlow1, dlow2, nullptr, s());
      mm_bwd(xg, L.g1, dlow2, dxg, false, M, C, Dg);
      // a = sigmoid(a0 + (xa a1) a2)
      act_backward(Act::Sigmoid, MC, C, c.apre, L.a0->master, da, dpre, G(L.a0), s());
      mm_bwd(c.a1o, L.a2, dpre, dlow1, false, M, Da, C);
      mm_bwd(xa, L.a1, dlow1, dxa, false, M, C, Da);
      // v (value residual on layers > 0)
      if (l == 0) {
        add_f32_into_bf16(MC, dv, dv_first, s());
        lin_bwd(L.val, xv, dv, dxv, false, M, c.xa_val, ar);
      } else {
        value_residual_backward(MC, dv, c.v_raw, acts_[0].v_raw, c.vg, dv_raw, dv_first, dvg, s());
        act_backward(Act::Sigmoid, MC, C, c.vpre, L.v0->master, dvg, dpre, G(L.v0), s());
        mm_bwd(c.vlin, L.v2, dpre, dlow1, false, M, Dv, C);
        mm_bwd(xv, L.v1, dlow1, dxv, false, M, C, Dv);
        lin_bwd(L.val, xv, dv_raw, dxv, true, M, c.xa_val, ar);
      }
      lin_bwd(L.key, xk, dk, dxk, false, M, c.xa_key, ar);
      // w = decay(w0 + tanh(xw w1) w2)
      act_backward(Act::DecayClamp, MC, C, c.wpre, L.w0->master, dw, dpre, G(L.w0), s());
      mm_bwd(c.w1t, L.w2, dpre, dlow1, false, M, Dw, C);
      act_backward(Act::Tanh, int64_t(M) * Dw, Dw, c.w1o, nullptr, dlow1, dlow2, nullptr, s());
      mm_bwd(xw, L.w1, dlow2, dxw, false, M, C, Dw);
      lin_bwd(L.rec, xr, dr, dxr, false, M, c.xa_rec, ar);
      shift_lerp_backward(B, T, C, 6, c.h1, L.mu, dmix, tmp, L.dmu, s());
      norm_backward(M, C, C, c.att_in, L.ln1_w->master, c.ln1_mean, c.ln1_rstd, tmp, dpre, G(L.ln1_w), G(L.ln1_b), s());
      add_forward(MC, dx, dpre, dx, s());
      if (l == 0) {
        norm_backward(M, C, C, c.x_in, L.ln0_w->master, c.ln0_mean, c.ln0_rstd, dx, dpre, G(L.ln0_w), G(L.ln0_b), s());
        std::swap(dx, dpre);
      }
    }
    if (emb_->trainable) embedding_backward(M, C, tokens_, dx, emb_->grad, s());
  }

  ModelConfig cfg_;
  PeftConfig peft_;
  BackendOptions opt_;
  CachingAllocator alloc_;  // declared before ctx_ users; destroyed after the parameters' release
  std::unique_ptr<Context> ctx_;
  std::vector<void*> owned_;
  std::vector<std::unique_ptr<DParam>> params_;
  std::map<std::string, DParam*> by_name_;
  std::vector<Layer> layers_;
  DParam *emb_ = nullptr, *ln_out_w_ = nullptr, *ln_out_b_ = nullptr, *head_ = nullptr;
  std::vector<LayerActs> acts_;
  int32_t* tokens_ = nullptr;
  bf16_t *x_final_ = nullptr, *hout_ = nullptr;
  float *lno_mean_ = nullptr, *lno_rstd_ = nullptr;
  int64_t step_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_model_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                            const StateDict& weights, const BackendOptions& opt) {
  return std::make_unique<CudaBackend>(cfg, peft, weights, opt);
}

}  // namespace cuda
}  // namespace rwkv
