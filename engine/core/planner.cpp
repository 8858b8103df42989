// The memory planner (see planner.h). Parameter counts follow the model definitions (RWKV-LM's
// x070/x060/x052 blocks, RWKV-PEFT's adapters); the bytes per parameter and per token follow how
// each stack stores them. The few coefficients that cannot be derived (what a PyTorch eager
// layer saves for backward, the CUDA context) are named constants with the evidence next to
// them, and planner_test.cpp holds every measured row they were checked against.
#include "core/planner.h"

#include <algorithm>
#include <cmath>

#include "core/batch_passes.h"
#include "core/errors.h"
#include "core/gpu_switches.h"
#include "core/flags.h"
#include "core/model_config.h"
#include "core/paths.h"
#include "core/quant.h"

namespace rwkv {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// RWKV-LM x070's low-rank sizes: max(32, round(k * C^e / 32) * 32).
int64_t lowrank_dim(int64_t n_embd, double factor, double exponent) {
  const double v = factor * std::pow(static_cast<double>(n_embd), exponent) / 32.0;
  return std::max<int64_t>(32, static_cast<int64_t>(std::llround(v)) * 32);
}

int64_t ffn_dim(const PlanInput& in) {
  if (in.dim_ffn > 0) return in.dim_ffn;
  if (in.model_version == "x070") return 4 * in.n_embd;
  return static_cast<int64_t>(in.n_embd * 3.5 / 32) * 32;  // x060/x052: int(3.5C/32)*32
}

struct LayerShape {
  int64_t matrices = 0;   // Linear weights of one block (att + ffn)
  int64_t time = 0;       // mixing vectors, decay, low-rank paths ("time" train part)
  int64_t ln = 0;         // layer norms of one block (ln1, ln2, ln_x)
  int64_t lora = 0;       // LoRA/PiSSA params per block for rank 1 (multiply by r)
  int64_t miss = 0;       // MiSS/DiSHA params per block for rank 1 (r x out per matrix)
};

LayerShape layer_shape(const PlanInput& in) {
  const int64_t C = in.n_embd, F = ffn_dim(in);
  LayerShape s;
  s.ln = 4 * C + 2 * C;  // ln1, ln2 (weight+bias), ln_x (group norm weight+bias)
  if (in.model_version == "x070") {
    const int64_t dw = lowrank_dim(C, 1.8, 0.5), da = dw;
    const int64_t dv = lowrank_dim(C, 1.3, 0.5), dg = lowrank_dim(C, 0.6, 0.8);
    s.matrices = 4 * C * C + 2 * C * F;                      // r,k,v,o + ffn key,value
    s.time = 6 * C + 3 * C + 2 * C + C                        // x_rwkvag, w0 a0 v0, k_k k_a, r_k
             + 2 * C * (dw + da + dv + dg) + C;               // w/a/v/g low-rank, ffn x_k
    s.lora = 4 * (2 * C) + 2 * (C + F);                       // r(in+out) per wrapped matrix
    s.miss = 4 * C + F + C;                                   // r*out per wrapped matrix
  } else {
    // RWKV-PEFT's rwkv6 doubles TIME_MIX/TIME_DECAY_EXTRA_DIM only at n_embd == 4096 exactly
    // (model_x060.h); x060 counts are checked against x060_tensor_shapes in planner_test.
    const int64_t dmix = C == 4096 ? 64 : 32, ddecay = C == 4096 ? 128 : 64;
    s.matrices = 5 * C * C + C * C + 2 * C * F;               // r,k,v,o,g + ffn r,key,value
    s.time = in.model_version == "x060"
                 ? 6 * C + 2 * 5 * dmix * C + 2 * C + 2 * ddecay * C + 2 * C
                 : 4 * C + 2 * C + 2 * C;                     // x052: mixes, decay, first
    s.lora = 6 * (2 * C) + 2 * (C + F);
    s.miss = 6 * C + F + C;
  }
  return s;
}

bool has_part(const PlanInput& in, const char* part) {
  return std::find(in.train_parts.begin(), in.train_parts.end(), part) != in.train_parts.end();
}

// --- coefficients that come from measurement, not from the model definition ----------------

// Bytes per token per layer that an eager PyTorch x070 block keeps for backward, in units of
// n_embd: ~40 bf16 C-wide tensors (mixes, r/k/v/w/a/g, kk, the kernel's fp32 chunk states, norms)
// plus the FFN's two 4C tensors. The peer's grad_cp 0 runs (0.1B and 1.5B, ctx 1024, bsz 8:
// +5.3 and +30 GB over grad_cp 1) give 74-78 per layer*channel*token; 82 includes the rest.
constexpr double kRefLayerBytesPerChannel = 78.0;
// What grad_cp=1 keeps per layer: the block input x and (x070) v_first, bf16.
constexpr double kCheckpointBytesPerChannel = 4.0;
// Head output and cross-entropy per token per vocab entry: bf16 logits, the log-softmax and
// its gradient, with some fp32 reductions. Fitted from the per-sample slopes of the peer
// (0.1B/1.5B, bsz 1 vs 8) and the pretraining tutorial (0.1B bsz 1 vs 8): 6-8 bytes.
constexpr double kRefLogitBytesPerVocab = 7.0;
// A PyTorch process's CUDA context, cuBLAS/cuDNN handles and kernel images, plus Lightning/
// DeepSpeed buffers and the caching allocator's slack seen by nvidia-smi. The tutorials'
// fine-tuning rows leave ~1.2 GiB beyond weights+optimizer+activations at 0.1B.
constexpr double kRefContextGiB = 1.0;
constexpr double kRefWorkspaceGiB = 0.4;
// The RWKV-6 (x060) rows were measured on the 2024 stack (older PyTorch/CUDA without lazy
// module loading, older DeepSpeed); every one of them sits ~0.5 GiB above what the x070 rows'
// accounting gives, at every size and quantization, so the difference is a fixed cost.
constexpr double kRefX060ExtraContextGiB = 0.5;

// Our engine (CUDA backend). Fitted to the 20 rows measured through the real CLI on an H100
// (engine/cuda/device_tests/results/cli_rows_h100.json: nvidia-smi peaks of LoRA / MiSS /
// state / PiSSA / full runs at 0.1B-2.9B, 1024-32768 tokens a step, grad_cp 1): with the
// tensors counted as the allocator holds them (engine_x070_tensor_bytes), what nvidia-smi sees
// beyond them is a constant plus the kept layer inputs plus one layer's activation table. The
// fit's worst row is 2.1% off.
// The CUDA context, the 32 MiB cuBLASLt workspace, kernel images and the allocator's slack:
constexpr double kEngineContextMiB = 470.0;
constexpr double kEngineWorkspaceMiB = 128.0;
// One layer's activation table (cuda_model.cu LayerActs: ~45 bf16 C-wide tensors, the FFN's
// two 4C ones, WKV7's checkpoints and sa) plus the backward's scratch, per token and channel.
constexpr double kEngineLayerBytesPerChannel = 131.0;
// Without --grad_cp every layer keeps its table; one measurement (1.5B, 1024 x 8, before the
// allocator kept exact blocks) gives 110 bytes per layer, token and channel.
constexpr double kEngineKeptLayerBytesPerChannel = 110.0;
constexpr int64_t kEngineCeChunkTokens = 1024;  // logits are materialised this many tokens at a time

uint64_t gib(double g) { return static_cast<uint64_t>(g * kGiB); }

double weight_bytes_per_param(const PlanInput& in) {
  return in.precision == "fp32" || in.precision == "tf32" ? 4.0 : 2.0;
}

// The layout a --quant value stores the frozen block matrices in (core/quant.h, bitsandbytes'
// formats as RWKV-PEFT uses them): int8 one byte an element plus one fp32 absmax a tensor;
// nf4 (and the Python stack's fp4 / 4bit, laid out alike) half a byte plus an fp32 absmax per 64.
QuantType plan_quant_type(const PlanInput& in) {
  if (in.quant == "int8") return QuantType::Int8;
  if (in.quant == "nf4" || in.quant == "fp4" || in.quant == "4bit") return QuantType::Nf4;
  return QuantType::None;
}

// Bytes of one frozen block matrix element once quantized, for a C x C matrix.
double quant_bytes_per_param(const PlanInput& in, double unquantized) {
  const QuantType t = plan_quant_type(in);
  if (t == QuantType::None) return unquantized;
  const int64_t n = in.n_embd * in.n_embd;
  return static_cast<double>(quant_storage_bytes(t, n)) / static_cast<double>(n);
}

// A block of its own from the caching allocator (cuda/caching_allocator.cu: 512-byte steps below
// 1 MiB, 2 MiB above), whose whole 2 MiB pages the driver maps (a 2.9B model's 12.5 MiB matrices
// take 14 MiB each).
double allocator_block(double bytes) {
  const double mib = 1024.0 * 1024.0;
  if (bytes < mib) return std::ceil(bytes / 512.0) * 512.0;
  return std::ceil(bytes / (2 * mib)) * (2 * mib);
}
// What one long-lived CUDA tensor takes: with the slab (cuda/param_slab.h, core/gpu_switches.h)
// its own size at 256-byte alignment, without it a block of its own.
double engine_block(double bytes) {
  return cuda_param_slab_enabled() ? std::ceil(bytes / 256.0) * 256.0 : allocator_block(bytes);
}

struct EngineTensorBytes {
  double weights = 0, master = 0, gradients = 0, optimizer = 0;
};

// What the CUDA backend allocates for an x070 model, tensor by tensor, as cuda_model.cu's
// upload() does: GEMM operands (linears, embedding, head, low-rank matrices, adapters) in bf16,
// plus an fp32 master when trained; every other tensor fp32; fp32 gradient and AdamW moments
// for each trained tensor; the six token-shift mixes of a layer packed in one [6, C] block with
// its gradient block. Trained base tensors are the ones whose name holds a train_parts entry
// (x070 has no "time" names, so that part trains nothing there). With --quant the six block
// linears of each layer are two buffers instead of a bf16 copy: the codes and the fp32 absmax
// (cuda_model.cu upload).
EngineTensorBytes engine_x070_tensor_bytes(const PlanInput& in) {
  ModelConfig cfg = model_config_for_size(int(in.n_layer), int(in.n_embd), int(in.vocab_size), int(in.head_size));
  if (in.dim_ffn > 0) cfg.dim_ffn = int(in.dim_ffn);
  const bool full = in.peft == "none" && in.train_type != "state";
  EngineTensorBytes b;
  auto tensor = [&](int64_t n, bool gemm, bool trained, bool packed) {
    const double nd = static_cast<double>(n);
    if (gemm) b.weights += engine_block(2 * nd);
    if (!packed && (trained || !gemm)) (gemm ? b.master : b.weights) += engine_block(4 * nd);
    if (trained) {
      if (!packed) b.gradients += engine_block(4 * nd);
      b.optimizer += 2 * engine_block(4 * nd);
    }
  };
  static const char* kLowRank[] = {".att.w1", ".att.w2", ".att.a1", ".att.a2", ".att.v1", ".att.v2", ".att.g1", ".att.g2"};
  static const char* kMixes[] = {".att.x_r", ".att.x_w", ".att.x_k", ".att.x_v", ".att.x_a", ".att.x_g"};
  for (const auto& [name, shape] : x070_tensor_shapes(cfg)) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    bool gemm = ends_with(name, ".weight") && name.find("ln") == std::string::npos;
    for (const char* suf : kLowRank) gemm = gemm || ends_with(name, suf);
    bool packed = false;
    for (const char* suf : kMixes) packed = packed || ends_with(name, suf);
    bool trained = full;
    for (const auto& part : in.train_parts)
      if (!part.empty() && name.find(part) != std::string::npos) trained = true;
    const QuantType q = plan_quant_type(in);
    if (q != QuantType::None && !trained && quantised_base_tensor(name)) {
      const uint64_t codes = q == QuantType::Nf4 ? uint64_t((n + 1) / 2) : uint64_t(n);
      // codes and absmax are blocks of their own outside the slab (cuda_model.cu upload_quantised)
      b.weights += allocator_block(double(codes)) + allocator_block(double(quant_storage_bytes(q, n) - codes));
      continue;
    }
    tensor(n, gemm, trained, packed);
  }
  const double C = static_cast<double>(cfg.n_embd), L = static_cast<double>(cfg.n_layer);
  b.weights += L * engine_block(4 * 6 * C);    // the packed mixes
  b.gradients += L * engine_block(4 * 6 * C);  // and their gradient block (always there)
  const int64_t r = in.peft_r, Ci = cfg.n_embd, F = cfg.dim_ffn;
  const std::pair<int64_t, int64_t> linears[] = {{Ci, Ci}, {Ci, Ci}, {Ci, Ci}, {Ci, Ci}, {Ci, F}, {F, Ci}};  // (in, out)
  for (int l = 0; l < cfg.n_layer; ++l) {
    if (in.peft == "lora" || in.peft == "pissa")
      for (const auto& [i, o] : linears) tensor(r * i, true, true, false), tensor(o * r, true, true, false);
    if (in.peft == "miss" || in.peft == "disha")
      for (const auto& [i, o] : linears) tensor(r * o, true, true, false);
    if (in.peft == "state") tensor(int64_t(cfg.n_head()) * cfg.head_size * cfg.head_size, false, true, false);
  }
  return b;
}

}  // namespace

