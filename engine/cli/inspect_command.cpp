// `rwkv-train inspect FILE [--ctx_len N]`: what a checkpoint or dataset holds, as one JSON
// object on stdout. Checkpoints (.pth) are read from the pickle alone (no tensor data), so a
// multi-GB model is inspected in milliseconds. Datasets: a binidx prefix (or its .bin/.idx) or
// a .jsonl file; with --ctx_len, also my_exit_tokens and magic_prime as make_data.py prints.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/jsonl_documents.h"
#include "core/binidx.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/pth.h"
#include "core/tokenizer.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train inspect FILE [--ctx_len N]\n"
    "  FILE: a .pth checkpoint, a binidx prefix (or its .bin/.idx), or a .jsonl dataset.\n"
    "  Prints JSON: tensors, model version and sizes for checkpoints; tokens and documents for\n"
    "  datasets (with --ctx_len: my_exit_tokens and magic_prime).\n";

bool exists(const std::string& p) { struct stat st; return ::stat(p.c_str(), &st) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Json shape_json(const std::vector<int64_t>& shape) {
  Json a = Json::array();
  for (int64_t d : shape) a.push(Json(d));
  return a;
}

// The RWKV generation from tensor names: x070 has w0/a0/k_k, x060 time_maa_*, x052 time_faaaa
// with ln_x but no time_maa_x (x040 has time_first and no ln_x).
std::string detect_version(const std::vector<TensorInfo>& tensors) {
  auto has = [&](const char* part) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const TensorInfo& t) { return t.name.find(part) != std::string::npos; });
  };
  if (has(".att.w0") || has(".att.k_k") || has(".att.a0")) return "x070";
  if (has(".att.time_maa_x") || has(".att.time_maa_w")) return "x060";
  if (has(".att.time_faaaa") || (has(".att.time_first") && has(".att.ln_x"))) return "x052";
  if (has(".att.time_first")) return "x040";
  return "unknown";
}

// Adapter files hold only the trained parts: LoRA/PiSSA A/B matrices, MiSS blocks, states.
std::string detect_adapter(const std::vector<TensorInfo>& tensors, bool has_embedding) {
  auto has = [&](const char* part) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const TensorInfo& t) { return t.name.find(part) != std::string::npos; });
  };
  std::string method = has("lora_A") || has("lora_B") || has("lora.") ? "lora"
                     : has("miss") || has("bone") ? "miss"
                     : has("time_state") ? "state" : "";
  if (has_embedding) return method.empty() ? "" : method;  // a full model that also carries adapter weights
  return method.empty() ? "partial" : method;
}

