// The shape of an RWKV-7 (x070) model and the fine-tuning method applied to it. Shared by the
// trainer, both backends, `init`, `inspect` and the planner, so every part agrees on sizes.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/pth.h"

namespace rwkv {

struct ModelConfig {
  // The generation (core/model_version.h): "x070" (this header's sizes) or "x060" (RWKV-6,
  // core/model_x060.h). The CPU backend picks its block from it; the other fields mean the same.
  std::string version = "x070";
  int n_layer = 0;
  int n_embd = 0;            // C
  int vocab_size = 0;
  int head_size = 64;        // N (head_size_a); n_head = n_embd / head_size
  int dim_ffn = 0;           // 4 * C in x070, int(3.5 C) // 32 * 32 in x060
  int d_decay_lora = 0;      // w1: [C, d_decay_lora] (x060: time_decay_w1)
  int d_aaa_lora = 0;        // a1
  int d_mv_lora = 0;         // v1 (layers > 0)
  int d_gate_lora = 0;       // g1
  int d_mix_lora = 0;        // x060 only: time_maa_w1 is [C, 5 * d_mix_lora] (model_x060.h)
  float head_size_divisor = 8.0f;  // ln_x eps = 1e-5 * divisor^2, as RWKV-PEFT/RWKV-LM
  int n_head() const { return n_embd / head_size; }
  float ln_x_eps() const { return 1e-5f * head_size_divisor * head_size_divisor; }
};

// The low-rank sizes RWKV-LM's x070 picks for a given C ("suggestion" formulas in its Tmix).
ModelConfig model_config_for_size(int n_layer, int n_embd, int vocab_size, int head_size = 64);

// Reads the sizes from an x070 state dict (blocks.N.att.w1 etc.). Throws EngineError
// E_MODEL_NOT_X070 / E_MODEL_SHAPE when tensors are missing or disagree.
ModelConfig model_config_from_weights(const StateDict& weights, int head_size = 64);
// The names, shapes and dtypes of `weights`, as a checkpoint's header lists them.
std::vector<TensorInfo> weights_header(const StateDict& weights);
ModelConfig model_config_from_header(const std::vector<TensorInfo>& header, int head_size = 64);

// Every tensor name and shape an x070 model of this config has, in RWKV-LM's order.
std::vector<std::pair<std::string, std::vector<int64_t>>> x070_tensor_shapes(const ModelConfig& cfg);

// Checks that `weights` has exactly the tensors and shapes of `cfg` (extra adapter tensors are
// an error here; they belong in the adapter file). Throws EngineError E_MODEL_SHAPE with a hint.
void validate_x070_weights(const ModelConfig& cfg, const StateDict& weights);

// What every generation's sizes and names share (x070 here, x060 in core/model_x060.cpp):
// n_layer/n_embd/vocab_size/head_size checked (E_MODEL_SIZE naming `version`) and set;
using TensorShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;
ModelConfig model_dims_checked(const char* version, int n_layer, int n_embd, int vocab_size, int head_size);
// a block's ln1/ln2 (and block 0's ln0), the embedding, and ln_out + head after the blocks;
void push_block_norms(TensorShapes& out, const std::string& block_prefix, int layer, int64_t C);
void push_embedding(TensorShapes& out, const ModelConfig& c);
void push_output_head(TensorShapes& out, const ModelConfig& c);
// "[a, b]" for messages, and a shape's element count.
std::string shape_text(const std::vector<int64_t>& s);
int64_t shape_numel(const std::vector<int64_t>& s);
// Every tensor of `expected` in `weights` with its element count: E_MODEL_SHAPE otherwise, with
// `what` naming the model ("an x070 model of n_layer 12, n_embd 768") in the missing-tensor hint.
void validate_weights_against(const TensorShapes& expected, const StateDict& weights, const std::string& missing_prefix,
                              const std::string& what);

// Which fine-tuning method trains which weights (RWKV-PEFT's defaults).
enum class PeftMethod {
  Full,       // every parameter (--peft none / --train_type none without train_parts)
  Lora,       // lora_A/lora_B beside target linears, base frozen
  Pissa,      // LoRA initialised from the top-r SVD of W (W -= B A), no alpha/r scaling
  Miss,       // MiSS (ex-Bone): a shared [r, out] block added to W viewed in r-blocks
  State,      // state tuning: only blocks.N.att.time_state [H, N, N]
};
const char* peft_method_name(PeftMethod m);

struct PeftConfig {
  PeftMethod method = PeftMethod::Full;
  int r = 64;
  float lora_alpha = 128.0f;
  float lora_dropout = 0.0f;
  bool use_rslora = false;   // Hugging Face peft's rank-stabilised scaling: alpha / sqrt(r)
  // Linear modules (by the last part of their name) the adapter wraps. RWKV-PEFT's default:
  // att.receptance/key/value/output and ffn.key/ffn.value.
  std::vector<std::string> target_modules = {"receptance", "key", "value", "output"};
  int svd_niter = 4;         // PiSSA
  // Extra base parameters trained beside the adapter, by name substring (--train_parts,
  // e.g. "time", "ln"; "emb", "head"). Full fine-tuning ignores it (everything trains).
  std::vector<std::string> train_parts;
  uint64_t seed = 0;         // adapter init and dropout masks
  float lora_scaling() const {
    if (method != PeftMethod::Lora) return 1.0f;
    return use_rslora ? lora_alpha / std::sqrt(float(r)) : lora_alpha / float(r);
  }
};

}  // namespace rwkv
