// The CUDA backend: RWKV-7 (x070) forward and backward on the GPU, the same chain of ops as
// the CPU backend (engine/cpu/cpu_backend.cpp, the oracle) built from the kernels of
// kernels.h / model_kernels.h, cuBLASLt GEMMs and the adapted linears of adapted_linear.h.
// Activations and GEMM operands are bf16 with fp32 accumulation; trained tensors have an fp32
// master, fp32 gradient and AdamW moments; frozen matrices exist only in bf16 (small
// per-channel vectors are fp32 either way, they feed the fp32 parameters of the norm / mix /
// activation kernels).
//
// A step is: embedding -> layer_forward per layer -> chunked head + cross-entropy (never more
// than head_chunk rows of logits) -> layer_backward per layer in reverse. LayerActs is the
// activation table of one layer: every tensor layer_forward writes and layer_backward reads.
// Without --grad_cp every layer's table lives until the backward; with --grad_cp 1 only each
// layer's input (and layer 0's v_first) is kept, the table is pushed onto the step's arena after
// a mark and popped once the layer is done, and layer_backward's layer is first recomputed from
// its kept input, so one layer's activations live at a time.
// Methods: full fine-tuning, LoRA (with dropout) and PiSSA (the trainer hands it over as LoRA),
// MiSS, state tuning; infctx's carried state (Batch::carry). head size 64 and ctx_len a multiple
// of 16 (the WKV7 kernel's); train/gpu_support.cpp refuses the rest before a run starts.
// RWKV-6 (x060) models run the same step with x060_block.h's block in place of layer_forward /
// layer_backward, only when core/gpu_switches.h's cuda_x060_enabled() (not yet run on a GPU).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "core/backend.h"
#include "core/batch_passes.h"
#include "core/gpu_switches.h"
#include "core/errors.h"
#include "core/model_shapes.h"
#include "core/optimizer_state.h"
#include "core/quant.h"
#include "cuda/adapted_linear.h"
#include "cuda/arena.h"
#include "cuda/caching_allocator.h"
#include "cuda/cuda_context.h"
#include "cuda/cuda_model.h"
#include "cuda/device_param.h"
#include "cuda/kernels.h"
#include "cuda/model_kernels.h"
#include "cuda/param_slab.h"
#include "cuda/x060_block.h"

namespace rwkv {
namespace cuda {
namespace {

struct Layer {
  DParam *ln0_w = nullptr, *ln0_b = nullptr, *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  DParam *x_r, *x_w, *x_k, *x_v, *x_a, *x_g, *w0, *w1, *w2, *a0, *a1, *a2;
  DParam *v0 = nullptr, *v1 = nullptr, *v2 = nullptr;
  DParam *g1, *g2, *k_k, *k_a, *r_k, *lnx_w, *lnx_b, *ffn_x_k;
  DParam* time_state = nullptr;  // state tuning: [H, N, N]
  AdaptedLinear rec, key, val, out, ffn_key, ffn_val;
  float* mu = nullptr;   // [6, C]: x_r, x_w, x_k, x_v, x_a, x_g
  float* dmu = nullptr;  // [6, C]
};

// The activation table of one layer: what layer_forward writes for layer_backward (bf16 unless
// noted; M = B*T rows, C channels, H heads, F = dim_ffn, D* the low-rank widths).
struct LayerActs {
  const bf16_t* x_in = nullptr;  // [M,C] the layer's input (kept across the step)
  bf16_t* att_in = nullptr;      // [M,C] layer 0: ln0(x_in); else x_in
  bf16_t *h1 = nullptr, *mix = nullptr;  // ln1(att_in); the six token-shift lerps [6,M,C]
  bf16_t *r, *w1o, *w1t, *wpre, *w, *k, *v_raw;  // w1o/w1t [M,Dw]; v_raw: layer 0's is v_first
  bf16_t *vlin = nullptr, *vpre = nullptr, *vg = nullptr, *v;  // value residual (layers > 0)
  bf16_t *a1o, *apre, *a, *g1o, *g1s, *g;                      // a1o [M,Da]; g1o/g1s [M,Dg]
  bf16_t *kk, *k2, *negkk, *bvec, *wkv, *gn, *o3, *og, *x_mid, *h2, *fk_in, *fk, *fk_act;  // fk* [M,F]
  LinearKept rec_k, key_k, val_k, out_k, fkey_k, fval_k;
  float *ln0_mean = nullptr, *ln0_rstd = nullptr, *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;  // [M]
  float *lnx_mean, *lnx_rstd, *kknorm;  // [M,H]
  float *ckpt, *sa;                     // WKV7's state checkpoints and sa (kernels.h sizes)
};

// Where a layer's WKV state and token shifts start (infctx's carry or state tuning), on the GPU.
struct LayerStart {
  const float* att_prev = nullptr;  // [B,C] fp32
  const float* ffn_prev = nullptr;  // [B,C]
  const float* wkv_s0 = nullptr;    // [B,H,N,N] (stride H*N*N) or [H,N,N] (stride 0)
  int64_t wkv_stride = 0;
  float* wkv_ds0 = nullptr;         // state tuning: d time_state
};
// Where a layer's forward leaves what infctx carries to the next chunk.
struct LayerEnd {
  float* att_last = nullptr;  // [B,C]
  float* ffn_last = nullptr;  // [B,C]
  float* wkv_last = nullptr;  // [B,H,N,N]
};

// Per-step shapes.
struct Shape {
  int B, T, M, C, H, N, F, V, Dw, Da, Dv, Dg;
  int64_t MC;
};

// Gradient buffers reused by every layer's backward. The time mix's gradients (dmix and 14
// C-wide tensors) take no memory of their own where they fit: once the channel mix's backward
// is done, its d(ffn) buffers (dF, 2 x [M,F]) and the layer's own fk / fk_act activations
// (2 x [M,F], read by nothing after it) are dead, and the time mix's gradients are carved out of
// them (TimeMixGrads); `extra` holds what does not fit.
struct BackwardScratch {
  bf16_t *tmp, *dF, *dpre, *dlow1, *dlow2;  // dF: [2, M, F] (dF1 then dF2)
  bf16_t* extra = nullptr;
  int64_t extra_n = 0;
  float* dv_first;  // fp32 [M,C]: every layer's contribution to d v_first
};

struct TimeMixGrads {
  bf16_t *dmix, *dog, *do3, *dg, *dwkv, *dr, *dw, *dk2, *dv, *dnegkk, *dbvec, *dk, *da, *dvg, *dv_raw;
};

// Hands out consecutive pieces of a list of dead buffers; a piece never straddles two.
class Carver {
 public:
  void add(bf16_t* p, int64_t n) { regions_.push_back({p, n}); }
  bf16_t* take(int64_t n) {
    while (i_ < regions_.size() && used_ + n > regions_[i_].second) ++i_, used_ = 0;
    if (i_ == regions_.size()) throw EngineError("E_INTERNAL", "backward scratch too small", "");
    bf16_t* p = regions_[i_].first ? regions_[i_].first + used_ : nullptr;
    used_ += n;
    return p;
  }
  int64_t used_of_last() const { return i_ + 1 == regions_.size() ? used_ : 0; }

 private:
  std::vector<std::pair<bf16_t*, int64_t>> regions_;
  size_t i_ = 0;
  int64_t used_ = 0;
};

TimeMixGrads carve_time_mix_grads(Carver& cv, int64_t MC) {
  TimeMixGrads g;
  g.dmix = cv.take(6 * MC);
  for (bf16_t** p : {&g.dog, &g.do3, &g.dg, &g.dwkv, &g.dr, &g.dw, &g.dk2, &g.dv, &g.dnegkk, &g.dbvec, &g.dk,
                     &g.da, &g.dvg, &g.dv_raw})
    *p = cv.take(MC);
  return g;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

constexpr int kDefaultHeadChunk = 1024;  // rows of logits alive at a time: 1024 x 65536 bf16 = 128 MiB

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelConfig& cfg, const PeftConfig& peft, const StateDict& weights,
              const BackendOptions& opt)
      : cfg_(cfg), peft_(peft), opt_(opt) {
    ctx_ = std::make_unique<Context>(opt.device);  // driver / GPU / cuBLASLt errors first
    if (x060_ && !cuda_x060_enabled())  // the trainer refuses first (gpu_support)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        "RWKV-6 (x060) training on the GPU is switched off: it has not run on a GPU yet",
                        "train with --accelerator cpu, or set RWKV_CUDA_X060=1 to try the GPU path");
    if (cfg.head_size != kWkvHeadSize)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        std::string("the GPU WKV") + (x060_ ? "6" : "7") + " kernel needs head_size 64, the model has " +
                            std::to_string(cfg.head_size),
                        "use --accelerator cpu for this model");
    if (opt.quant != QuantType::None && !cuda_quant_switch_on())  // the trainer refuses first (gpu_support)
      throw EngineError("E_CUDA_UNSUPPORTED",
                        std::string("--quant ") + quant_type_name(opt.quant) + " is not yet available on the GPU",
                        "train with --accelerator cpu, or use --quant none on the GPU");
    if (peft.method == PeftMethod::Lora && peft.lora_dropout >= 1.0f)
      throw EngineError("E_PEFT_CONFIG", "lora_dropout must be below 1", "set lora_dropout in [0, 1)");
    validate_model_weights(cfg, weights);  // x070 or x060, by cfg.version
    std::map<std::string, const HostTensor*> by_name;
    for (const auto& [n, t] : weights) by_name[n] = &t;
    for (const auto& [name, shape] : model_tensor_shapes(cfg)) add(name, shape, false)->host = by_name[name]->to_f32();
    if (x060_) setup_x060_layers();
    else setup_layers();
    setup_peft(by_name);
    upload();
    alloc_.empty_cache();
    alloc_.reset_peak();
  }