ParamCounts count_params(const PlanInput& in) {
  const LayerShape s = layer_shape(in);
  const int64_t C = in.n_embd, L = in.n_layer, V = in.vocab_size;
  ParamCounts p;
  const int64_t per_layer = s.matrices + s.time + s.ln;
  p.total = L * per_layer + 2 * V * C + 2 * C /*ln_out*/ + 2 * C /*ln0*/;
  p.block_matrices = L * s.matrices;
  const bool full = in.peft == "none" && in.train_type != "state";
  if (full) {
    p.trainable = p.total;
    return p;
  }
  if (in.peft == "state" || in.train_type == "state") {
    p.adapter = L * C * in.head_size;  // one HxNxN state per layer
    p.trainable = p.adapter;
    return p;
  }
  if (in.peft == "lora" || in.peft == "pissa") p.adapter = L * s.lora * in.peft_r;
  else if (in.peft == "miss" || in.peft == "bone" || in.peft == "disha") p.adapter = L * s.miss * in.peft_r;
  p.trainable = p.adapter;
  if (has_part(in, "time")) p.trainable += L * s.time;
  if (has_part(in, "ln")) p.trainable += L * s.ln + 4 * C;
  if (has_part(in, "emb")) p.trainable += V * C;
  if (has_part(in, "head")) p.trainable += V * C;
  return p;
}

