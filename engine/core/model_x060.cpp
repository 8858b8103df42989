// x060 sizes and names as RWKV-PEFT's rwkvt/rwkv6 (att.py, ffn.py, block.py, model.py) define them.
#include "core/model_x060.h"

#include <map>

#include "core/errors.h"
#include "core/model_version.h"

namespace rwkv {
ModelConfig model_config_x060_for_size(int n_layer, int n_embd, int vocab_size, int head_size) {
  ModelConfig c = model_dims_checked("x060", n_layer, n_embd, vocab_size, head_size);
  c.dim_ffn = int(int64_t(n_embd) * 7 / 2 / 32 * 32);  // int((C * 3.5) // 32 * 32), exact in integers
  c.d_mix_lora = n_embd == 4096 ? 64 : 32;
  c.d_decay_lora = n_embd == 4096 ? 128 : 64;
  return c;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> x060_tensor_shapes(const ModelConfig& c) {
  const int64_t C = c.n_embd, F = c.dim_ffn;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  push_embedding(out, c);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    push_block_norms(out, p, l, C);
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
  push_output_head(out, c);
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
    if (shape_numel(got) != shape_numel(shape))
      throw EngineError("E_MODEL_SHAPE",
                        name + " has shape " + shape_text(got) + ", expected " + shape_text(shape) +
                            " for an x060 model of n_layer " + std::to_string(c.n_layer) + ", n_embd " +
                            std::to_string(c.n_embd),
                        "the tensors disagree with each other: the checkpoint is damaged or was edited");
  }
  return c;
}

void validate_x060_weights(const ModelConfig& cfg, const StateDict& weights) {
  validate_weights_against(x060_tensor_shapes(cfg), weights, "the RWKV-6 (x060) checkpoint",
                           "an x060 model of n_layer " + std::to_string(cfg.n_layer) + ", n_embd " + std::to_string(cfg.n_embd));
}

}  // namespace rwkv
