// x070 sizes and names as RWKV-LM / RWKV-PEFT define them.
#include "core/model_config.h"

#include <cmath>
#include <map>

#include "core/errors.h"
#include "core/model_version.h"

namespace rwkv {

static int lora_dim(double factor, double power, int C) {
  // max(32, round(factor * C^power / 32) * 32), RWKV-LM's "suggestion" sizes
  const int d = int(std::lround(factor * std::pow(double(C), power) / 32.0)) * 32;
  return d < 32 ? 32 : d;
}

ModelConfig model_dims_checked(const char* version, int n_layer, int n_embd, int vocab_size, int head_size) {
  if (n_layer <= 0 || n_embd <= 0 || vocab_size <= 0)
    throw EngineError("E_MODEL_SIZE", "n_layer, n_embd and vocab_size must be positive",
                      "pass --n_layer, --n_embd and --vocab_size");
  if (head_size <= 0 || n_embd % head_size != 0)
    throw EngineError("E_MODEL_SIZE",
                      "n_embd " + std::to_string(n_embd) + " is not a multiple of head_size " +
                          std::to_string(head_size),
                      std::string(version) + " needs n_embd = n_head * head_size (head_size 64 by default)");
  ModelConfig c;
  c.version = version;
  c.n_layer = n_layer;
  c.n_embd = n_embd;
  c.vocab_size = vocab_size;
  c.head_size = head_size;
  return c;
}

void push_block_norms(TensorShapes& out, const std::string& p, int layer, int64_t C) {
  out.push_back({p + "ln1.weight", {C}});
  out.push_back({p + "ln1.bias", {C}});
  out.push_back({p + "ln2.weight", {C}});
  out.push_back({p + "ln2.bias", {C}});
  if (layer == 0) {
    out.push_back({p + "ln0.weight", {C}});
    out.push_back({p + "ln0.bias", {C}});
  }
}

void push_embedding(TensorShapes& out, const ModelConfig& c) { out.push_back({"emb.weight", {c.vocab_size, c.n_embd}}); }

void push_output_head(TensorShapes& out, const ModelConfig& c) {
  out.push_back({"ln_out.weight", {c.n_embd}});
  out.push_back({"ln_out.bias", {c.n_embd}});
  out.push_back({"head.weight", {c.vocab_size, c.n_embd}});
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t shape_numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

void validate_weights_against(const TensorShapes& expected, const StateDict& weights, const std::string& missing_prefix,
                              const std::string& what) {
  std::map<std::string, const HostTensor*> by_name;
  for (const auto& [n, t] : weights) by_name[n] = &t;
  for (const auto& [name, shape] : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw EngineError("E_MODEL_SHAPE", missing_prefix + " has no tensor '" + name + "'",
                        "the checkpoint is not " + what);
    if (it->second->numel() != shape_numel(shape))
      throw EngineError("E_MODEL_SHAPE", name + " has shape " + shape_text(it->second->shape) + ", expected " + shape_text(shape),
                        "check --n_layer/--n_embd/--vocab_size against the checkpoint");
  }
}

ModelConfig model_config_for_size(int n_layer, int n_embd, int vocab_size, int head_size) {
  ModelConfig c = model_dims_checked("x070", n_layer, n_embd, vocab_size, head_size);
  c.dim_ffn = 4 * n_embd;
  c.d_decay_lora = lora_dim(1.8, 0.5, n_embd);
  c.d_aaa_lora = lora_dim(1.8, 0.5, n_embd);
  c.d_mv_lora = lora_dim(1.3, 0.5, n_embd);
  c.d_gate_lora = n_embd == 1024 ? 128 : lora_dim(0.6, 0.8, n_embd);
  return c;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> x070_tensor_shapes(const ModelConfig& c) {
  const int64_t C = c.n_embd, F = c.dim_ffn;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  push_embedding(out, c);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    push_block_norms(out, p, l, C);
    const std::string a = p + "att.";
    for (const char* mu : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) out.push_back({a + mu, {1, 1, C}});
    out.push_back({a + "w0", {1, 1, C}});
    out.push_back({a + "w1", {C, c.d_decay_lora}});
    out.push_back({a + "w2", {c.d_decay_lora, C}});
    out.push_back({a + "a0", {1, 1, C}});
    out.push_back({a + "a1", {C, c.d_aaa_lora}});
    out.push_back({a + "a2", {c.d_aaa_lora, C}});
    if (l > 0) {
      out.push_back({a + "v0", {1, 1, C}});
      out.push_back({a + "v1", {C, c.d_mv_lora}});
      out.push_back({a + "v2", {c.d_mv_lora, C}});
    }
    out.push_back({a + "g1", {C, c.d_gate_lora}});
    out.push_back({a + "g2", {c.d_gate_lora, C}});
    out.push_back({a + "k_k", {1, 1, C}});
    out.push_back({a + "k_a", {1, 1, C}});
    out.push_back({a + "r_k", {c.n_head(), c.head_size}});
    for (const char* lin : {"receptance", "key", "value", "output"})
      out.push_back({a + lin + ".weight", {C, C}});
    out.push_back({a + "ln_x.weight", {C}});
    out.push_back({a + "ln_x.bias", {C}});
    out.push_back({p + "ffn.x_k", {1, 1, C}});
    out.push_back({p + "ffn.key.weight", {F, C}});
    out.push_back({p + "ffn.value.weight", {C, F}});
  }
  push_output_head(out, c);
  return out;
}

ModelConfig model_config_from_header(const std::vector<TensorInfo>& header, int head_size) {
  // Another generation's file would otherwise fail on its first missing x070 name, which says
  // nothing about why: name the version it is.
  const std::string version = detect_model_version(header);
  if (version != "x070" && version != "unknown")
    throw EngineError("E_MODEL_VERSION",
                      "the checkpoint is an " + model_version_label(version) + " model, not RWKV-7 (x070)",
                      version == "x060" ? "set --my_testing x060 to train it (RWKV-6 trains on the CPU backend: "
                                          "--accelerator cpu), or load an RWKV-7 checkpoint such as rwkv7-g1-*.pth"
                                        : "this engine trains RWKV-7 (x070) and RWKV-6 (x060) checkpoints; load one "
                                          "such as rwkv7-g1-*.pth",
                      version == "x060" ? "my_testing" : "load_model");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : header) shapes[t.name] = t.shape;
  auto need = [&](const std::string& n) -> const std::vector<int64_t>& {
    auto it = shapes.find(n);
    if (it == shapes.end())
      throw EngineError("E_MODEL_NOT_X070", "checkpoint has no tensor '" + n + "'",
                        "this engine trains RWKV-7 (x070) checkpoints such as RWKV-x070-World-*.pth");
    return it->second;
  };
  const auto& emb = need("emb.weight");
  if (emb.size() != 2) throw EngineError("E_MODEL_SHAPE", "emb.weight is not 2-D", "");
  need("blocks.0.att.w1");
  need("blocks.0.att.r_k");
  int n_layer = 0;
  while (shapes.count("blocks." + std::to_string(n_layer) + ".ln1.weight")) ++n_layer;
  const auto& rk = need("blocks.0.att.r_k");
  if (rk.size() == 2 && rk[1] > 0) head_size = int(rk[1]);
  ModelConfig c = model_config_for_size(n_layer, int(emb[1]), int(emb[0]), head_size);
  c.d_decay_lora = int(need("blocks.0.att.w1").at(1));
  c.d_aaa_lora = int(need("blocks.0.att.a1").at(1));
  c.d_gate_lora = int(need("blocks.0.att.g1").at(1));
  if (n_layer > 1) c.d_mv_lora = int(need("blocks.1.att.v1").at(1));
  c.dim_ffn = int(need("blocks.0.ffn.key.weight").at(0));
  for (const auto& [name, shape] : x070_tensor_shapes(c)) {
    const auto& got = need(name);
    // RWKV-LM's own initialiser writes [1,1] vectors broadcast at load; accept equal numel.
    int64_t a = 1, b = 1;
    for (auto d : got) a *= d;
    for (auto d : shape) b *= d;
    if (a != b)
      throw EngineError("E_MODEL_SHAPE",
                        name + " has shape " + shape_text(got) + ", expected " + shape_text(shape) +
                            " for n_layer " + std::to_string(c.n_layer) + ", n_embd " +
                            std::to_string(c.n_embd),
                        "the checkpoint does not match --n_layer/--n_embd; check which file --load_model names");
  }
  return c;
}

std::vector<TensorInfo> weights_header(const StateDict& weights) {
  std::vector<TensorInfo> header;
  for (const auto& [name, t] : weights) {
    TensorInfo info;
    info.name = name;
    info.shape = t.shape;
    info.dtype = t.dtype;
    header.push_back(info);
  }
  return header;
}

ModelConfig model_config_from_weights(const StateDict& weights, int head_size) {
  return model_config_from_header(weights_header(weights), head_size);
}

void validate_x070_weights(const ModelConfig& cfg, const StateDict& weights) {
  validate_weights_against(x070_tensor_shapes(cfg), weights, "checkpoint",
                           "an x070 model of n_layer " + std::to_string(cfg.n_layer) + ", n_embd " + std::to_string(cfg.n_embd));
}

const char* peft_method_name(PeftMethod m) {
  switch (m) {
    case PeftMethod::Full: return "none";
    case PeftMethod::Lora: return "lora";
    case PeftMethod::Pissa: return "pissa";
    case PeftMethod::Miss: return "miss";
    case PeftMethod::State: return "state";
  }
  return "?";
}

}  // namespace rwkv