uint64_t MemoryPlan::category(const std::string& name) const {
  for (const auto& c : categories)
    if (c.first == name) return c.second;
  return 0;
}

const char* plan_stack_name(PlanStack stack) {
  return stack == PlanStack::Engine ? "engine" : "reference";
}

MemoryPlan plan_memory(const PlanInput& in, PlanStack stack) {
  namespace pc = plan_category;
  MemoryPlan plan;
  plan.stack = stack;
  plan.params = count_params(in);
  const ParamCounts& p = plan.params;
  const bool reference = stack == PlanStack::Reference;
  const double C = static_cast<double>(in.n_embd), L = static_cast<double>(in.n_layer);
  const double V = static_cast<double>(in.vocab_size);
  // infctx trains a long sample chunk by chunk: activations live for one chunk at a time.
  const int64_t seq = in.train_type == "infctx" ? std::min(in.ctx_len, in.chunk_ctx) : in.ctx_len;
  const double tokens = static_cast<double>(in.micro_bsz) * static_cast<double>(seq);

  const double wbytes = weight_bytes_per_param(in);
  const bool full = p.trainable == p.total;
  // Quantization only applies to frozen block matrices (PEFT); trained matrices stay bf16.
  const double matrix_bytes = full ? wbytes : quant_bytes_per_param(in, wbytes);
  const double weights = static_cast<double>(p.block_matrices) * matrix_bytes +
                         static_cast<double>(p.total - p.block_matrices) * wbytes +
                         static_cast<double>(p.adapter) * wbytes;
  const double trainable = static_cast<double>(p.trainable);
  // Per trainable parameter. DeepSpeed (reference) and our engine keep an fp32 master copy and
  // fp32 Adam m/v; DeepSpeed also keeps the bf16 param.grad beside its fp32 flat gradient.
  // Without DeepSpeed, torch Adam updates the bf16 parameters in place with bf16 m/v.
  double master_bytes = 4.0, grad_bytes = 4.0, optimizer_bytes = 8.0;
  if (reference && in.deepspeed) grad_bytes = 4.0;
  if (reference && !in.deepspeed) master_bytes = 0.0, grad_bytes = wbytes, optimizer_bytes = 2.0 * wbytes;
  if (reference && in.deepspeed) {
    // ZeRO shards what it owns across the data-parallel GPUs: stage 1 the fp32 master and Adam
    // state, stage 2 also the fp32 gradient partition; offload moves master + Adam to the CPU.
    const double shards = static_cast<double>(std::max<int64_t>(1, in.devices));
    master_bytes /= shards, optimizer_bytes /= shards;
    if (in.deepspeed_stage >= 2) grad_bytes = 2.0 + (grad_bytes - 2.0) / shards;
    if (in.offload_optimizer) master_bytes = 0.0, optimizer_bytes = 0.0;
  }

  double activations, recompute = 0;
  if (reference) {
    if (in.grad_cp) {
      activations = tokens * L * C * kCheckpointBytesPerChannel;
      recompute = tokens * C * kRefLayerBytesPerChannel;
    } else {
      activations = tokens * L * C * kRefLayerBytesPerChannel;
    }
  } else {
    // The CUDA backend runs the micro-batch in passes of whole sequences (core/batch_passes.h;
    // infctx, whose carried state is per micro-batch, in one); a pass's tokens are what is held.
    const double pass = in.train_type == "infctx"
                            ? tokens
                            : static_cast<double>(sequences_per_pass(in.micro_bsz, seq, in.n_embd, in.grad_cp, in.pass_tokens)) *
                                  static_cast<double>(seq);
    if (in.grad_cp) {
      // each layer's bf16 input (and the last output), then one layer's table at a time
      activations = pass * (L + 1) * C * 2.0;
      recompute = pass * C * kEngineLayerBytesPerChannel;
    } else {
      activations = pass * L * C * kEngineKeptLayerBytesPerChannel;
      recompute = pass * C * (kEngineLayerBytesPerChannel - kEngineKeptLayerBytesPerChannel);
    }
  }
  double logits;
  if (reference) {
    logits = tokens * V * kRefLogitBytesPerVocab;
  } else {
    const double chunk = std::min<double>(
        in.train_type == "infctx" ? tokens
                                  : static_cast<double>(sequences_per_pass(in.micro_bsz, seq, in.n_embd, in.grad_cp, in.pass_tokens)) *
                                        static_cast<double>(seq),
        kEngineCeChunkTokens);
    // cuda_model.cu head(): bf16 logits of one chunk of rows, the gradient written in place
    // (no fp32 copy); the per-token buffers are in the layer coefficient.
    logits = chunk * V * 2.0;
  }

  double workspace = reference ? gib(kRefWorkspaceGiB) : kEngineWorkspaceMiB * 1024.0 * 1024.0;
  if (!reference && plan_quant_type(in) != QuantType::None && !full) {
    // the engine dequantises a frozen matrix into a bf16 scratch right before its GEMM and gives
    // it back after: the allocator keeps one scratch block of each matrix shape (C x C, C x F)
    const double F = static_cast<double>(ffn_dim(in));
    workspace += engine_block(2.0 * C * C) + engine_block(2.0 * C * F);
  }
  if (reference && in.quant != "none" && !full) {
    // bitsandbytes dequantizes each block matrix to bf16 for its matmul, and autograd keeps
    // that copy for the backward: one layer's worth under grad_cp, every layer's without.
    const double layer_matrices = static_cast<double>(p.block_matrices) / L;
    activations += layer_matrices * wbytes * (in.grad_cp ? 1.0 : L);
  }

  double weights_b = weights, master_b = trainable * master_bytes, grads_b = trainable * grad_bytes,
         optimizer_b = trainable * optimizer_bytes;
  if (!reference && in.model_version == "x070") {
    const EngineTensorBytes t = engine_x070_tensor_bytes(in);  // as the CUDA backend allocates
    weights_b = t.weights, master_b = t.master, grads_b = t.gradients, optimizer_b = t.optimizer;
  }
  // Our engine on several GPUs (engine/dist): ZeRO-1 keeps each rank's slice of the AdamW state
  // (the fp32 master stays whole: every rank runs the whole model).
  if (!reference && in.devices > 1) optimizer_b /= static_cast<double>(in.devices);
  plan.categories = {
      {pc::kCudaContext, reference ? gib(kRefContextGiB + (in.model_version == "x070" ? 0.0 : kRefX060ExtraContextGiB))
                                   : static_cast<uint64_t>(kEngineContextMiB * 1024.0 * 1024.0)},
      {pc::kWeights, static_cast<uint64_t>(weights_b)},
      {pc::kMasterWeights, static_cast<uint64_t>(master_b)},
      {pc::kGradients, static_cast<uint64_t>(grads_b)},
      {pc::kOptimizer, static_cast<uint64_t>(optimizer_b)},
      {pc::kActivations, static_cast<uint64_t>(activations)},
      {pc::kRecompute, static_cast<uint64_t>(recompute)},
      {pc::kLogits, static_cast<uint64_t>(logits)},
      {pc::kWorkspace, static_cast<uint64_t>(workspace)},
  };
  for (const auto& c : plan.categories) plan.total_bytes += c.second;
  return plan;
}

