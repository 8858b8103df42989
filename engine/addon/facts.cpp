// See facts.h. The checkpoint analysis trusts tensor shapes over file names (FACTS.md): n_layer
// from the highest blocks.N, n_embd and vocab from emb.weight (or head.weight), the version from
// tensors only one generation has.
#include "addon/facts.h"

#include <algorithm>
#include <fstream>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/gpus.h"
#include "core/planner.h"
#include "core/pth.h"
#include "core/tokenizer.h"

namespace rwkv::facts {
namespace {

Json shape_json(const std::vector<int64_t>& shape) {
  Json a = Json::array();
  for (int64_t d : shape) a.push(Json(d));
  return a;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

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

const char* dataset_dtype_name(int code) {
  switch (code) {  // Megatron's dtype codes
    case 1: return "uint8";
    case 2: return "int8";
    case 3: return "int16";
    case 4: return "int32";
    case 5: return "int64";
    case 6: return "float64";
    case 7: return "float32";
    case 8: return "uint16";
    default: return "unknown";
  }
}

}  // namespace

Json inspect_checkpoint(const std::string& path) {
  const std::vector<TensorInfo> tensors = read_pth_header(path);
  Json list = Json::array();
  const TensorInfo* emb = nullptr;
  const TensorInfo* head = nullptr;
  const TensorInfo* ln1 = nullptr;
  const TensorInfo* head_size_source = nullptr;
  int64_t max_block = -1;
  bool x070 = false, x060 = false, x052 = false, adapter_names = false;
  for (const TensorInfo& t : tensors) {
    Json o = Json::object();
    o.set("name", Json(t.name));
    o.set("shape", shape_json(t.shape));
    o.set("dtype", Json(dtype_name(t.dtype)));
    list.push(o);
    if (t.name == "emb.weight") emb = &t;
    if (t.name == "head.weight") head = &t;
    max_block = std::max(max_block, block_index(t.name));
    if (block_index(t.name) == 0 && ends_with(t.name, ".ln1.weight")) ln1 = &t;
    // x070 has r_k [H, N], w0, a0; x060 has time_maa_* and time_faaaa [H, N]; x052 time_mix_*.
    if (ends_with(t.name, ".att.r_k")) x070 = true, head_size_source = &t;
    if (ends_with(t.name, ".att.w0") || ends_with(t.name, ".att.a0") || ends_with(t.name, ".att.x_r")) x070 = true;
    if (t.name.find(".att.time_maa_") != std::string::npos) x060 = true;
    if (t.name.find(".att.time_mix_") != std::string::npos) x052 = true;
    if (ends_with(t.name, ".att.time_faaaa") && !head_size_source) head_size_source = &t;
    if (t.name.find("lora") != std::string::npos || t.name.find("miss") != std::string::npos ||
        t.name.find("bone") != std::string::npos || t.name.find("disha") != std::string::npos ||
        ends_with(t.name, ".att.time_state"))
      adapter_names = true;
  }
  const char* version = x070 ? "x070" : x060 ? "x060" : x052 ? "x052" : "unknown";
  int64_t n_embd = 0, vocab = 0;
  if (emb && emb->shape.size() == 2) vocab = emb->shape[0], n_embd = emb->shape[1];
  else if (head && head->shape.size() == 2) vocab = head->shape[0], n_embd = head->shape[1];
  if (!n_embd && ln1 && ln1->shape.size() == 1) n_embd = ln1->shape[0];
  int64_t head_size = 0;
  if (head_size_source && head_size_source->shape.size() >= 2) head_size = head_size_source->shape.back();
  // An adapter file holds PEFT weights without the base model's embedding and head.
  const bool is_adapter = !tensors.empty() && !emb && !head && (adapter_names || max_block >= 0);

  Json out = Json::object();
  out.set("tensors", list);
  out.set("version", Json(version));
  out.set("nLayer", Json(max_block + 1));
  out.set("nEmbd", Json(n_embd));
  out.set("vocabSize", Json(vocab));
  out.set("headSize", Json(head_size));
  out.set("isAdapter", Json(is_adapter));
  return out;
}

Json inspect_dataset(const std::string& path, int64_t ctx_len, const std::string& vocab_path) {
  uint64_t tokens = 0, documents = 0;
  std::string dtype;
  if (ends_with(path, ".jsonl")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw EngineError("E_DATA_NOT_FOUND", "cannot open " + path, "check the path (relative to where the script runs)");
    const WorldTokenizer tokenizer(vocab_path);
    std::string line;
    uint64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Json doc;
      try {
        doc = Json::parse(line);
      } catch (const EngineError& e) {
        throw EngineError("E_DATA_JSONL", path + ":" + std::to_string(line_no) + ": not JSON (" + e.what() + ")",
                          "each line must be one JSON object such as {\"text\": \"...\"}");
      }
      const Json* text = doc.find("text");
      if (!text || text->kind() != Json::Kind::String)
        throw EngineError("E_DATA_JSONL", path + ":" + std::to_string(line_no) + ": no \"text\" string",
                          "each line must be one JSON object such as {\"text\": \"...\"}");
      tokens += tokenizer.encode(text->as_string()).size() + 1;  // + end-of-text (token 0)
      ++documents;
    }
    if (!documents) throw EngineError("E_DATA_EMPTY", path + " holds no documents", "");
    dtype = "uint16";  // the tokens as make-data would write them (World ids < 65536), like `inspect`
  } else {
    const BinIdxDataset data(path);
    tokens = data.num_tokens();
    documents = data.num_documents();
    dtype = dataset_dtype_name(data.dtype_code());
  }
  Json out = Json::object();
  out.set("tokens", Json(tokens));
  out.set("documents", Json(documents));
  out.set("dtype", Json(dtype));
  if (ctx_len > 0) {
    out.set("magicPrime", Json(magic_prime_for(tokens, static_cast<uint64_t>(ctx_len))));
    out.set("myExitTokens", Json(tokens));
  }
  return out;
}

Json list_gpus() {
  const GpuList list = rwkv::list_gpus();
  Json gpus = Json::array();
  for (const GpuInfo& g : list.gpus) {
    Json o = Json::object();
    o.set("index", Json(g.index));
    o.set("name", Json(g.name));
    o.set("computeCapability",
          Json(g.cc_major ? std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor) : std::string()));
    o.set("totalBytes", Json(g.total_bytes));
    o.set("freeBytes", Json(g.free_bytes));
    o.set("driverVersion", Json(list.driver_version));
    gpus.push(o);
  }
  Json out = Json::object();
  out.set("gpus", gpus);
  if (!list.reason.empty()) out.set("reason", Json(list.reason));
  return out;
}

Json plan_memory(const std::map<std::string, Json>& flags, const std::string& stack) {
  if (stack != "reference" && stack != "engine")
    throw EngineError("E_PLAN_FLAGS", "unknown planner stack \"" + stack + "\"", "use \"reference\" or \"engine\"");
  const PlanInput in = plan_input_from_flags(flags);
  const MemoryPlan plan = rwkv::plan_memory(in, stack == "engine" ? PlanStack::Engine : PlanStack::Reference);
  Json by = Json::object();
  for (const auto& c : plan.categories) by.set(c.first, Json(c.second));
  Json out = Json::object();
  out.set("totalBytes", Json(plan.total_bytes));
  out.set("byCategory", by);
  out.set("stack", Json(plan_stack_name(plan.stack)));
  out.set("totalParams", Json(plan.params.total));
  out.set("trainableParams", Json(plan.params.trainable));
  return out;
}

}  // namespace rwkv::facts
