// x060 sizes and names as RWKV-PEFT's rwkvt/rwkv6 (att.py, ffn.py, block.py, model.py) define them.
#include "core/model_x060.h"

#include <map>

#include "core/errors.h"
#include "core/model_version.h"

namespace rwkv {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

}  // namespace

ModelConfig model_config_x060_for_size(int n_layer, int n_embd, int vocab_size, int head_size) {
  if (n_layer <= 0 || n_embd <= 0 || vocab_size <= 0)
    throw EngineError("E_MODEL_SIZE", "n_layer, n_embd and vocab_size must be positive",
                      "pass --n_layer, --n_embd and --vocab_size");
  if (head_size <= 0 || n_embd % head_size != 0)
    throw EngineError("E_MODEL_SIZE",
                      "n_embd " + std::to_string(n_embd) + " is not a multiple of head_size " +
                          std::to_string(head_size),
                      "x060 needs n_embd = n_head * head_size (head_size 64 by default)");
  ModelConfig c;
  c.version = "x060";
  c.n_layer = n_layer;
  c.n_embd = n_embd;
  c.vocab_size = vocab_size;
  c.head_size = head_size;
  c.dim_ffn = int(int64_t(n_embd) * 7 / 2 / 32 * 32);  // int((C * 3.5) // 32 * 32), exact in integers
  c.d_mix_lora = n_embd == 4096 ? 64 : 32;
  c.d_decay_lora = n_embd == 4096 ? 128 : 64;
  return c;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> x060_tensor_shapes(const ModelConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, F = c.dim_ffn;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"emb.weight", {V, C}});
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    out.push_back({p + "ln1.weight", {C}});
    out.push_back({p + "ln1.bias", {C}});
    out.push_back({p + "ln2.weight", {C}});
    out.push_back({p + "ln2.bias", {C}});
    if (l == 0) {
      out.push_back({p + "ln0.weight", {C}});
      out.push_back({p + "ln0.bias", {C}});
    }
    const std::string a = p + "att.";
    for (const char* mu : {"x", "w", "k", "v", "r", "g"}) out.push_back({a + "time_maa_" + mu, {1, 1, C}});
    out.push_back({a + "time_maa_w1", {C, 5 * int64_t(c.d_mix_lora)}});
    out.push_back({a + "time_maa_w2", {5, c.d_mix_lora, C}});
    out.push_back({a + "time_decay", {1, 1, C}});
    out.push_back({a + "time_decay_w1", {C, c.d_decay_lora}});
    out.push_back({a + "time_decay_w2", {c.d_decay_lora, C}});
    out.push_back({a + "time_faaaa", {c.n_head(), c.head_size}});
    for (const char* lin : {"receptance", "key", "value", "output", "gate"})
      out.push_back({a + lin + ".weight", {C, C}});
    out.push_back({a + "ln_x.weight", {C}});
    out.push_back({a + "ln_x.bias", {C}});
    out.push_back({p + "ffn.time_maa_k", {1, 1, C}});
    out.push_back({p + "ffn.time_maa_r", {1, 1, C}});
    out.push_back({p + "ffn.key.weight", {F, C}});
    out.push_back({p + "ffn.receptance.weight", {C, C}});
    out.push_back({p + "ffn.value.weight", {C, F}});
  }
  out.push_back({"ln_out.weight", {C}});
  out.push_back({"ln_out.bias", {C}});
  out.push_back({"head.weight", {V, C}});
  return out;
}

ModelConfig model_config_x060_from_header(const std::vector<TensorInfo>& header) {
  const std::string version = detect_model_version(header);
  if (version != "x060")
    throw EngineError("E_MODEL_VERSION",
                      "the checkpoint is " + (version == "unknown" ? std::string("not an RWKV model this engine knows")
                                                                    : "an " + model_version_label(version) + " model") +
                          ", not RWKV-6 (x060)",
                      version == "unknown" ? "load an RWKV-6 checkpoint such as RWKV-x060-World-1B6-*.pth"
                                           : "set --my_testing " + version + " to match the checkpoint",
                      "my_testing");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : header) shapes[t.name] = t.shape;
  auto need = [&](const std::string& n) -> const std::vector<int64_t>& {
    auto it = shapes.find(n);
    if (it == shapes.end())
      throw EngineError("E_MODEL_SHAPE", "the RWKV-6 (x060) checkpoint has no tensor '" + n + "'",
                        "the file is incomplete or not a whole x060 model (an adapter is loaded with its base)");
    return it->second;
  };
  auto dim = [&](const std::string& n, size_t rank, size_t i) {
    const auto& s = need(n);
    if (s.size() != rank)
      throw EngineError("E_MODEL_SHAPE", n + " has shape " + shape_text(s) + ", expected " + std::to_string(rank) + " dimensions",
                        "the checkpoint is not a well-formed RWKV-6 (x060) model");
    return int(s[i]);
  };
  int n_layer = 0;
  while (shapes.count("blocks." + std::to_string(n_layer) + ".ln1.weight")) ++n_layer;
  const int vocab = dim("emb.weight", 2, 0), C = dim("emb.weight", 2, 1);
  const int head_size = dim("blocks.0.att.time_faaaa", 2, 1);
  ModelConfig c = model_config_x060_for_size(n_layer, C, vocab, head_size);
  // The low-rank widths and dim_ffn are what the file holds (a custom --dim_ffn trains fine).
  c.d_mix_lora = dim("blocks.0.att.time_maa_w1", 2, 1) / 5;
  c.d_decay_lora = dim("blocks.0.att.time_decay_w1", 2, 1);
  c.dim_ffn = dim("blocks.0.ffn.key.weight", 2, 0);
  for (const auto& [name, shape] : x060_tensor_shapes(c)) {
    const auto& got = need(name);
    // Older savers keep the [1,1,C] vectors as [C]: equal numel loads (as x070's check accepts).
    if (numel(got) != numel(shape))
      throw EngineError("E_MODEL_SHAPE",
                        name + " has shape " + shape_text(got) + ", expected " + shape_text(shape) +
                            " for an x060 model of n_layer " + std::to_string(c.n_layer) + ", n_embd " +
                            std::to_string(c.n_embd),
                        "the tensors disagree with each other: the checkpoint is damaged or was edited");
  }
  return c;
}

void validate_x060_weights(const ModelConfig& cfg, const StateDict& weights) {
  std::map<std::string, const HostTensor*> by_name;
  for (const auto& [n, t] : weights) by_name[n] = &t;
  for (const auto& [name, shape] : x060_tensor_shapes(cfg)) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw EngineError("E_MODEL_SHAPE", "the RWKV-6 (x060) weights have no tensor '" + name + "'",
                        "the checkpoint is not an x060 model of n_layer " + std::to_string(cfg.n_layer) + ", n_embd " +
                            std::to_string(cfg.n_embd));
    if (it->second->numel() != numel(shape))
      throw EngineError("E_MODEL_SHAPE", name + " has shape " + shape_text(it->second->shape) + ", expected " + shape_text(shape),
                        "check --n_layer/--n_embd/--vocab_size against the checkpoint");
  }
}

}  // namespace rwkv