// --- flags -> PlanInput ---------------------------------------------------------------------

namespace {

[[noreturn]] void bad_flag(const std::string& flag, const std::string& why, const std::string& hint) {
  throw EngineError("E_PLAN_FLAGS", "--" + flag + ": " + why, hint);
}

// A flag's value as given, else train.py's default from the one flag table (flags.json), so a
// map of the given flags only (the trainer's resolved config) and one with every default filled
// in (the language server's) plan alike.
const Json* find_flag_value(const std::map<std::string, Json>& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it != flags.end()) return it->second.is_null() ? nullptr : &it->second;
  const FlagSpec* spec = find_flag(name);
  return spec && !spec->default_value.is_null() ? &spec->default_value : nullptr;
}

int64_t int_flag(const std::map<std::string, Json>& flags, const std::string& name, int64_t fallback) {
  const Json* v = find_flag_value(flags, name);
  if (!v) return fallback;
  if (v->kind() == Json::Kind::Number) {
    const double d = v->as_number();
    if (d != std::floor(d)) bad_flag(name, "expected an integer, got " + v->dump(), "");
    return static_cast<int64_t>(d);
  }
  if (v->kind() == Json::Kind::Bool) return v->as_bool() ? 1 : 0;
  if (v->kind() == Json::Kind::String) {
    const std::string& s = v->as_string();
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0') bad_flag(name, "expected an integer, got \"" + s + "\"", "");
    return n;
  }
  bad_flag(name, "expected an integer", "");
}