int inspect_checkpoint(const std::string& path) {
  const std::vector<TensorInfo> tensors = read_pth_header(path);
  Json out = Json::object();
  out.set("kind", "checkpoint");
  out.set("path", path);
  out.set("format", "pth");
  const TensorInfo* emb = nullptr;
  const TensorInfo* head = nullptr;
  int64_t n_layer = 0, head_size = 0, params = 0;
  std::map<std::string, int64_t> dtype_params;
  Json list = Json::array();
  for (const TensorInfo& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    params += numel;
    dtype_params[dtype_name(t.dtype)] += numel;
    if (t.name == "emb.weight") emb = &t;
    if (t.name == "head.weight") head = &t;
    if (t.name.compare(0, 7, "blocks.") == 0) {
      const long layer = std::strtol(t.name.c_str() + 7, nullptr, 10);
      n_layer = std::max<int64_t>(n_layer, layer + 1);
    }
    // Per-head tensors are [n_head, head_size]: x070 att.r_k, x060/x052 att.time_faaaa / time_first.
    if (head_size == 0 && t.shape.size() == 2 &&
        (ends_with(t.name, ".att.r_k") || ends_with(t.name, ".att.time_faaaa") || ends_with(t.name, ".att.time_first")))
      head_size = t.shape[1];
    Json item = Json::object();
    item.set("name", t.name);
    item.set("shape", shape_json(t.shape));
    item.set("dtype", dtype_name(t.dtype));
    list.push(std::move(item));
  }
  Json model = Json::object();
  model.set("version", detect_version(tensors));
  model.set("n_layer", n_layer);
  model.set("n_embd", emb && emb->shape.size() == 2 ? Json(emb->shape[1]) : Json());
  model.set("vocab_size", emb && emb->shape.size() == 2 ? Json(emb->shape[0])
                          : head && head->shape.size() == 2 ? Json(head->shape[0]) : Json());
  model.set("head_size", head_size ? Json(head_size) : Json());
  out.set("model", model);
  const std::string adapter = detect_adapter(tensors, emb != nullptr);
  out.set("weights", emb ? "full" : "adapter");
  out.set("adapter", adapter.empty() ? Json() : Json(adapter));
  std::string dominant;
  int64_t most = -1;
  for (const auto& kv : dtype_params) if (kv.second > most) { most = kv.second; dominant = kv.first; }
  out.set("dtype", dominant.empty() ? Json() : Json(dominant));
  out.set("params", params);
  out.set("tensor_count", static_cast<uint64_t>(tensors.size()));
  out.set("tensors", list);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

void add_pretraining_numbers(Json& out, uint64_t tokens, uint64_t ctx_len) {
  if (!ctx_len) return;
  out.set("ctx_len", ctx_len);
  out.set("my_exit_tokens", tokens);
  const uint64_t prime = magic_prime_for(tokens, ctx_len);
  out.set("magic_prime", prime ? Json(prime) : Json());
}

const char* megatron_dtype_name(int code) {
  switch (code) {
    case 1: return "uint8"; case 2: return "int8"; case 3: return "int16"; case 4: return "int32";
    case 5: return "int64"; case 8: return "uint16"; default: return "unknown";
  }
}

int inspect_binidx(const std::string& prefix, uint64_t ctx_len) {
  BinIdxDataset data(prefix);
  Json out = Json::object();
  out.set("kind", "dataset");
  out.set("path", prefix);
  out.set("format", "binidx");
  out.set("tokens", data.num_tokens());
  out.set("documents", data.num_documents());
  out.set("dtype", megatron_dtype_name(data.dtype_code()));
  add_pretraining_numbers(out, data.num_tokens(), ctx_len);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int inspect_jsonl(const std::string& path, uint64_t ctx_len) {
  const std::vector<std::string> texts = read_jsonl_texts(path);
  WorldTokenizer tokenizer(default_vocab_path());
  uint64_t tokens = 0;
  for (const std::string& t : texts) tokens += tokenizer.encode(t).size() + 1;  // + end of document
  Json out = Json::object();
  out.set("kind", "dataset");
  out.set("path", path);
  out.set("format", "jsonl");
  out.set("tokens", tokens);  // as make-data would write it, once
  out.set("documents", static_cast<uint64_t>(texts.size()));
  out.set("dtype", "uint16");
  add_pretraining_numbers(out, tokens, ctx_len);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int run_inspect(const std::vector<std::string>& args) {
  std::string file;
  uint64_t ctx_len = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    if (a == "--ctx_len" || a.compare(0, 10, "--ctx_len=") == 0) {
      std::string v = a == "--ctx_len" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(10);
      char* end = nullptr;
      unsigned long long n = v.empty() || v[0] == '-' ? 0 : std::strtoull(v.c_str(), &end, 10);
      if (!n || *end) throw EngineError("E_FLAG_VALUE", "inspect: --ctx_len expects a positive integer, got \"" + v + "\"", kUsage);
      ctx_len = n;
    } else if (a.compare(0, 2, "--") == 0) {
      throw EngineError("E_FLAG_UNKNOWN", "inspect: unknown flag " + a, kUsage);
    } else if (file.empty()) {
      file = a;
    } else {
      throw EngineError("E_FLAG_VALUE", "inspect: one FILE at a time, got \"" + file + "\" and \"" + a + "\"", kUsage);
    }
  }
  if (file.empty()) throw EngineError("E_FLAG_VALUE", "inspect: which file?", kUsage);
  if (ends_with(file, ".jsonl")) return inspect_jsonl(file, ctx_len);
  if (exists(file + ".idx") || exists(file + ".bin")) return inspect_binidx(file, ctx_len);
  if ((ends_with(file, ".bin") || ends_with(file, ".idx")) && exists(file.substr(0, file.size() - 4) + ".idx"))
    return inspect_binidx(file.substr(0, file.size() - 4), ctx_len);
  if (!exists(file))
    throw EngineError("E_INSPECT_NOT_FOUND", file + ": no such file or binidx prefix", "check the path");
  return inspect_checkpoint(file);
}

const RegisterCommand kRegister("inspect", "show a checkpoint's tensors/model or a dataset's tokens (JSON)", run_inspect);

}  // namespace
}  // namespace rwkv::cli
