// The memory planner: how many bytes of GPU memory a training run takes, by category, from the
// resolved train.py flags. One function serves the editor (through the Node addon: the
// language server's memory check) and the engine (the `start` event's planned_memory_bytes,
// and the CUDA backend's up-front allocations), so both always show the same figure.
//
// Two stacks are modelled, because they spend memory differently:
//  - PlanStack::Reference: the Python trainers users run today (RWKV-PEFT / RWKV-LM-V7 on
//    PyTorch + Lightning + DeepSpeed stage 1, bf16). Calibrated against the tutorials' measured
//    tables (../shared/reference/FACTS.md) and the peer's measurements; every row is a test in
//    engine/tests/planner_test.cpp. The editor shows this figure for scripts that call
//    train.py, since that is what the user's script will run.
//  - PlanStack::Engine: our native engine (issue 5): no PyTorch context, bf16 frozen weights,
//    fp32 master/gradient/Adam only for trainable parameters, a chunked cross-entropy that never
//    holds full logits, a cuBLASLt workspace. The editor shows it for runs of rwkv-train.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"

namespace rwkv {

enum class PlanStack { Reference, Engine };

// The flags the plan depends on, already resolved (defaults applied, peft_config parsed).
struct PlanInput {
  std::string model_version = "x070";  // my_testing: x070, x060, x052
  int64_t n_layer = 12;
  int64_t n_embd = 768;
  int64_t vocab_size = 65536;
  int64_t head_size = 64;
  int64_t dim_ffn = 0;                 // 0: the version's default (4C for x070, 3.5C rounded otherwise)
  int64_t ctx_len = 1024;
  int64_t micro_bsz = 1;
  std::string peft = "none";           // the method (flags.json peftMethods): none (full), lora, pissa, miss (also --peft bone/disha), state
  int64_t peft_r = 0;                  // rank: lora r / pissa_r / miss r
  // Base-model parts trained beside the adapter. Older RWKV-PEFT (--lora_config forms) trains
  // "time" and "ln" by default; the newer one (--peft_config through Hugging Face peft) trains
  // the adapter only unless --train_parts is given.
  std::vector<std::string> train_parts;
  // Reference stack only: DeepSpeed (stage 1/2) keeps fp32 master weights and an fp32 gradient
  // partition; Lightning's plain strategies run torch Adam on the bf16 parameters themselves.
  bool deepspeed = true;
  int deepspeed_stage = 1;             // ZeRO stage: 1 shards optimizer state, 2 also gradients
  bool offload_optimizer = false;      // *_offload strategies keep master + Adam on the CPU
  int64_t devices = 1;                 // GPUs per node the run spreads over (data parallel)
  bool grad_cp = false;
  int64_t pass_tokens = -1;            // engine: RWKV_PASS_TOKENS (core/batch_passes.h), -1 = default
  std::string precision = "bf16";      // bf16, fp16, tf32, fp32
  std::string quant = "none";          // none, int8, nf4, fp4 (frozen block matrices only)
  std::string train_type = "none";     // none, state, infctx
  int64_t chunk_ctx = 512;             // infctx: tokens per backward chunk
};

// Throws EngineError(E_PLAN_FLAGS) with a hint when a needed value is missing or nonsensical
// (n_embd not a multiple of head_size, a peft rank <= 0, ...). `flags` maps flag names
// (without --) to values as a script gives them: numbers, or strings ("1", "bf16", '{"r":64}').
PlanInput plan_input_from_flags(const std::map<std::string, Json>& flags);
// The same from a JSON object of flags (the trainer's resolved config, the `start` event's
// `config`). Throws E_PLAN_FLAGS when `flags` is not an object.
PlanInput plan_input_from_flags(const Json& flags_object);

struct ParamCounts {
  int64_t total = 0;            // every parameter of the base model
  int64_t block_matrices = 0;   // the big per-layer Linear weights (what quant compresses)
  int64_t trainable = 0;        // what the optimizer updates (base params and/or adapters)
  int64_t adapter = 0;          // parameters added by PEFT (not in the base model)
};
ParamCounts count_params(const PlanInput& in);

struct MemoryPlan {
  std::vector<std::pair<std::string, uint64_t>> categories;  // ordered, bytes
  uint64_t total_bytes = 0;
  PlanStack stack = PlanStack::Reference;
  ParamCounts params;
  uint64_t category(const std::string& name) const;  // 0 when absent
};

MemoryPlan plan_memory(const PlanInput& in, PlanStack stack);

// Planner category names (stable: the editor, the `start` event and tests use them).
namespace plan_category {
inline constexpr const char* kCudaContext = "cuda_context";
inline constexpr const char* kWeights = "weights";            // working copies (bf16 / quantized)
inline constexpr const char* kMasterWeights = "master_weights";  // fp32 copies of trainable params
inline constexpr const char* kGradients = "gradients";
inline constexpr const char* kOptimizer = "optimizer";        // Adam m and v
inline constexpr const char* kActivations = "activations";    // saved for backward, all layers
inline constexpr const char* kRecompute = "recompute";        // one layer re-run under grad_cp
inline constexpr const char* kLogits = "logits";              // head output + cross-entropy
inline constexpr const char* kWorkspace = "workspace";        // GEMM workspace, buckets, allocator slack
}  // namespace plan_category

const char* plan_stack_name(PlanStack stack);  // "reference" / "engine"
Json plan_to_json(const MemoryPlan& plan);     // {"total_bytes":..,"stack":..,"categories":{..}}
Json plan_categories_json(const MemoryPlan& plan);  // {"weights":..,...}: the `start` event's `plan`

// What the trainer reports in its `start` event (planned_memory_bytes and plan), computed from
// its resolved flags: the engine stack of the very function the editor calls through the
// addon, so the two always agree for the same config.
//   const MemoryPlan plan = plan_memory(plan_input_from_flags(resolved), PlanStack::Engine);

}  // namespace rwkv