std::string string_flag(const std::map<std::string, Json>& flags, const std::string& name,
                        const std::string& fallback) {
  const Json* v = find_flag_value(flags, name);
  if (!v) return fallback;
  if (v->kind() == Json::Kind::String) return v->as_string();
  return v->dump();
}

// peft_config / lora_config / ...: a JSON object given as an object or as a string. Scripts
// sometimes escape braces ('\{"r":64\}'), which the shell passes on verbatim.
Json object_flag(const std::map<std::string, Json>& flags, const std::string& name) {
  const Json* v = find_flag_value(flags, name);
  if (!v) return Json::object();
  if (v->kind() == Json::Kind::Object) return *v;
  if (v->kind() != Json::Kind::String) bad_flag(name, "expected a JSON object", "");
  std::string text;
  for (char c : v->as_string())
    if (c != '\\') text += c;
  if (text.empty()) return Json::object();
  try {
    Json parsed = Json::parse(text);
    if (parsed.kind() != Json::Kind::Object) bad_flag(name, "expected a JSON object", "");
    return parsed;
  } catch (const EngineError& e) {
    if (e.code == "E_PLAN_FLAGS") throw;
    bad_flag(name, std::string("invalid JSON: ") + e.what(), "write it as '{\"r\":64}'");
  }
}

