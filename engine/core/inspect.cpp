// See inspect.h. Shapes are trusted over file names (FACTS.md).
#include "core/inspect.h"

#include <algorithm>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/paths.h"
#include "core/jsonl_documents.h"
#include "core/model_version.h"
#include "core/safetensors.h"
#include "core/tokenizer.h"

namespace rwkv {
namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// The layer index of "blocks.N.<rest>", or -1. Adapter files saved through Hugging Face peft
// prefix the names ("base_model.model.blocks.0.att.receptance.lora_A.weight").
int64_t block_index(const std::string& name) {
  size_t at = name.rfind("blocks.", 0) == 0 ? 0 : name.find(".blocks.");
  if (at == std::string::npos) return -1;
  if (at != 0) at += 1;
  size_t i = at + 7;
  int64_t n = 0;
  bool digits = false;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') n = n * 10 + (name[i++] - '0'), digits = true;
  return digits && i < name.size() && name[i] == '.' ? n : -1;
}

// Adapter files hold only the trained parts: LoRA/PiSSA A/B matrices, MiSS blocks, states.
std::string detect_adapter_method(const std::vector<TensorInfo>& tensors, bool has_base) {
  auto has = [&](const char* part) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const TensorInfo& t) { return contains(t.name, part); });
  };
  const std::string method = has("lora") ? "lora"
                           : has("miss") || has("bone") || has("disha") ? "miss"
                           : has("time_state") ? "state" : "";
  if (has_base) return method;  // a full model may also carry adapter weights
  return method.empty() ? "partial" : method;
}

const char* megatron_dtype_name(int code) {
  switch (code) {
    case 1: return "uint8"; case 2: return "int8"; case 3: return "int16"; case 4: return "int32";
    case 5: return "int64"; case 6: return "float64"; case 7: return "float32"; case 8: return "uint16";
    default: return "unknown";
  }
}

}  // namespace

CheckpointSummary summarize_tensors(std::vector<TensorInfo> tensors) {
  CheckpointSummary s;
  const TensorInfo* emb = nullptr;
  const TensorInfo* head = nullptr;
  const TensorInfo* ln1 = nullptr;
  int64_t max_block = -1;
  std::map<std::string, int64_t> dtype_elements;
  for (const TensorInfo& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    s.params += numel;
    dtype_elements[dtype_name(t.dtype)] += numel;
    if (t.name == "emb.weight") emb = &t;
    if (t.name == "head.weight") head = &t;
    const int64_t block = block_index(t.name);
    max_block = std::max(max_block, block);
    if (block == 0 && ends_with(t.name, ".ln1.weight")) ln1 = &t;
    // Per-head tensors are [n_head, head_size]: x070 att.r_k, x060/x052 time_faaaa, x040 time_first.
    if (!s.head_size && t.shape.size() == 2 &&
        (ends_with(t.name, ".att.r_k") || ends_with(t.name, ".att.time_faaaa") || ends_with(t.name, ".att.time_first")))
      s.head_size = t.shape[1];
  }
  s.version = detect_model_version(tensors);
  s.n_layer = max_block + 1;
  const TensorInfo* matrix = emb && emb->shape.size() == 2 ? emb : head && head->shape.size() == 2 ? head : nullptr;
  if (matrix) s.vocab_size = matrix->shape[0], s.n_embd = matrix->shape[1];
  if (!s.n_embd && ln1 && ln1->shape.size() == 1) s.n_embd = ln1->shape[0];
  s.is_adapter = !tensors.empty() && !emb && !head;
  s.adapter_method = detect_adapter_method(tensors, !s.is_adapter);
  int64_t most = -1;
  for (const auto& kv : dtype_elements)
    if (kv.second > most) most = kv.second, s.dominant_dtype = kv.first;
  s.tensors = std::move(tensors);
  return s;
}

CheckpointSummary summarize_checkpoint(const std::string& path) {
  // A peft adapter (the newest RWKV-PEFT's --merge 0): adapter_model.safetensors, or its folder.
  const bool folder = is_directory(path);
  const std::string safetensors = folder ? path + "/adapter_model.safetensors" : path;
  if (folder || ends_with(path, ".safetensors")) {
    std::vector<TensorInfo> tensors;
    for (const auto& [name, t] : load_safetensors(safetensors)) {  // adapters are small: data read too
      TensorInfo info;
      info.name = name;
      info.dtype = t.dtype;
      info.shape = t.shape;
      tensors.push_back(std::move(info));
    }
    CheckpointSummary s = summarize_tensors(std::move(tensors));
    s.format = folder ? "peft-folder" : "safetensors";
    return s;
  }
  return summarize_tensors(read_pth_header(path));
}

bool looks_like_dataset(const std::string& path) {
  if (ends_with(path, ".jsonl")) return true;
  if (path_exists(path + ".idx") || path_exists(path + ".bin")) return true;
  return (ends_with(path, ".bin") || ends_with(path, ".idx")) && path_exists(path.substr(0, path.size() - 4) + ".idx");
}

DatasetSummary summarize_dataset(const std::string& path, uint64_t ctx_len, const std::string& vocab_path) {
  DatasetSummary s;
  if (ends_with(path, ".jsonl")) {
    const std::vector<std::string> texts = read_jsonl_texts(path);
    const WorldTokenizer& tokenizer = shared_world_tokenizer(vocab_path);
    for (const std::string& t : texts) s.tokens += tokenizer.encode(t).size() + 1;  // + end of document
    s.format = "jsonl";
    s.path = path;
    s.documents = texts.size();
    s.dtype = "uint16";
  } else {
    std::string prefix = path;
    if (!path_exists(path + ".idx") && !path_exists(path + ".bin") && (ends_with(path, ".bin") || ends_with(path, ".idx")))
      prefix = path.substr(0, path.size() - 4);
    const BinIdxDataset data(prefix);
    s.format = "binidx";
    s.path = prefix;
    s.tokens = data.num_tokens();
    s.documents = data.num_documents();
    s.dtype = megatron_dtype_name(data.dtype_code());
  }
  if (ctx_len) s.magic_prime = magic_prime_for(s.tokens, ctx_len);
  return s;
}

}  // namespace rwkv
