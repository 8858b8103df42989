// `rwkv-train inspect FILE [--ctx_len N] [--my_testing V --n_layer N --n_embd C --vocab_size V]`: what a checkpoint or dataset holds, as one JSON
// object on stdout. Checkpoints (.pth) are read from the pickle alone (no tensor data), so a
// multi-GB model is inspected in milliseconds. Datasets: a binidx prefix (or its .bin/.idx) or
// a .jsonl file; with --ctx_len, also my_exit_tokens and magic_prime as make_data.py prints.
// With --my_testing the checkpoint is checked against the model those flags describe
// (core/checkpoint_check.h): a mismatch is the error train would give, before any training.
// With --quant int8|nf4 the checkpoint's weights are read and every tensor --quant would store
// quantised is quantised as training does: its error against the weight it replaces, per tensor
// and the worst, so a user sees what the quantised base costs before training on it.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/checkpoint_check.h"
#include "core/inspect.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/pth.h"
#include "core/quant.h"
#include "core/tokenizer.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train inspect FILE [--ctx_len N] [--my_testing V [--n_layer N] [--n_embd C] [--vocab_size V]]\n"
    "                                [--quant int8|nf4]\n"
    "  FILE: a .pth checkpoint, a binidx prefix (or its .bin/.idx), or a .jsonl dataset.\n"
    "  Prints JSON: tensors, model version and sizes for checkpoints; tokens and documents for\n"
    "  datasets (with --ctx_len: my_exit_tokens and magic_prime). With --my_testing (x070 or\n"
    "  x060), a checkpoint is checked against that version and the sizes given. With --quant, the\n"
    "  weights --quant would store quantised are quantised as training does and each one's error\n"
    "  against the original is printed (rel_rms = ||w - deq(w)|| / ||w||, max_abs, rms).\n";

Json shape_json(const std::vector<int64_t>& shape) {
  Json a = Json::array();
  for (int64_t d : shape) a.push(Json(d));
  return a;
}

Json known_or_null(int64_t v) { return v ? Json(v) : Json(); }

Json quant_report(const std::string& path, QuantType type);