int64_t rank_from(const Json& config, const char* key) {
  const Json* r = config.find(key);
  if (!r) return 0;
  if (r->kind() == Json::Kind::Number) return static_cast<int64_t>(r->as_number());
  if (r->kind() == Json::Kind::String) return std::atoll(r->as_string().c_str());
  return 0;
}

}  // namespace

PlanInput plan_input_from_flags(const std::map<std::string, Json>& flags) {
  PlanInput in;
  in.model_version = string_flag(flags, "my_testing", "x070");
  if (in.model_version != "x070" && in.model_version != "x060" && in.model_version != "x052")
    bad_flag("my_testing", "unknown model version \"" + in.model_version + "\"", "use x070, x060 or x052");
  in.n_layer = int_flag(flags, "n_layer", 0);
  in.n_embd = int_flag(flags, "n_embd", 0);
  if (in.n_layer <= 0) bad_flag("n_layer", "must be positive", "set --n_layer (e.g. 24 for 1.5B)");
  if (in.n_embd <= 0) bad_flag("n_embd", "must be positive", "set --n_embd (e.g. 2048 for 1.5B)");
  in.vocab_size = int_flag(flags, "vocab_size", 65536);
  if (in.vocab_size <= 0) in.vocab_size = 65536;  // 0 = "from the data"; World vocab is the norm
  in.head_size = int_flag(flags, "head_size", int_flag(flags, "head_size_a", 64));
  if (in.head_size <= 0 || in.n_embd % in.head_size != 0)
    bad_flag("n_embd", "must be a multiple of head_size (" + std::to_string(in.head_size) + ")", "");
  in.dim_ffn = int_flag(flags, "dim_ffn", 0);
  in.ctx_len = int_flag(flags, "ctx_len", 1024);
  in.micro_bsz = int_flag(flags, "micro_bsz", 1);
  if (in.ctx_len <= 0) bad_flag("ctx_len", "must be positive", "");
  if (in.micro_bsz <= 0) bad_flag("micro_bsz", "must be positive", "");
  in.grad_cp = int_flag(flags, "grad_cp", 0) != 0;
  in.precision = string_flag(flags, "precision", "bf16");
  in.quant = string_flag(flags, "quant", "none");
  in.train_type = string_flag(flags, "train_type", "none");
  in.chunk_ctx = int_flag(flags, "chunk_ctx", 512);
  if (in.chunk_ctx <= 0) in.chunk_ctx = in.ctx_len;

  // The method is always --peft (both RWKV-PEFT generations). The newer one takes its options
  // as --peft_config '{...}' (Hugging Face peft keywords) and trains the adapter only; the older
  // one takes --lora_config/--pissa_config/--miss_config/--disha_config and also trains
  // --train_parts (default time and ln). The language server passes every flag with its default
  // filled in, so the form is told by whether peft_config holds anything, not by presence.
  // The name's method and older settings flag come from the one table (flags.json peftMethods):
  // bone and disha plan as miss with --disha_config, miss with --miss_config.
  const std::string peft_name = in.train_type == "state" ? "state" : string_flag(flags, "peft", "none");
  const PeftName* name = find_peft_name(peft_name);
  if (!name) {
    std::string list;
    for (const PeftName& n : peft_names()) list += (list.empty() ? "" : ", ") + n.name;
    bad_flag("peft", "unknown method \"" + peft_name + "\"", "use one of " + list);
  }
  in.peft = name->method;
  if (in.peft == "adalora" || in.peft == "prefix") in.peft = "lora";  // sized like LoRA
  const Json peft_config = object_flag(flags, "peft_config");
  const bool newer_form = !peft_config.members().empty();
  if (in.peft == "lora" || in.peft == "pissa" || in.peft == "miss") {
    if (newer_form) {
      in.peft_r = rank_from(peft_config, "r");
      if (!in.peft_r) in.peft_r = in.peft == "miss" ? 64 : 8;  // MissConfig / LoraConfig defaults
    } else {
      const std::string& config = name->config_flag;
      const char* key = config == "lora_config" ? "lora_r" : config == "pissa_config" ? "pissa_r" : "r";
      in.peft_r = config.empty() ? 0 : rank_from(object_flag(flags, config), key);
      if (!in.peft_r) in.peft_r = in.peft == "lora" || in.peft == "pissa" ? 8 : 64;  // older defaults
      in.train_parts = {"time", "ln"};
      if (const Json* parts = find_flag_value(flags, "train_parts")) {
        in.train_parts.clear();
        if (parts->kind() == Json::Kind::Array) {
          for (const Json& part : parts->items())
            if (part.kind() == Json::Kind::String) in.train_parts.push_back(part.as_string());
        } else if (parts->kind() == Json::Kind::String) {
          std::string word;
          for (char c : parts->as_string() + " ") {
            if (c == ' ' || c == ',' || c == '[' || c == ']' || c == '"' || c == '\'') {
              if (!word.empty()) in.train_parts.push_back(word), word.clear();
            } else {
              word += c;
            }
          }
        }
      }
    }
    if (in.peft_r <= 0) bad_flag(newer_form ? "peft_config" : "peft", "rank r must be positive", "e.g. '{\"r\":64}'");
  }
  const std::string strategy = string_flag(flags, "strategy", "deepspeed_stage_1");
  in.deepspeed = strategy.find("deepspeed") != std::string::npos;
  if (in.deepspeed) {
    in.deepspeed_stage = strategy.find("stage_3") != std::string::npos   ? 3
                         : strategy.find("stage_2") != std::string::npos ? 2
                                                                         : 1;
    in.offload_optimizer = strategy.find("offload") != std::string::npos;
  }
  in.devices = int_flag(flags, "devices", 1);
  if (in.devices <= 0) bad_flag("devices", "must be positive", "the number of GPUs to train on, e.g. 1");
  return in;
}

PlanInput plan_input_from_flags(const Json& flags_object) {
  if (flags_object.kind() != Json::Kind::Object)
    throw EngineError("E_PLAN_FLAGS", "the planner needs an object of flag values", "");
  std::map<std::string, Json> flags;
  for (const auto& m : flags_object.members()) flags[m.first] = m.second;
  return plan_input_from_flags(flags);
}

Json plan_categories_json(const MemoryPlan& plan) {
  Json cats = Json::object();
  for (const auto& c : plan.categories) cats.set(c.first, Json(c.second));
  return cats;
}

Json plan_to_json(const MemoryPlan& plan) {
  Json out = Json::object();
  out.set("total_bytes", Json(plan.total_bytes));
  out.set("stack", Json(plan_stack_name(plan.stack)));
  out.set("categories", plan_categories_json(plan));
  Json params = Json::object();
  params.set("total", Json(plan.params.total));
  params.set("trainable", Json(plan.params.trainable));
  out.set("params", params);
  return out;
}

}  // namespace rwkv