  ~CudaBackend() override {
    if (ctx_) cudaStreamSynchronize(ctx_->stream());
    slab_.release(alloc_);
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
    Arena ar(alloc_);
    first_row_ = 0;
    const Shape sh = begin_step(batch, ar);
    const bf16_t* x = forward_layers(batch, sh, ar, /*keep_all=*/false);
    const int64_t counted = counted_tokens(batch);
    HeadOut h = head(batch, sh, x, ar, /*backward=*/false, 0.f, counted, logits_out);
    check_cuda(cudaStreamSynchronize(s()), "forward");
    end_step(batch, sh);
    return {counted ? h.loss_sum / double(counted) : 0.0, counted};
  }

  // The micro-batch in passes of whole sequences (core/batch_passes.h): each pass's loss
  // gradient is scaled by the whole micro-batch's token count and the parameter gradients add
  // up, so the result is the unsplit step's. infctx's carried state is per micro-batch: no split.
  LossResult forward_backward(const Batch& batch, float loss_scale) override {
    const int per = batch.carry ? batch.B
                                : int(sequences_per_pass(batch.B, batch.T, cfg_.n_embd, opt_.grad_checkpoint, opt_.pass_tokens));
    const int64_t counted = counted_tokens(batch);
    double loss_sum = 0;
    for (int b0 = 0; b0 < batch.B; b0 += per) {
      Batch part = batch;
      part.B = std::min(per, batch.B - b0);
      first_row_ = int64_t(b0) * batch.T;
      final_pass_ = b0 + per >= batch.B;
      part.inputs += first_row_;
      part.targets += first_row_;
      if (part.loss_mask) part.loss_mask += first_row_;
      if (part.l2wrap_rows <= 0) part.l2wrap_rows = int64_t(batch.B) * batch.T;
      loss_sum += forward_backward_pass(part, loss_scale, counted);
    }
    first_row_ = 0;
    final_pass_ = true;
    ++micro_batches_;
    return {counted ? loss_sum / double(counted) : 0.0, counted};
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
  // The trainer's parameter groups (AdamWParams::lr_scale / decay, trainable_params() order;
  // RWKV-LM: 2x lr on att.w0, decay on >=2-D .weight only) when switched on (core/
  // gpu_switches.h; not yet run on a GPU), else decays(); one multi-tensor launch per
  // (lr scale, decay) group, as the CPU backend's per-tensor loop.
  void optimizer_step(const AdamWParams& hp) override {
    ++step_;
    std::map<std::pair<float, bool>, std::vector<AdamTensor>> groups;
    size_t i = 0;
    const bool groups_given = cuda_lr_groups_enabled();
    for (const auto& p : params_) {
      if (!p->trainable) continue;
      const float scale = groups_given && i < hp.lr_scale.size() ? hp.lr_scale[i] : 1.f;
      const bool decay = groups_given && i < hp.decay.size() ? hp.decay[i] != 0 : decays(*p);
      ++i;
      groups[{scale, decay}].push_back(AdamTensor{p->master, p->grad, p->m, p->v, p->w16, p->n});
    }
    for (auto& [key, tensors] : groups) {
      AdamHyper h{hp.lr * key.first, hp.beta1, hp.beta2, hp.eps, key.second ? hp.weight_decay : 0.f, 1.f, int(step_)};
      adamw_multi_tensor(tensors.data(), int(tensors.size()), h, s());
    }
    zero_grads();
    micro_batches_ = 0;
    check_cuda(cudaStreamSynchronize(s()), "optimizer_step");
  }
  int64_t optimizer_steps() const override { return step_; }

  // ---- Data-parallel training (engine/dist) ----
  TrainableView trainable_view() override {
    TrainableView v;
    for (const auto& p : params_) {
      if (!p->trainable) continue;
      v.param.push_back(p->master);
      v.grad.push_back(p->grad);
      v.exp_avg.push_back(sharded_ ? nullptr : p->m);
      v.exp_avg_sq.push_back(sharded_ ? nullptr : p->v);
      v.numel.push_back(p->n);
    }
    if (sharded_) {
      v.shard_exp_avg = shard_m_;
      v.shard_exp_avg_sq = shard_v_;
      v.shard_count = shard_count_;
    }
    v.stream = s();
    v.on_device = true;
    return v;
  }
  void optimizer_step_slices(const AdamWParams& hp, const std::vector<TensorSlice>& slices) override {
    ++step_;
    std::vector<DParam*> trained;
    for (const auto& p : params_)
      if (p->trainable) trained.push_back(p.get());
    std::vector<AdamTensor> decay, plain;
    int64_t off = 0;  // sharded: where the slice's moments start in this rank's buffers
    for (const TensorSlice& sl : slices) {
      DParam* p = trained.at(size_t(sl.tensor));
      const int64_t b = sl.begin;
      float* m = sharded_ ? shard_m_ + off : p->m + b;
      float* v = sharded_ ? shard_v_ + off : p->v + b;
      AdamTensor t{p->master + b, p->grad + b, m, v, p->w16 ? p->w16 + b : nullptr, sl.end - b};
      (decays(*p) ? decay : plain).push_back(t);
      off += sl.end - b;
    }
    AdamHyper h{hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, 1.f, int(step_)};
    if (!decay.empty()) adamw_multi_tensor(decay.data(), int(decay.size()), h, s());
    h.weight_decay = 0.f;
    if (!plain.empty()) adamw_multi_tensor(plain.data(), int(plain.size()), h, s());
    zero_grads();
    micro_batches_ = 0;
    check_cuda(cudaStreamSynchronize(s()), "optimizer_step_slices");
  }
  void shard_optimizer_state(const std::vector<TensorSlice>& slices, int64_t count) override {
    std::vector<DParam*> trained;
    for (const auto& p : params_)
      if (p->trainable) trained.push_back(p.get());
    shard_m_ = own<float>(std::max<int64_t>(count, 1));
    shard_v_ = own<float>(std::max<int64_t>(count, 1));
    check_cuda(cudaMemsetAsync(shard_m_, 0, size_t(count) * 4, s()), "shard m init");
    check_cuda(cudaMemsetAsync(shard_v_, 0, size_t(count) * 4, s()), "shard v init");
    int64_t off = 0;
    for (const TensorSlice& sl : slices) {
      const DParam* p = trained.at(size_t(sl.tensor));
      const size_t bytes = size_t(sl.end - sl.begin) * 4;
      check_cuda(cudaMemcpyAsync(shard_m_ + off, p->m + sl.begin, bytes, cudaMemcpyDeviceToDevice, s()), "shard m");
      check_cuda(cudaMemcpyAsync(shard_v_ + off, p->v + sl.begin, bytes, cudaMemcpyDeviceToDevice, s()), "shard v");
      off += sl.end - sl.begin;
    }
    check_cuda(cudaStreamSynchronize(s()), "shard_optimizer_state");
    for (DParam* p : trained) {  // the rest of the state is another rank's: back to the driver
      for (float** buf : {&p->m, &p->v}) {
        owned_.erase(std::remove(owned_.begin(), owned_.end(), static_cast<void*>(*buf)), owned_.end());
        alloc_.release(*buf);
        *buf = nullptr;
      }
    }
    alloc_.empty_cache();
    shard_count_ = count;
    sharded_ = true;
  }
  void import_optimizer_shard(const float* m, const float* v, int64_t count, int64_t step) override {
    if (!sharded_ || count != shard_count_) throw EngineError("E_INTERNAL", "optimizer shard of the wrong size", "");
    check_cuda(cudaMemcpyAsync(shard_m_, m, size_t(count) * 4, cudaMemcpyHostToDevice, s()), "upload shard m");
    check_cuda(cudaMemcpyAsync(shard_v_, v, size_t(count) * 4, cudaMemcpyHostToDevice, s()), "upload shard v");
    check_cuda(cudaStreamSynchronize(s()), "import_optimizer_shard");
    step_ = step;
  }
  void params_changed() override {  // the other ranks' slices arrived in master: their bf16 copies
    for (const auto& p : params_)
      if (p->trainable && p->w16) f32_to_bf16_device(p->n, p->master, p->w16, s());
    check_cuda(cudaStreamSynchronize(s()), "params_changed");
  }
  void set_grad_ready_hook(std::function<void(int)> hook) override {
    grad_ready_ = std::move(hook);
    // which trainable tensors each stage of the backward finishes: the head (and ln_out), each
    // layer (blocks.L.*, layer 0 with ln0 and v_first's sum), the embedding
    hook_groups_.assign(size_t(cfg_.n_layer) + 2, {});
    int index = 0;
    for (const auto& p : params_) {
      if (!p->trainable) continue;
      int group = kHeadGroup;
      if (p->name.rfind("blocks.", 0) == 0) group = std::atoi(p->name.c_str() + 7);
      else if (p->name.rfind("emb.", 0) == 0) group = kEmbGroup;
      hook_groups_[size_t(group == kHeadGroup ? cfg_.n_layer : group == kEmbGroup ? cfg_.n_layer + 1 : group)].push_back(index++);
    }
  }

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
    if (kind == ExportKind::Merged)  // state tuning: the trained state is the product
      for (const auto& p : params_)
        if (p->adapter && p->name.find("time_state") != std::string::npos)
          out.push_back({p->name, HostTensor::from_f32(download(*p), p->shape)});
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
    if (sharded_) throw EngineError("E_INTERNAL", "the sharded AdamW state is gathered by DataParallel", "");
    std::vector<AdamMoments> moments;
    for (const auto& p : params_)
      if (p->trainable) moments.push_back({p->name, p->shape, fetch(p->m, p->n), fetch(p->v, p->n)});
    return optimizer_state_dict(moments, step_);
  }
  void import_optimizer_state(const StateDict& state) override {
    if (sharded_) throw EngineError("E_INTERNAL", "the sharded AdamW state is imported by DataParallel", "");
    read_optimizer_state(state, step_, [&](const std::string& name, bool second, const HostTensor& t) {
      DParam* p = find(name);
      if (!p || !p->trainable || t.numel() != p->n) return false;
      put(second ? p->v : p->m, t.to_f32());
      return true;
    });
  }