int inspect_checkpoint(const std::string& path, const ModelFlags* expect, QuantType quant) {
  const CheckpointSummary s = summarize_checkpoint(path);
  // Throws with the flag it is about; the JSON below is printed only for a checkpoint that fits.
  const ModelConfig checked = expect ? check_checkpoint_model(s.tensors, *expect) : ModelConfig{};
  Json out = Json::object();
  out.set("kind", "checkpoint");
  out.set("path", path);
  out.set("format", s.format);
  Json model = Json::object();
  model.set("version", s.version);
  model.set("n_layer", s.n_layer);
  model.set("n_embd", known_or_null(s.n_embd));
  model.set("vocab_size", known_or_null(s.vocab_size));
  model.set("head_size", known_or_null(s.head_size));
  if (expect) model.set("dim_ffn", Json(int64_t(checked.dim_ffn)));
  out.set("model", model);
  if (expect) out.set("check", Json("ok"));
  out.set("weights", s.is_adapter ? "adapter" : "full");
  out.set("adapter", s.adapter_method.empty() ? Json() : Json(s.adapter_method));
  out.set("dtype", s.dominant_dtype.empty() ? Json() : Json(s.dominant_dtype));
  out.set("params", s.params);
  out.set("tensor_count", static_cast<uint64_t>(s.tensors.size()));
  Json list = Json::array();
  for (const TensorInfo& t : s.tensors) {
    Json item = Json::object();
    item.set("name", t.name);
    item.set("shape", shape_json(t.shape));
    item.set("dtype", dtype_name(t.dtype));
    list.push(std::move(item));
  }
  out.set("tensors", list);
  if (quant != QuantType::None) out.set("quant", quant_report(path, quant));
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// --quant: every base tensor training would quantise (quantised_base_tensor), quantised as the
// backends do, and its error against the checkpoint's own values (bf16 ones, for a bf16 model).
Json quant_report(const std::string& path, QuantType type) {
  const StateDict weights = load_pth(path);
  Json tensors = Json::array();
  double worst = 0, sum = 0;
  std::string worst_name;
  int64_t count = 0;
  for (const auto& [name, t] : weights) {
    if (!quantised_base_tensor(name)) continue;
    const std::vector<float> w = t.to_f32();
    const QuantError e = quant_error(w.data(), quantize(type, w.data(), t.shape));
    Json item = Json::object();
    item.set("name", name);
    item.set("rel_rms", e.rel_rms);
    item.set("rms", e.rms);
    item.set("max_abs", e.max_abs);
    tensors.push(std::move(item));
    if (e.rel_rms >= worst) worst = e.rel_rms, worst_name = name;
    sum += e.rel_rms, ++count;
  }
  if (!count)
    throw EngineError("E_QUANT_NOTHING", path + " has no tensor that --quant quantises (the blocks' linear weights)",
                      "--quant applies to a full RWKV checkpoint, not an adapter or state file", "quant");
  Json out = Json::object();
  out.set("type", quant_type_name(type));
  out.set("tensor_count", count);
  out.set("mean_rel_rms", sum / double(count));
  out.set("worst_rel_rms", worst);
  out.set("worst_tensor", worst_name);
  out.set("tensors", tensors);
  return out;
}

int inspect_dataset(const std::string& path, uint64_t ctx_len) {
  const DatasetSummary s = summarize_dataset(path, ctx_len, default_vocab_path());
  Json out = Json::object();
  out.set("kind", "dataset");
  out.set("path", s.path);
  out.set("format", s.format);
  out.set("tokens", s.tokens);  // for jsonl: as make-data would write it, once
  out.set("documents", s.documents);
  out.set("dtype", s.dtype);
  if (ctx_len) {
    out.set("ctx_len", ctx_len);
    out.set("my_exit_tokens", s.tokens);
    out.set("magic_prime", s.magic_prime ? Json(s.magic_prime) : Json());
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int run_inspect(const std::vector<std::string>& args) {
  std::string file;
  uint64_t ctx_len = 0;
  ModelFlags expect;
  bool check = false;
  QuantType quant = QuantType::None;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    // the model flags, spelled as train takes them (--flag V or --flag=V)
    bool model_flag = false;
    for (const char* name : {"my_testing", "n_layer", "n_embd", "vocab_size"}) {
      const std::string key = std::string("--") + name;
      if (a != key && a.compare(0, key.size() + 1, key + "=") != 0) continue;
      const std::string v = a == key ? (i + 1 < args.size() ? args[++i] : "") : a.substr(key.size() + 1);
      if (key == "--my_testing") {
        expect.my_testing = v, check = true;
      } else {
        char* end = nullptr;
        const long long n = v.empty() ? 0 : std::strtoll(v.c_str(), &end, 10);
        if (n <= 0 || *end) throw EngineError("E_FLAG_VALUE", "inspect: " + key + " expects a positive integer, got \"" + v + "\"", kUsage, name);
        (key == "--n_layer" ? expect.n_layer : key == "--n_embd" ? expect.n_embd : expect.vocab_size) = n;
      }
      model_flag = true;
    }
    if (model_flag) continue;
    if (a == "--quant" || a.compare(0, 8, "--quant=") == 0) {
      const std::string v = a == "--quant" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(8);
      quant = parse_quant_type(v);  // fp4/4bit/fp8 and unknown names: its own error and hint
      if (quant == QuantType::None)
        throw EngineError("E_FLAG_VALUE", "inspect: --quant expects int8 or nf4, got \"" + v + "\"", kUsage, "quant");
    } else if (a == "--ctx_len" || a.compare(0, 10, "--ctx_len=") == 0) {
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
  if (looks_like_dataset(file)) {
    if (quant != QuantType::None)
      throw EngineError("E_FLAG_VALUE", "inspect: --quant is for a checkpoint, and " + file + " is a dataset", kUsage, "quant");
    return inspect_dataset(file, ctx_len);
  }
  struct stat st;
  if (::stat(file.c_str(), &st) != 0)
    throw EngineError("E_INSPECT_NOT_FOUND", file + ": no such file or binidx prefix", "check the path");
  if (!check && (expect.n_layer || expect.n_embd || expect.vocab_size))
    throw EngineError("E_FLAG_VALUE", "inspect: --n_layer/--n_embd/--vocab_size are checked with --my_testing", kUsage, "my_testing");
  return inspect_checkpoint(file, check ? &expect : nullptr, quant);
}

const RegisterCommand kRegister("inspect", "show a checkpoint's tensors/model or a dataset's tokens (JSON)", run_inspect);

}  // namespace
}  // namespace rwkv::cli
