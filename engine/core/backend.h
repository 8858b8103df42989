// The interface the trainer drives and both backends (engine/cpu, engine/cuda) implement.
// A backend owns the model's weights, the adapter, gradients and AdamW state on its device; the
// trainer owns everything else (data, schedules, checkpoints, the run protocol). Every call
// works on host memory at the boundary so the two backends are interchangeable and comparable.
//
// Semantics both backends must share (the CPU backend is the oracle):
// - forward_backward: logits = model(inputs); loss = mean over tokens with mask != 0 of
//   cross-entropy(logits, targets), plus RWKV's L2Wrap gradient on the logits (1e-4/(B*T) times
//   the row maximum at its argmax, as RWKV-PEFT adds it). Gradients are ACCUMULATED, scaled by
//   `loss_scale` (the trainer passes 1/accumulation so a step equals the large batch).
// - optimizer_step: AdamW with bias correction (torch/FusedAdam semantics); weight decay only on
//   trainable tensors of 2 or more dimensions (RWKV's lr_decay group) unless AdamWParams names
//   the groups per tensor (lr_scale, decay); then grads are zeroed.
// - Names are RWKV-PEFT's state-dict names ("blocks.0.att.receptance.weight",
//   "blocks.0.att.receptance.lora_A", "blocks.0.att.time_state").
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model_config.h"
#include "core/pth.h"
#include "core/quant.h"

namespace rwkv {

struct BackendOptions {
  int device = 0;            // CUDA ordinal (ignored on CPU)
  int threads = 0;           // CPU threads, 0 = OpenMP default
  bool grad_checkpoint = false;  // --grad_cp 1: recompute activations in backward
  int head_chunk = 0;        // GPU: rows of logits computed at a time (0 = the backend's default)
  int64_t pass_tokens = -1;  // GPU: tokens a forward/backward pass holds (core/batch_passes.h)
  uint64_t seed = 0;         // dropout masks
  // --quant int8 | nf4: the six block linears of the base (core/quant.h) are stored quantised
  // and dequantised inside each GEMM, never kept as a float copy; adapters train as without.
  // A quantised weight is frozen: a run that would train one (full fine-tuning, a train_parts
  // entry naming it) is refused with E_QUANT_TRAINED. Merged exports hold dequant(W) + adapter.
  QuantType quant = QuantType::None;
};

// --train_type infctx trains a long sample chunk by chunk: each chunk starts from the state the
// previous chunk ended in (per layer: the last ln1 and ln2 outputs, which the token shifts of the
// time mix and channel mix read, and the WKV state). As in RWKV-PEFT the state is detached
// between chunks: no gradient flows into it. Zeros before a sample's first chunk.
struct CarriedState {
  std::vector<std::vector<float>> att_shift, ffn_shift;  // [layer][B*C]
  std::vector<std::vector<float>> wkv;                   // [layer][B*H*N*N]

  void reset(const ModelConfig& cfg, int B) {
    const size_t bc = size_t(B) * cfg.n_embd, bhnn = bc * size_t(cfg.head_size);
    att_shift.assign(cfg.n_layer, std::vector<float>(bc, 0.0f));
    ffn_shift.assign(cfg.n_layer, std::vector<float>(bc, 0.0f));
    wkv.assign(cfg.n_layer, std::vector<float>(bhnn, 0.0f));
  }
};

struct Batch {
  int B = 0, T = 0;
  const int32_t* inputs = nullptr;   // [B*T] token ids (< vocab_size, checked by the trainer)
  const int32_t* targets = nullptr;  // [B*T] next-token ids
  const float* loss_mask = nullptr;  // [B*T] 1 = counts in the loss, 0 = ignored; null = all
  // infctx only: read as the chunk's initial state, overwritten with its final state. Null =
  // every sequence starts from zeros.
  CarriedState* carry = nullptr;
  // Rows L2Wrap averages its 1e-4 over; 0 = B*T. RWKV-PEFT's infctx step divides by the chunk
  // length alone; RWKV-LM's trainer scales L2Wrap by the loss's gradient (1/accumulation), which
  // the trainer expresses as B*T*accumulate_grad_batches rows.
  int64_t l2wrap_rows = 0;
};

struct LossResult {
  double loss = 0;        // mean cross-entropy over counted tokens (0 when none)
  int64_t tokens = 0;     // counted tokens
};

struct AdamWParams {
  float lr = 1e-4f;
  float beta1 = 0.9f, beta2 = 0.99f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // applied to the tensors in the decay group only (see below)
  // The trainer's parameter groups, one entry per trainable tensor in trainable_params() order;
  // empty = the backend's defaults (lr x1 everywhere, decay where ParamInfo::decays).
  // RWKV-LM's train_temp: lr x2 on att.w0, and decay only on >=2-D tensors named ".weight".
  // A tensor's step uses lr * lr_scale[i] and weight_decay when decay[i] != 0 (else 0).
  std::vector<float> lr_scale;
  std::vector<uint8_t> decay;
};

struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  bool decays = false;        // in the weight-decay group
};

struct MemoryStats {
  uint64_t weights_bytes = 0, grads_bytes = 0, optimizer_bytes = 0, activations_bytes = 0;
  uint64_t in_use_bytes = 0;      // what the backend holds now
  uint64_t reserved_bytes = 0;    // what its allocator reserved (== in_use on CPU)
  uint64_t peak_bytes = 0;
};