  MemoryStats memory() const override {
    MemoryStats st;
    for (const auto& p : params_) {
      st.weights_bytes += (p->master && !p->packed ? p->n * 4 : 0) + (p->w16 ? p->n * 2 : 0) +
                          (p->q.type != QuantType::None ? quant_storage_bytes(p->q.type, p->n) : 0);
      if (p->trainable) {
        st.grads_bytes += p->n * 4;
        if (!sharded_) st.optimizer_bytes += p->n * 8;
      }
    }
    if (sharded_) st.optimizer_bytes += uint64_t(shard_count_) * 8;
    st.in_use_bytes = alloc_.in_use();
    st.reserved_bytes = alloc_.reserved();
    st.peak_bytes = alloc_.peak_in_use();
    const uint64_t fixed = st.weights_bytes + st.grads_bytes + st.optimizer_bytes;
    st.activations_bytes = st.peak_bytes > fixed ? st.peak_bytes - fixed : 0;
    return st;
  }

 private:
  cudaStream_t s() const { return ctx_->stream(); }
  static constexpr int kHeadGroup = -1, kEmbGroup = -2;
  // Tells the communicator a group's gradients are complete: only in a micro-batch's last pass
  // (core/batch_passes.h), when every pass has added its share.
  void grads_ready(int group) {
    if (!grad_ready_ || !final_pass_) return;
    const size_t g = size_t(group == kHeadGroup ? cfg_.n_layer : group == kEmbGroup ? cfg_.n_layer + 1 : group);
    for (int t : hook_groups_[g]) grad_ready_(t);
  }

  static int64_t counted_tokens(const Batch& batch) {
    const int64_t M = int64_t(batch.B) * batch.T;
    if (!batch.loss_mask) return M;
    int64_t n = 0;
    for (int64_t i = 0; i < M; ++i) n += batch.loss_mask[i] != 0;
    return n;
  }