// Elements [begin, end) of trainable tensor `tensor` (trainable_params() order): a rank's share
// of the AdamW update under ZeRO-1 (dist/zero1_plan.h).
struct TensorSlice {
  int tensor = 0;
  int64_t begin = 0, end = 0;
};

// Where a backend keeps each trainable tensor, for data-parallel training (engine/dist): fp32
// buffers of numel[i] elements, on the device for CUDA (the collectives read and write them in
// place), in host memory on the CPU. `stream` is the CUDA stream the backend computes on. The
// pointers stay valid for the backend's life (imports copy into the same buffers).
struct TrainableView {
  std::vector<float*> param, grad, exp_avg, exp_avg_sq;  // exp_avg*: null once the state is sharded
  std::vector<int64_t> numel;
  // ZeRO-1's storage, after Backend::shard_optimizer_state: this rank's AdamW moments only, its
  // slices end to end in one buffer each of shard_count elements.
  float* shard_exp_avg = nullptr;
  float* shard_exp_avg_sq = nullptr;
  int64_t shard_count = 0;
  void* stream = nullptr;
  bool on_device = false;
};

enum class ExportKind {
  Merged,       // the full model with adapters folded in (--merge 1), base names only
  AdapterOnly,  // only the trainable tensors (--merge 0): lora_A/B, time_state, train_parts
  Full,         // base weights unmerged plus every adapter tensor (for resume and inspection)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string device_name() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual std::vector<ParamInfo> trainable_params() const = 0;
  virtual int64_t total_param_count() const = 0;

  // Forward + backward of one micro-batch; adds loss_scale * d(loss)/d(param) into the grads.
  virtual LossResult forward_backward(const Batch& batch, float loss_scale) = 0;
  // Forward only; writes [B*T*vocab] float logits when `logits` is non-null.
  virtual LossResult forward(const Batch& batch, float* logits) = 0;

  virtual double grad_norm() = 0;            // L2 norm over all trainable grads
  virtual void scale_grads(float factor) = 0;  // gradient clipping
  virtual void zero_grads() = 0;
  virtual void optimizer_step(const AdamWParams& p) = 0;  // also zeroes grads
  virtual int64_t optimizer_steps() const = 0;

  virtual StateDict export_weights(ExportKind kind) const = 0;
  // Grads of the trainable tensors, by name (tests and CUDA-vs-CPU comparison).
  virtual StateDict export_grads() const = 0;
  // Replaces trainable tensors by name (resume); unknown names or shapes throw E_RESUME_SHAPE.
  virtual void import_trainable(const StateDict& tensors) = 0;
  // "<name>.exp_avg", "<name>.exp_avg_sq" per trainable tensor, plus "step" (I64 scalar).
  virtual StateDict export_optimizer_state() const = 0;
  virtual void import_optimizer_state(const StateDict& state) = 0;

  virtual MemoryStats memory() const = 0;

  // Data-parallel training (engine/dist/data_parallel.h). A backend that cannot take part keeps
  // these defaults, which refuse with E_DIST_UNSUPPORTED.
  virtual TrainableView trainable_view();
  // AdamW (as optimizer_step, same step count and groups) on the given slices only; grads zeroed.
  virtual void optimizer_step_slices(const AdamWParams& p, const std::vector<TensorSlice>& slices);
  // ZeRO-1's memory: from now on keep the AdamW moments of `slices` only (this rank's share, in
  // flat order), end to end in buffers of `count` elements; their values are kept.
  // optimizer_step_slices then takes these slices; export/import_optimizer_state refuse, and
  // the whole state goes through import_optimizer_shard and dist/data_parallel.h's gather.
  virtual void shard_optimizer_state(const std::vector<TensorSlice>& slices, int64_t count);
  // Replaces the sharded moments (count elements each, host memory) and the step count.
  virtual void import_optimizer_shard(const float* exp_avg, const float* exp_avg_sq, int64_t count, int64_t step);
  // The fp32 parameters were overwritten through trainable_view(): refresh what derives from them.
  virtual void params_changed() {}
  // Called with a trainable index once that tensor's gradient for the current micro-batch is
  // complete, in the order the backward finishes them; a backend without it never calls it (the
  // gradient all-reduce then starts after the backward).
  virtual void set_grad_ready_hook(std::function<void(int tensor)> hook) { (void)hook; }
};

inline TrainableView Backend::trainable_view() {
  throw EngineError("E_DIST_UNSUPPORTED", device_name() + " cannot train data-parallel", "train with --devices 1");
}
inline void Backend::optimizer_step_slices(const AdamWParams&, const std::vector<TensorSlice>&) {
  throw EngineError("E_DIST_UNSUPPORTED", device_name() + " cannot train data-parallel", "train with --devices 1");
}
inline void Backend::shard_optimizer_state(const std::vector<TensorSlice>&, int64_t) {
  throw EngineError("E_DIST_UNSUPPORTED", device_name() + " cannot train data-parallel", "train with --devices 1");
}
inline void Backend::import_optimizer_shard(const float*, const float*, int64_t, int64_t) {
  throw EngineError("E_DIST_UNSUPPORTED", device_name() + " cannot train data-parallel", "train with --devices 1");
}

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                          const StateDict& weights, const BackendOptions& opt);

#ifdef RWKV_HAVE_CUDA
// Defined in engine/cuda. Throws EngineError(E_CUDA_*) when no driver/GPU/cuBLAS is usable.
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                           const StateDict& weights, const BackendOptions& opt);
#endif

}  // namespace rwkv