  // One pass: forward, head and backward of `batch` (a whole micro-batch or some of its
  // sequences); the loss gradient is loss_scale / `counted` per token. Returns the loss sum.
  double forward_backward_pass(const Batch& batch, float loss_scale, int64_t counted) {
    Arena ar(alloc_);
    const Shape sh = begin_step(batch, ar);
    const bool keep_all = !opt_.grad_checkpoint;
    const bf16_t* x = forward_layers(batch, sh, ar, keep_all);
    HeadOut h = head(batch, sh, x, ar, /*backward=*/true, loss_scale, counted, nullptr);
    grads_ready(kHeadGroup);
    backward_layers(sh, h.dx, ar, keep_all);
    check_cuda(cudaStreamSynchronize(s()), "forward_backward");
    end_step(batch, sh);
    return h.loss_sum;
  }

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
                                     ".att.v2", ".att.g1", ".att.g2",
                                     // x060's low-rank mix and decay paths
                                     ".att.time_maa_w1", ".att.time_maa_w2", ".att.time_decay_w1",
                                     ".att.time_decay_w2"};
    p->gemm = ends_with(name, ".lora_A") || ends_with(name, ".lora_B") || ends_with(name, ".disha") ||
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
      // Slot numbers name each linear's dropout stream; they are the CPU backend's salts.
      L.rec = {find(a + "receptance.weight"), nullptr, nullptr, nullptr, C, C, l * 8 + 0};
      L.key = {find(a + "key.weight"), nullptr, nullptr, nullptr, C, C, l * 8 + 1};
      L.val = {find(a + "value.weight"), nullptr, nullptr, nullptr, C, C, l * 8 + 2};
      L.out = {find(a + "output.weight"), nullptr, nullptr, nullptr, C, C, l * 8 + 3};
      L.ffn_key = {find(p + "ffn.key.weight"), nullptr, nullptr, nullptr, C, F, l * 8 + 4};
      L.ffn_val = {find(p + "ffn.value.weight"), nullptr, nullptr, nullptr, F, C, l * 8 + 5};
    }
    emb_ = find("emb.weight");
    ln_out_w_ = find("ln_out.weight");
    ln_out_b_ = find("ln_out.bias");
    head_ = find("head.weight");
  }

  void setup_x060_layers() {
    x060_layers_.resize(cfg_.n_layer);
    const int C = cfg_.n_embd, F = cfg_.dim_ffn;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".", a = p + "att.", f = p + "ffn.";
      x060::BlockParams& L = x060_layers_[l];
      if (l == 0) { L.ln0_w = find(p + "ln0.weight"); L.ln0_b = find(p + "ln0.bias"); }
      L.ln1_w = find(p + "ln1.weight"); L.ln1_b = find(p + "ln1.bias");
      L.ln2_w = find(p + "ln2.weight"); L.ln2_b = find(p + "ln2.bias");
      L.maa_x = find(a + "time_maa_x");
      const char* mixes[kX060Mixes] = {"w", "k", "v", "r", "g"};  // RWKV-PEFT's unbind order
      for (int j = 0; j < kX060Mixes; ++j) L.maa[j] = find(a + "time_maa_" + mixes[j]);
      L.maa_w1 = find(a + "time_maa_w1"); L.maa_w2 = find(a + "time_maa_w2");
      L.time_decay = find(a + "time_decay");
      L.decay_w1 = find(a + "time_decay_w1"); L.decay_w2 = find(a + "time_decay_w2");
      L.faaaa = find(a + "time_faaaa");
      L.lnx_w = find(a + "ln_x.weight"); L.lnx_b = find(a + "ln_x.bias");
      L.ffn_maa_k = find(f + "time_maa_k"); L.ffn_maa_r = find(f + "time_maa_r");
      // slot = layer * 8 + role: the CPU backend's dropout salt for the same linear
      auto set = [&](x060::Linear role, const std::string& name, int in, int out) {
        L.lin[role] = {find(name + ".weight"), nullptr, nullptr, nullptr, in, out, l * 8 + int(role)};
      };
      set(x060::AttReceptance, a + "receptance", C, C);
      set(x060::AttKey, a + "key", C, C);
      set(x060::AttValue, a + "value", C, C);
      set(x060::AttGate, a + "gate", C, C);
      set(x060::AttOutput, a + "output", C, C);
      set(x060::FfnKey, f + "key", C, F);
      set(x060::FfnReceptance, f + "receptance", C, C);
      set(x060::FfnValue, f + "value", F, C);
    }
    emb_ = find("emb.weight");
    ln_out_w_ = find("ln_out.weight");
    ln_out_b_ = find("ln_out.bias");
    head_ = find("head.weight");
  }

  // A block linear and the module name target_modules matches it by, in the CPU backend's order
  // (cpu_backend.cpp linear_slots), which is the order LoRA's A matrices draw their random values.
  struct Slot { AdaptedLinear* lin; const char* module; std::string prefix; };
  std::vector<Slot> linear_slots(int l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    if (x060_) {
      x060::BlockParams& L = x060_layers_[l];
      return {{&L.lin[x060::AttReceptance], "receptance", p + "att.receptance"},
              {&L.lin[x060::AttKey], "key", p + "att.key"},
              {&L.lin[x060::AttValue], "value", p + "att.value"},
              {&L.lin[x060::AttGate], "gate", p + "att.gate"},
              {&L.lin[x060::AttOutput], "output", p + "att.output"},
              {&L.lin[x060::FfnKey], "key", p + "ffn.key"},
              {&L.lin[x060::FfnReceptance], "receptance", p + "ffn.receptance"},
              {&L.lin[x060::FfnValue], "value", p + "ffn.value"}};
    }
    Layer& L = layers_[l];
    return {{&L.rec, "receptance", p + "att.receptance"}, {&L.key, "key", p + "att.key"},
            {&L.val, "value", p + "att.value"},           {&L.out, "output", p + "att.output"},
            {&L.ffn_key, "key", p + "ffn.key"},           {&L.ffn_val, "value", p + "ffn.value"}};
  }
  DParam*& time_state_of(int l) { return x060_ ? x060_layers_[l].time_state : layers_[l].time_state; }

  // The same adapters, in the same order and with the same random stream, as the CPU backend,
  // so both start from identical weights.
  void setup_peft(const std::map<std::string, const HostTensor*>& by_name) {
    if (peft_.method == PeftMethod::Full) {
      for (auto& p : params_) p->trainable = true;
      return;
    }
    const int r = peft_.r;
    const bool ranked = peft_.method == PeftMethod::Lora || peft_.method == PeftMethod::Pissa ||
                        peft_.method == PeftMethod::Miss;
    if (ranked && r <= 0) throw EngineError("E_PEFT_CONFIG", "the adapter rank r must be > 0", "set r in --peft_config");
    uint64_t rng = splitmix(peft_.seed ^ 0x5EEDull);
    for (int l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      if (peft_.method == PeftMethod::State) {
        DParam*& state = time_state_of(l);
        state = add(p + "att.time_state", {cfg_.n_head(), cfg_.head_size, cfg_.head_size}, true);
        auto it = by_name.find(state->name);  // a state file given as base weights
        if (it != by_name.end()) state->host = it->second->to_f32();
        state->trainable = true;
        continue;
      }
      for (auto& sl : linear_slots(l)) {
        if (std::find(peft_.target_modules.begin(), peft_.target_modules.end(), sl.module) ==
            peft_.target_modules.end())
          continue;
        AdaptedLinear& lin = *sl.lin;
        if (peft_.method == PeftMethod::Miss) {
          lin.miss = add(sl.prefix + ".disha", {r, lin.out}, true);  // zeros: starts at W
          lin.miss->trainable = true;
          continue;
        }
        lin.A = add(sl.prefix + ".lora_A", {r, lin.in}, true);
        lin.Bm = add(sl.prefix + ".lora_B", {lin.out, r}, true);
        // kaiming_uniform_(a=sqrt(5)) on [r, in]; PiSSA's A and B come from the trainer
        // (train/adapter_start.cpp) through import_trainable.
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
    if (p.q.type != QuantType::None) {  // a quantised base: dequantised on the host, as the CPU does
      QuantTensor q;
      q.type = p.q.type, q.shape = p.shape, q.n = p.n, q.block = p.q.block;
      q.codes.resize(q.type == QuantType::Nf4 ? size_t((p.n + 1) / 2) : size_t(p.n));
      q.absmax.resize(size_t((p.n + p.q.block - 1) / p.q.block));
      check_cuda(cudaMemcpyAsync(q.codes.data(), p.q.codes, q.codes.size(), cudaMemcpyDeviceToHost, s()), "download");
      check_cuda(cudaMemcpyAsync(q.absmax.data(), p.q.absmax, q.absmax.size() * 4, cudaMemcpyDeviceToHost, s()), "download");
      check_cuda(cudaStreamSynchronize(s()), "download");
      return dequantize(q);
    }
    float* tmp = static_cast<float*>(const_cast<CachingAllocator&>(alloc_).allocate(size_t(p.n) * 4));
    bf16_to_f32_device(p.n, p.w16, tmp, s());
    std::vector<float> h = fetch(tmp, p.n);
    const_cast<CachingAllocator&>(alloc_).release(tmp);
    return h;
  }

  // Where every long-lived buffer lives. `take(bytes)` hands out device memory: from the slab
  // (ParamSlab: run once to size it, once to assign) or, while the slab is switched off
  // (core/gpu_switches.h), a block of the allocator's each.
  template <class Take>
  void assign_long_lived(Take&& take) {
    auto f32 = [&](int64_t n) { return static_cast<float*>(take(size_t(n) * 4)); };
    const int C = cfg_.n_embd;
    for (auto& pp : params_) {
      DParam& p = *pp;
      p.master = p.grad = p.m = p.v = nullptr;
      p.w16 = nullptr;
      p.packed = false;
    }
    for (auto& L : layers_) {
      L.mu = f32(6 * C);
      L.dmu = f32(6 * C);
      DParam* mixes[6] = {L.x_r, L.x_w, L.x_k, L.x_v, L.x_a, L.x_g};
      for (int k = 0; k < 6; ++k) {
        mixes[k]->master = L.mu + k * C;
        mixes[k]->packed = true;
        if (mixes[k]->trainable) mixes[k]->grad = L.dmu + k * C;
      }
    }
    for (auto& pp : params_) {
      DParam& p = *pp;
      if (quantised(p)) continue;  // codes + absmax of its own (upload_quantised)
      if (!p.master && (p.trainable || !p.gemm)) p.master = f32(p.n);
      if (p.gemm) p.w16 = static_cast<bf16_t*>(take(size_t(p.n) * 2));
      if (p.trainable) {
        if (!p.grad) p.grad = f32(p.n);
        p.m = f32(p.n);
        p.v = f32(p.n);
      }
    }
  }

  bool quantised(const DParam& p) const {
    return opt_.quant != QuantType::None && !p.adapter && quantised_base_tensor(p.name);
  }
  // A device buffer of its own for the model's lifetime (quantised codes, the code book).
  template <class T>
  T* own(int64_t n) {
    void* p = alloc_.allocate(size_t(n) * sizeof(T), /*exact=*/true);
    owned_.push_back(p);
    return static_cast<T*>(p);
  }

  void upload() {
    if (cuda_param_slab_enabled()) {
      auto from_slab = [&](size_t bytes) { return static_cast<void*>(slab_.take<uint8_t>(int64_t(bytes))); };
      assign_long_lived(from_slab);  // sizing
      slab_.allocate(alloc_);
      assign_long_lived(from_slab);
    } else {
      assign_long_lived([&](size_t bytes) { return static_cast<void*>(own<uint8_t>(int64_t(bytes))); });
    }
    const int C = cfg_.n_embd;
    for (auto& L : layers_) check_cuda(cudaMemsetAsync(L.dmu, 0, size_t(6) * C * 4, s()), "dmu");
    const float* code = nullptr;  // --quant: the code book, once for every quantised linear
    if (opt_.quant != QuantType::None) {
      float* c = own<float>(quant_code_size(opt_.quant));
      check_cuda(cudaMemcpyAsync(c, quant_code(opt_.quant), size_t(quant_code_size(opt_.quant)) * 4,
                                 cudaMemcpyHostToDevice, s()), "upload");
      code = c;
    }
    for (auto& pp : params_) {
      DParam& p = *pp;
      if (quantised(p)) {
        upload_quantised(p, code);
        continue;
      }
      if (p.master) put(p.master, p.host);
      if (p.gemm) {
        if (p.master) {
          f32_to_bf16_device(p.n, p.master, p.w16, s());
        } else {
          // fp32 staging for the conversion, given back to the driver at once so that it is
          // neither counted nor kept by what follows
          float* tmp = static_cast<float*>(alloc_.allocate(size_t(p.n) * 4));
          put(tmp, p.host);
          f32_to_bf16_device(p.n, tmp, p.w16, s());
          check_cuda(cudaStreamSynchronize(s()), "upload");
          alloc_.release(tmp);
          alloc_.empty_cache();
        }
      }
      if (p.trainable) {
        check_cuda(cudaMemsetAsync(p.grad, 0, size_t(p.n) * 4, s()), "grad init");
        check_cuda(cudaMemsetAsync(p.m, 0, size_t(p.n) * 4, s()), "m init");
        check_cuda(cudaMemsetAsync(p.v, 0, size_t(p.n) * 4, s()), "v init");
      }
      p.host.clear();
      p.host.shrink_to_fit();
    }
    check_cuda(cudaStreamSynchronize(s()), "upload");
  }

  // --quant: a frozen block linear as codes + fp32 absmax (core/quant.h, quantised on the host
  // after PiSSA's residual is taken, as the CPU backend does), no bf16 or fp32 copy.
  void upload_quantised(DParam& p, const float* code) {
    if (p.trainable)
      throw EngineError("E_QUANT_TRAINED",
                        std::string("--quant ") + quant_type_name(opt_.quant) + " keeps " + p.name +
                            " frozen, but this run would train it",
                        "quantised bases are for PEFT (LoRA, PiSSA, MiSS, state tuning): drop --quant for full fine-tuning");
    const QuantTensor q = quantize(opt_.quant, p.host.data(), p.shape);
    uint8_t* codes = own<uint8_t>(int64_t(q.codes.size()));
    float* absmax = own<float>(int64_t(q.absmax.size()));
    check_cuda(cudaMemcpyAsync(codes, q.codes.data(), q.codes.size(), cudaMemcpyHostToDevice, s()), "upload");
    check_cuda(cudaMemcpyAsync(absmax, q.absmax.data(), q.absmax.size() * 4, cudaMemcpyHostToDevice, s()), "upload");
    check_cuda(cudaStreamSynchronize(s()), "upload");  // q's host buffers go out of scope
    p.q = DeviceQuant{q.type, q.n, q.block, codes, absmax, code};
    p.host.clear();
    p.host.shrink_to_fit();
  }

  // Folds the adapter into a base weight on the host (export with --merge 1), as the CPU does.
  void merge_into(const std::string& name, std::vector<float>& w) const {
    if (!ends_with(name, ".weight")) return;
    const std::string prefix = name.substr(0, name.size() - 7);
    const DParam* A = find(prefix + ".lora_A");
    const DParam* Bm = find(prefix + ".lora_B");
    const DParam* miss = find(prefix + ".disha");
    if (A && Bm) {
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
    if (miss) {
      const std::vector<float> d = download(*miss);
      const int r = int(miss->shape[0]), out = int(miss->shape[1]);
      const int in = int(w.size() / out);
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) w[int64_t(o) * in + i] += d[int64_t(i % r) * out + o];
    }
  }

  static float* G(const DParam* p) { return grad_of(p); }

  AdapterRun adapter_run() const {
    AdapterRun run;
    run.lora_scale = peft_.lora_scaling();
    run.keep = peft_.method == PeftMethod::Lora ? 1.0f - peft_.lora_dropout : 1.0f;
    run.seed = opt_.seed;
    run.optimizer_step = step_;
    run.micro_batch = micro_batches_;
    run.first_row = first_row_;
    return run;
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

  // ---- one step ----
  Shape begin_step(const Batch& batch, Arena& ar) {
    Shape sh;
    sh.B = batch.B; sh.T = batch.T; sh.M = batch.B * batch.T; sh.C = cfg_.n_embd; sh.H = cfg_.n_head();
    sh.N = cfg_.head_size; sh.F = cfg_.dim_ffn; sh.V = cfg_.vocab_size;
    sh.Dw = cfg_.d_decay_lora; sh.Da = cfg_.d_aaa_lora; sh.Dv = cfg_.d_mv_lora; sh.Dg = cfg_.d_gate_lora;
    sh.MC = int64_t(sh.M) * sh.C;
    if (!x060_ && sh.T % kWkvCheckpoint != 0)  // the WKV6 kernels take any length
      throw EngineError("E_CUDA_UNSUPPORTED",
                        "the GPU WKV7 kernel needs ctx_len to be a multiple of 16 (got " + std::to_string(sh.T) + ")",
                        "choose a ctx_len that is a multiple of 16, or use --accelerator cpu");
    for (int i = 0; i < sh.M; ++i)
      if (batch.inputs[i] < 0 || batch.inputs[i] >= sh.V || batch.targets[i] < 0 || batch.targets[i] >= sh.V)
        throw EngineError("E_DATA_TOKEN", "token id " + std::to_string(std::max(batch.inputs[i], batch.targets[i])) +
                                              " is outside the vocabulary of " + std::to_string(sh.V),
                          "the dataset was tokenized for a larger vocabulary than --vocab_size");
    tokens_ = ar.get<int32_t>(sh.M);
    check_cuda(cudaMemcpyAsync(tokens_, batch.inputs, size_t(sh.M) * 4, cudaMemcpyHostToDevice, s()), "tokens upload");
    starts_.assign(cfg_.n_layer, LayerStart());
    ends_.assign(cfg_.n_layer, LayerEnd());
    for (int l = 0; l < cfg_.n_layer; ++l)
      if (const DParam* state = time_state_of(l)) {
        starts_[l].wkv_s0 = state->master;
        starts_[l].wkv_ds0 = G(state);
      }
    if (batch.carry) {  // infctx: this chunk starts where the previous one ended (no gradient)
      CarriedState& cs = *batch.carry;
      const int64_t bc = int64_t(sh.B) * sh.C, bhnn = bc * sh.N;
      for (int l = 0; l < cfg_.n_layer; ++l) {
        if (int64_t(cs.att_shift.at(l).size()) != bc || int64_t(cs.wkv.at(l).size()) != bhnn)
          throw EngineError("E_INTERNAL", "infctx carried state does not match the batch", "");
        float* att = ar.get<float>(bc);
        float* ffn = ar.get<float>(bc);
        float* wkv = ar.get<float>(bhnn);
        put_async(att, cs.att_shift[l]);
        put_async(ffn, cs.ffn_shift[l]);
        put_async(wkv, cs.wkv[l]);
        starts_[l] = {att, ffn, wkv, int64_t(sh.H) * sh.N * sh.N, nullptr};
        ends_[l] = {ar.get<float>(bc), ar.get<float>(bc), ar.get<float>(bhnn)};
      }
    }
    return sh;
  }

  // infctx: hands the chunk's final states back to the trainer.
  void end_step(const Batch& batch, const Shape& sh) {
    if (!batch.carry) return;
    CarriedState& cs = *batch.carry;
    for (int l = 0; l < cfg_.n_layer; ++l) {
      cs.att_shift[l] = fetch(ends_[l].att_last, int64_t(sh.B) * sh.C);
      cs.ffn_shift[l] = fetch(ends_[l].ffn_last, int64_t(sh.B) * sh.C);
      cs.wkv[l] = fetch(ends_[l].wkv_last, int64_t(sh.B) * sh.C * sh.N);
    }
  }

  // Runs every layer; returns the last layer's output. keep_all: every layer's activation
  // table stays for the backward; otherwise only the layers' inputs (inputs_) and v_first do.
  const bf16_t* forward_layers(const Batch& batch, const Shape& sh, Arena& ar, bool keep_all) {
    acts_.assign(cfg_.n_layer, LayerActs());
    x060_acts_.assign(x060_ ? cfg_.n_layer : 0, x060::BlockActs());
    inputs_.assign(cfg_.n_layer + 1, nullptr);
    bf16_t* x0 = ar.get<bf16_t>(sh.MC);
    embedding_forward(sh.M, sh.C, tokens_, emb_->w16, x0, s());
    inputs_[0] = x0;
    v_first_ = x060_ ? nullptr : ar.get<bf16_t>(sh.MC);  // RWKV-7's value residual only
    for (int l = 0; l < cfg_.n_layer; ++l) {
      bf16_t* x_out = ar.get<bf16_t>(sh.MC);
      const size_t mark = ar.mark();
      if (x060_) x060_layer_forward(l, sh, inputs_[l], x_out, ar, batch.carry ? &ends_[l] : nullptr);
      else layer_forward(l, sh, inputs_[l], x_out, acts_[l], ar, batch.carry ? &ends_[l] : nullptr);
      if (!keep_all) {
        ar.rewind(mark);
        acts_[l] = LayerActs();
        if (x060_) x060_acts_[l] = x060::BlockActs();
      }
      inputs_[l + 1] = x_out;
    }
    return inputs_[cfg_.n_layer];
  }

  void backward_layers(const Shape& sh, bf16_t* dx, Arena& ar, bool keep_all) {
    if (x060_) return x060_backward_layers(sh, dx, ar, keep_all);
    BackwardScratch sc = backward_scratch(sh, ar);
    for (int l = cfg_.n_layer - 1; l >= 0; --l) {
      const size_t mark = ar.mark();
      if (!keep_all)  // --grad_cp 1: this layer's activations again, from its kept input
        layer_forward(l, sh, inputs_[l], nullptr, acts_[l], ar, nullptr);
      dx = layer_backward(l, sh, acts_[l], dx, sc, ar);
      grads_ready(l);  // enqueued: the communicator orders its all-reduce after these kernels
      if (!keep_all) {
        ar.rewind(mark);
        acts_[l] = LayerActs();
      }
    }
    if (emb_->trainable) embedding_backward(sh.M, sh.C, tokens_, dx, emb_->grad, s());
    grads_ready(kEmbGroup);
  }

  BackwardScratch backward_scratch(const Shape& sh, Arena& ar) {
    BackwardScratch sc;
    const int64_t MC = sh.MC, MF = int64_t(sh.M) * sh.F;
    sc.dv_first = ar.get<float>(MC);
    check_cuda(cudaMemsetAsync(sc.dv_first, 0, size_t(MC) * 4, s()), "dv_first");
    sc.tmp = ar.get<bf16_t>(MC);
    sc.dpre = ar.get<bf16_t>(MC);
    sc.dF = ar.get<bf16_t>(2 * MF);
    // How much of the time mix's gradients the dead channel-mix buffers cannot hold.
    Carver sizing;
    sizing.add(nullptr, 2 * MF);
    sizing.add(nullptr, 2 * MF);
    sizing.add(nullptr, 21 * MC);
    carve_time_mix_grads(sizing, MC);
    sc.extra_n = sizing.used_of_last();
    if (sc.extra_n > 0) sc.extra = ar.get<bf16_t>(sc.extra_n);
    const int Dmax = std::max(std::max(sh.Dw, sh.Da), std::max(sh.Dv, sh.Dg));
    sc.dlow1 = ar.get<bf16_t>(int64_t(sh.M) * Dmax);
    sc.dlow2 = ar.get<bf16_t>(int64_t(sh.M) * Dmax);
    return sc;
  }

  struct HeadOut {
    double loss_sum = 0;   // cross-entropy summed over this batch's counted tokens
    bf16_t* dx = nullptr;  // d(loss)/d(last layer's output) when backward
  };

  // ln_out -> head -> cross-entropy (+ L2Wrap), head_chunk rows at a time, so that the M x V
  // logits never exist; with `backward`, each chunk's d logits flows into d hout and the head's
  // gradient before the next chunk overwrites it. logits_out (forward only): [M, V] fp32 host.
  // `counted`: the tokens the loss is a mean over (the whole micro-batch's when this is a pass).
  HeadOut head(const Batch& batch, const Shape& sh, const bf16_t* x, Arena& ar, bool backward,
               float loss_scale, int64_t counted, float* logits_out) {
    const int M = sh.M, C = sh.C, V = sh.V;
    std::vector<int32_t> tgt(M);
    for (int i = 0; i < M; ++i) {
      const bool counts = !batch.loss_mask || batch.loss_mask[i] != 0;
      tgt[i] = counts ? batch.targets[i] : -1;
    }
    int32_t* d_tgt = ar.get<int32_t>(M);
    float* d_loss = ar.get<float>(1);
    check_cuda(cudaMemcpyAsync(d_tgt, tgt.data(), size_t(M) * 4, cudaMemcpyHostToDevice, s()), "targets upload");
    check_cuda(cudaMemsetAsync(d_loss, 0, 4, s()), "loss reset");
    float* lno_mean = ar.get<float>(M);
    float* lno_rstd = ar.get<float>(M);
    bf16_t* hout = ar.get<bf16_t>(sh.MC);
    norm_forward(M, C, C, 1e-5f, x, ln_out_w_->master, ln_out_b_->master, hout, lno_mean, lno_rstd, s());
    bf16_t* dhout = backward ? ar.get<bf16_t>(sh.MC) : nullptr;
    const size_t mark = ar.mark();
    const int R = std::min(M, opt_.head_chunk > 0 ? opt_.head_chunk : kDefaultHeadChunk);
    bf16_t* logits = ar.get<bf16_t>(int64_t(R) * V);
    int32_t* d_arg = ar.get<int32_t>(R);
    float* d_mx = ar.get<float>(R);
    float* lf = logits_out ? ar.get<float>(int64_t(R) * V) : nullptr;
    const float grad_scale = backward && counted ? float(loss_scale / double(counted)) : 0.f;
    const float l2wrap = float(1e-4 / double(batch.l2wrap_rows > 0 ? batch.l2wrap_rows : M));
    for (int r0 = 0; r0 < M; r0 += R) {
      const int rows = std::min(R, M - r0);
      ctx_->gemm(false, true, rows, V, C, hout + int64_t(r0) * C, C, head_->w16, C, logits, V, GemmOut::BF16);
      if (lf) {
        bf16_to_f32_device(int64_t(rows) * V, logits, lf, s());
        check_cuda(cudaMemcpyAsync(logits_out + int64_t(r0) * V, lf, size_t(rows) * V * 4, cudaMemcpyDeviceToHost, s()),
                   "logits download");
      }
      if (backward) row_argmax(rows, V, logits, d_arg, d_mx, s());
      cross_entropy_fused(rows, V, logits, d_tgt + r0, grad_scale, d_loss, s());
      if (!backward) continue;
      l2wrap_apply(rows, V, logits, d_arg, d_mx, l2wrap, s());
      ctx_->gemm(false, false, rows, C, V, logits, V, head_->w16, C, dhout + int64_t(r0) * C, C, GemmOut::BF16);
      if (head_->trainable)
        ctx_->gemm(true, false, V, C, rows, logits, V, hout + int64_t(r0) * C, C, head_->grad, C, GemmOut::F32, 1.f, 1.f);
    }
    ar.rewind(mark);
    HeadOut out;
    float loss_sum = 0;
    check_cuda(cudaMemcpyAsync(&loss_sum, d_loss, 4, cudaMemcpyDeviceToHost, s()), "loss download");
    if (backward) {
      out.dx = ar.get<bf16_t>(sh.MC);
      norm_backward(M, C, C, x, ln_out_w_->master, lno_mean, lno_rstd, dhout, out.dx, G(ln_out_w_), G(ln_out_b_), s());
    }
    check_cuda(cudaStreamSynchronize(s()), "head");
    out.loss_sum = loss_sum;
    return out;
  }

  // One block: x_out = x_in + att(ln1(x_in)) + ffn(...), the activation table filled in c.
  // `end` (infctx's first pass only) receives what the next chunk starts from.
  void layer_forward(int l, const Shape& sh, const bf16_t* x_in, bf16_t* x_out, LayerActs& c, Arena& ar,
                     const LayerEnd* end) {
    const int B = sh.B, T = sh.T, M = sh.M, C = sh.C, H = sh.H, N = sh.N, F = sh.F;
    const int Dw = sh.Dw, Da = sh.Da, Dv = sh.Dv, Dg = sh.Dg;
    const int64_t MC = sh.MC;
    const Layer& L = layers_[l];
    const LayerStart& st = starts_[l];
    const AdapterRun run = adapter_run();
    c.x_in = x_in;
    if (l == 0) {
      c.ln0_mean = ar.get<float>(M); c.ln0_rstd = ar.get<float>(M);
      c.att_in = ar.get<bf16_t>(MC);
      norm_forward(M, C, C, 1e-5f, x_in, L.ln0_w->master, L.ln0_b->master, c.att_in, c.ln0_mean, c.ln0_rstd, s());
    } else {
      c.att_in = const_cast<bf16_t*>(x_in);
    }
    c.h1 = ar.get<bf16_t>(MC); c.ln1_mean = ar.get<float>(M); c.ln1_rstd = ar.get<float>(M);
    norm_forward(M, C, C, 1e-5f, c.att_in, L.ln1_w->master, L.ln1_b->master, c.h1, c.ln1_mean, c.ln1_rstd, s());
    if (end) last_rows_f32(B, T, C, c.h1, end->att_last, s());
    c.mix = ar.get<bf16_t>(6 * MC);
    shift_lerp_forward(B, T, C, 6, c.h1, L.mu, c.mix, s(), st.att_prev);
    const bf16_t *xr = c.mix, *xw = c.mix + MC, *xk = c.mix + 2 * MC, *xv = c.mix + 3 * MC,
                 *xa = c.mix + 4 * MC, *xg = c.mix + 5 * MC;
    c.r = ar.get<bf16_t>(MC);
    linear_forward(*ctx_, L.rec, run, xr, c.r, M, c.rec_k, ar);
    c.w1o = ar.get<bf16_t>(int64_t(M) * Dw); c.w1t = ar.get<bf16_t>(int64_t(M) * Dw);
    c.wpre = ar.get<bf16_t>(MC); c.w = ar.get<bf16_t>(MC);
    mm_fwd(xw, L.w1, c.w1o, M, C, Dw);
    act_forward(Act::Tanh, int64_t(M) * Dw, Dw, c.w1o, nullptr, c.w1t, s());
    mm_fwd(c.w1t, L.w2, c.wpre, M, Dw, C);
    act_forward(Act::DecayClamp, MC, C, c.wpre, L.w0->master, c.w, s());
    c.k = ar.get<bf16_t>(MC);
    c.v_raw = l == 0 ? v_first_ : ar.get<bf16_t>(MC);
    linear_forward(*ctx_, L.key, run, xk, c.k, M, c.key_k, ar);
    linear_forward(*ctx_, L.val, run, xv, c.v_raw, M, c.val_k, ar);
    if (l == 0) {
      c.v = c.v_raw;
    } else {
      c.vlin = ar.get<bf16_t>(int64_t(M) * Dv); c.vpre = ar.get<bf16_t>(MC);
      c.vg = ar.get<bf16_t>(MC); c.v = ar.get<bf16_t>(MC);
      mm_fwd(xv, L.v1, c.vlin, M, C, Dv);
      mm_fwd(c.vlin, L.v2, c.vpre, M, Dv, C);
      act_forward(Act::Sigmoid, MC, C, c.vpre, L.v0->master, c.vg, s());
      value_residual_forward(MC, c.v_raw, v_first_, c.vg, c.v, s());
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
    if (wkv7_chunked_)
      wkv7_chunked_forward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, c.wkv, c.ckpt, c.sa, s(), st.wkv_s0,
                           st.wkv_stride);
    else
      wkv7_forward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, c.wkv, c.ckpt, c.sa, s(), st.wkv_s0, st.wkv_stride);
    if (end) wkv7_final_state(B, T, H, c.ckpt, end->wkv_last, s());
    c.gn = ar.get<bf16_t>(MC); c.lnx_mean = ar.get<float>(int64_t(M) * H); c.lnx_rstd = ar.get<float>(int64_t(M) * H);
    norm_forward(M, C, N, cfg_.ln_x_eps(), c.wkv, L.lnx_w->master, L.lnx_b->master, c.gn, c.lnx_mean, c.lnx_rstd, s());
    c.o3 = ar.get<bf16_t>(MC); c.og = ar.get<bf16_t>(MC);
    bonus_gate_forward(M, H, c.gn, c.r, c.k2, c.v, L.r_k->master, c.g, c.o3, c.og, s());
    c.x_mid = ar.get<bf16_t>(MC);
    linear_forward(*ctx_, L.out, run, c.og, c.x_mid, M, c.out_k, ar);
    add_forward(MC, c.att_in, c.x_mid, c.x_mid, s());  // x_mid = att_in + att
    // channel mix
    c.h2 = ar.get<bf16_t>(MC); c.ln2_mean = ar.get<float>(M); c.ln2_rstd = ar.get<float>(M);
    norm_forward(M, C, C, 1e-5f, c.x_mid, L.ln2_w->master, L.ln2_b->master, c.h2, c.ln2_mean, c.ln2_rstd, s());
    if (end) last_rows_f32(B, T, C, c.h2, end->ffn_last, s());
    c.fk_in = ar.get<bf16_t>(MC);
    shift_lerp_forward(B, T, C, 1, c.h2, L.ffn_x_k->master, c.fk_in, s(), st.ffn_prev);
    c.fk = ar.get<bf16_t>(2 * int64_t(M) * F);  // fk then fk_act, one buffer: the backward reuses it whole
    c.fk_act = c.fk + int64_t(M) * F;
    linear_forward(*ctx_, L.ffn_key, run, c.fk_in, c.fk, M, c.fkey_k, ar);
    act_forward(Act::ReluSquare, int64_t(M) * F, F, c.fk, nullptr, c.fk_act, s());
    if (!x_out) {  // a recomputation for the backward: the output itself is not needed, only
      // what the value projection's backward reads (its LoRA x A^T)
      linear_forward_kept(*ctx_, L.ffn_val, run, c.fk_act, M, c.fval_k, ar);
      return;
    }
    linear_forward(*ctx_, L.ffn_val, run, c.fk_act, x_out, M, c.fval_k, ar);
    add_forward(MC, c.x_mid, x_out, x_out, s());  // x_out = x_mid + ffn
  }

  // The block's backward from d(x_out) in dx; returns d(x_in) (one of the scratch buffers).
  bf16_t* layer_backward(int l, const Shape& sh, const LayerActs& c, bf16_t* dx, BackwardScratch& sc, Arena& ar) {
    const int B = sh.B, T = sh.T, M = sh.M, C = sh.C, H = sh.H, N = sh.N, F = sh.F;
    const int Dw = sh.Dw, Da = sh.Da, Dv = sh.Dv, Dg = sh.Dg;
    const int64_t MC = sh.MC;
    const Layer& L = layers_[l];
    const LayerStart& st = starts_[l];
    const AdapterRun run = adapter_run();
    bf16_t *tmp = sc.tmp, *dpre = sc.dpre;
    const int64_t MF = int64_t(M) * F;
    bf16_t *dF1 = sc.dF, *dF2 = sc.dF + MF;
    // ---- channel mix: x = x_mid + ffn(ln2(x_mid)) ----
    linear_backward(*ctx_, L.ffn_val, run, c.fk_act, dx, dF1, false, M, c.fval_k, ar);
    act_backward(Act::ReluSquare, MF, F, c.fk, nullptr, dF1, dF2, nullptr, s());
    linear_backward(*ctx_, L.ffn_key, run, c.fk_in, dF2, dpre, false, M, c.fkey_k, ar);
    shift_lerp_backward(B, T, C, 1, c.h2, L.ffn_x_k->master, dpre, tmp, G(L.ffn_x_k), s(), st.ffn_prev);
    norm_backward(M, C, C, c.x_mid, L.ln2_w->master, c.ln2_mean, c.ln2_rstd, tmp, dpre, G(L.ln2_w), G(L.ln2_b), s());
    add_forward(MC, dx, dpre, dx, s());
    // ---- time mix: x_mid = att_in + att(ln1(att_in)) ----
    // Its gradients live in the channel mix's now-dead buffers (BackwardScratch).
    Carver cv;
    cv.add(sc.dF, 2 * MF);
    cv.add(c.fk, 2 * MF);
    if (sc.extra) cv.add(sc.extra, sc.extra_n);
    TimeMixGrads g = carve_time_mix_grads(cv, MC);
    linear_backward(*ctx_, L.out, run, c.og, dx, g.dog, false, M, c.out_k, ar);
    gate_backward(MC, g.dog, c.g, c.o3, g.do3, g.dg, s());
    norm_backward(M, C, N, c.wkv, L.lnx_w->master, c.lnx_mean, c.lnx_rstd, g.do3, g.dwkv, G(L.lnx_w), G(L.lnx_b), s());
    if (wkv7_chunked_)  // it starts chunk 0 from the forward's initial state (unchanged until the optimizer step)
      wkv7_chunked_backward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, g.dwkv, c.ckpt, c.sa, g.dr, g.dw, g.dk2,
                            g.dv, g.dnegkk, g.dbvec, s(), st.wkv_s0, st.wkv_stride, st.wkv_ds0);
    else
      wkv7_backward(B, T, H, c.r, c.w, c.k2, c.v, c.negkk, c.bvec, g.dwkv, c.ckpt, c.sa, g.dr, g.dw, g.dk2, g.dv,
                    g.dnegkk, g.dbvec, s(), st.wkv_ds0);
    bonus_backward(M, H, g.do3, c.r, c.k2, c.v, L.r_k->master, g.dr, g.dk2, g.dv, G(L.r_k), s());
    kk_prepare_backward(M, H, c.k, c.a, L.k_k->master, L.k_a->master, c.kk, c.kknorm, g.dk2, g.dnegkk, g.dbvec,
                        g.dk, g.da, G(L.k_k), G(L.k_a), s());
    bf16_t* dmix = g.dmix;
    bf16_t *dxr = dmix, *dxw = dmix + MC, *dxk = dmix + 2 * MC, *dxv = dmix + 3 * MC, *dxa = dmix + 4 * MC,
           *dxg = dmix + 5 * MC;
    const bf16_t *xr = c.mix, *xw = c.mix + MC, *xk = c.mix + 2 * MC, *xv = c.mix + 3 * MC,
                 *xa = c.mix + 4 * MC, *xg = c.mix + 5 * MC;
    // g = sigmoid(xg g1) g2
    mm_bwd(c.g1s, L.g2, g.dg, sc.dlow1, false, M, Dg, C);
    act_backward(Act::Sigmoid, int64_t(M) * Dg, Dg, c.g1o, nullptr, sc.dlow1, sc.dlow2, nullptr, s());
    mm_bwd(xg, L.g1, sc.dlow2, dxg, false, M, C, Dg);
    // a = sigmoid(a0 + (xa a1) a2)
    act_backward(Act::Sigmoid, MC, C, c.apre, L.a0->master, g.da, dpre, G(L.a0), s());
    mm_bwd(c.a1o, L.a2, dpre, sc.dlow1, false, M, Da, C);
    mm_bwd(xa, L.a1, sc.dlow1, dxa, false, M, C, Da);
    // v (value residual on layers > 0)
    if (l == 0) {
      add_f32_into_bf16(MC, g.dv, sc.dv_first, s());
      linear_backward(*ctx_, L.val, run, xv, g.dv, dxv, false, M, c.val_k, ar);
    } else {
      value_residual_backward(MC, g.dv, c.v_raw, v_first_, c.vg, g.dv_raw, sc.dv_first, g.dvg, s());
      act_backward(Act::Sigmoid, MC, C, c.vpre, L.v0->master, g.dvg, dpre, G(L.v0), s());
      mm_bwd(c.vlin, L.v2, dpre, sc.dlow1, false, M, Dv, C);
      mm_bwd(xv, L.v1, sc.dlow1, dxv, false, M, C, Dv);
      linear_backward(*ctx_, L.val, run, xv, g.dv_raw, dxv, true, M, c.val_k, ar);
    }
    linear_backward(*ctx_, L.key, run, xk, g.dk, dxk, false, M, c.key_k, ar);
    // w = decay(w0 + tanh(xw w1) w2)
    act_backward(Act::DecayClamp, MC, C, c.wpre, L.w0->master, g.dw, dpre, G(L.w0), s());
    mm_bwd(c.w1t, L.w2, dpre, sc.dlow1, false, M, Dw, C);
    act_backward(Act::Tanh, int64_t(M) * Dw, Dw, c.w1o, nullptr, sc.dlow1, sc.dlow2, nullptr, s());
    mm_bwd(xw, L.w1, sc.dlow2, dxw, false, M, C, Dw);
    linear_backward(*ctx_, L.rec, run, xr, g.dr, dxr, false, M, c.rec_k, ar);
    shift_lerp_backward(B, T, C, 6, c.h1, L.mu, dmix, tmp, L.dmu, s(), st.att_prev);
    norm_backward(M, C, C, c.att_in, L.ln1_w->master, c.ln1_mean, c.ln1_rstd, tmp, dpre, G(L.ln1_w), G(L.ln1_b), s());
    add_forward(MC, dx, dpre, dx, s());
    if (l == 0) {
      norm_backward(M, C, C, c.x_in, L.ln0_w->master, c.ln0_mean, c.ln0_rstd, dx, dpre, G(L.ln0_w), G(L.ln0_b), s());
      std::swap(dx, sc.dpre);
    }
    return dx;
  }

  // ---- RWKV-6 (x060): the same step with x060_block.h's block ----
  x060::BlockShape x060_shape(const Shape& sh) const {
    x060::BlockShape b;
    b.B = sh.B; b.T = sh.T; b.M = sh.M; b.C = sh.C; b.H = sh.H; b.N = sh.N; b.F = sh.F;
    b.Dm = cfg_.d_mix_lora; b.Dd = cfg_.d_decay_lora;
    b.lnx_eps = cfg_.ln_x_eps();
    b.MC = sh.MC;
    return b;
  }
  x060::BlockStart x060_start(int l) const {
    const LayerStart& st = starts_[l];
    x060::BlockStart b;
    b.att_prev = st.att_prev; b.ffn_prev = st.ffn_prev;
    b.wkv_s0 = st.wkv_s0; b.wkv_stride = st.wkv_stride; b.wkv_ds0 = st.wkv_ds0;
    return b;
  }
  // x_out null: --grad_cp 1's recomputation of the layer's table for its backward.
  void x060_layer_forward(int l, const Shape& sh, const bf16_t* x_in, bf16_t* x_out, Arena& ar, const LayerEnd* end) {
    x060::BlockEnd e;
    if (end) e = {end->att_last, end->ffn_last, end->wkv_last};
    x060::block_forward(*ctx_, x060_layers_[l], adapter_run(), x060_shape(sh), x060_start(l), x_in, x_out,
                        x060_acts_[l], ar, end ? &e : nullptr);
  }
  void x060_backward_layers(const Shape& sh, bf16_t* dx, Arena& ar, bool keep_all) {
    for (int l = cfg_.n_layer - 1; l >= 0; --l) {
      const size_t mark = ar.mark();
      if (!keep_all) x060_layer_forward(l, sh, inputs_[l], nullptr, ar, nullptr);
      x060::block_backward(*ctx_, x060_layers_[l], adapter_run(), x060_shape(sh), x060_start(l), x060_acts_[l], dx, ar);
      grads_ready(l);
      if (!keep_all) {
        ar.rewind(mark);
        x060_acts_[l] = x060::BlockActs();
      }
    }
    if (emb_->trainable) embedding_backward(sh.M, sh.C, tokens_, dx, emb_->grad, s());
    grads_ready(kEmbGroup);
  }

  void put_async(float* dst, const std::vector<float>& src) {
    check_cuda(cudaMemcpyAsync(dst, src.data(), src.size() * 4, cudaMemcpyHostToDevice, s()), "upload");
  }

  ModelConfig cfg_;
  PeftConfig peft_;
  BackendOptions opt_;
  const bool x060_ = cfg_.version == "x060";  // RWKV-6: x060_layers_ / x060_acts_ instead of layers_ / acts_
  // The chunked WKV7 kernels (core/gpu_switches.h), read once so that a run uses one pair throughout.
  const bool wkv7_chunked_ = cuda_wkv7_chunked_enabled();
  CachingAllocator alloc_;  // declared before ctx_ users; destroyed after the parameters' release
  std::unique_ptr<Context> ctx_;
  ParamSlab slab_;             // every long-lived buffer (assign_long_lived), when switched on
  std::vector<void*> owned_;  // or a block each while the slab is off
  std::vector<std::unique_ptr<DParam>> params_;
  std::function<void(int)> grad_ready_;        // data-parallel: a trainable tensor's gradient is enqueued
  std::vector<std::vector<int>> hook_groups_;  // per layer, then the head's, then the embedding's
  // ZeRO-1 (shard_optimizer_state): this rank's AdamW moments only, its slices end to end
  bool sharded_ = false;
  float* shard_m_ = nullptr;
  float* shard_v_ = nullptr;
  int64_t shard_count_ = 0;
  std::map<std::string, DParam*> by_name_;
  std::vector<Layer> layers_;
  std::vector<x060::BlockParams> x060_layers_;
  DParam *emb_ = nullptr, *ln_out_w_ = nullptr, *ln_out_b_ = nullptr, *head_ = nullptr;
  // Per step (valid between begin_step and the end of the step).
  std::vector<LayerActs> acts_;
  std::vector<x060::BlockActs> x060_acts_;
  std::vector<const bf16_t*> inputs_;  // inputs_[l]: layer l's input; inputs_[L]: the last output
  std::vector<LayerStart> starts_;
  std::vector<LayerEnd> ends_;
  bf16_t* v_first_ = nullptr;  // layer 0's v, read by every later layer
  int32_t* tokens_ = nullptr;
  int64_t step_ = 0;
  uint64_t micro_batches_ = 0;  // within the current optimizer step (dropout masks)
  int64_t first_row_ = 0;       // the running pass's first row within its micro-batch
  bool final_pass_ = true;      // the running pass is its micro-batch's last
};

}  // namespace

std::unique_ptr<Backend> make_model_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                            const StateDict& weights, const BackendOptions& opt) {
  return std::make_unique<CudaBackend>(cfg, peft, weights, opt);
}

}  // namespace cuda
}  // namespace rwkv
