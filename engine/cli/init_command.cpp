// `rwkv-train init OUT.pth --n_layer L --n_embd D [--vocab_size V] [--head_size 64] [--seed S]
// [--dtype bf16|fp32] [--my_testing x070|x060]`: a random RWKV-7 (x070) model initialised as
// RWKV-LM's train_temp does, or an RWKV-6 (x060) one as RWKV-PEFT's rwkv6 does
// (train/init_weights.h), written atomically; prints a JSON summary on stdout.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/model_shapes.h"
#include "core/pth.h"
#include "train/init_weights.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train init OUT.pth --n_layer L --n_embd D [--vocab_size 65536] [--head_size 64]\n"
    "                              [--seed 0] [--dtype bf16|fp32] [--my_testing x070|x060]\n"
    "  Writes a randomly initialised RWKV-7 (x070) model, initialised as RWKV-LM does, or with\n"
    "  --my_testing x060 an RWKV-6 model, initialised as RWKV-PEFT's rwkv6 does.\n";

int64_t parse_int(const std::string& flag, const std::string& v, int64_t min) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || x < min)
    throw EngineError("E_FLAG_VALUE", "init: " + flag + " expects an integer >= " + std::to_string(min) + ", got \"" + v + "\"", kUsage);
  return x;
}

int run_init(const std::vector<std::string>& args) {
  std::string out, dtype = "bf16", version = "x070";
  int64_t n_layer = 0, n_embd = 0, vocab = 65536, head = 64, seed = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    if (a.compare(0, 2, "--") != 0) {
      if (!out.empty()) throw EngineError("E_FLAG_VALUE", "init: more than one output path", kUsage);
      out = a;
      continue;
    }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) { v = a.substr(eq + 1); a = a.substr(0, eq); }
    else if (i + 1 < args.size()) v = args[++i];
    else throw EngineError("E_FLAG_VALUE", "init: " + a + " needs a value", kUsage);
    if (a == "--n_layer") n_layer = parse_int(a, v, 1);
    else if (a == "--n_embd") n_embd = parse_int(a, v, 1);
    else if (a == "--vocab_size") vocab = parse_int(a, v, 2);
    else if (a == "--head_size" || a == "--head_size_a") head = parse_int(a, v, 1);
    else if (a == "--seed") seed = parse_int(a, v, 0);
    else if (a == "--my_testing") {
      if (!model_version_trains(v)) throw EngineError("E_FLAG_VALUE", "init: --my_testing must be x070 or x060", kUsage);
      version = v;
    }
    else if (a == "--dtype") {
      if (v != "bf16" && v != "fp32") throw EngineError("E_FLAG_VALUE", "init: --dtype must be bf16 or fp32", kUsage);
      dtype = v;
    } else throw EngineError("E_FLAG_UNKNOWN", "init: unknown flag " + a, kUsage);
  }
  if (out.empty() || n_layer == 0 || n_embd == 0)
    throw EngineError("E_FLAG_VALUE", "init: OUT.pth, --n_layer and --n_embd are required", kUsage);
  const ModelConfig cfg = model_config_for_version(version, int(n_layer), int(n_embd), int(vocab), int(head));
  StateDict w = init_model_weights(cfg, uint64_t(seed));
  int64_t params = 0;
  for (auto& [n, t] : w) {
    params += t.numel();
    if (dtype == "bf16") t = HostTensor::from_f32(t.to_f32(), t.shape, DType::BF16);
  }
  save_pth(out, w);
  Json j = Json::object();
  j.set("path", out);
  j.set("version", cfg.version);
  j.set("n_layer", cfg.n_layer);
  j.set("n_embd", cfg.n_embd);
  j.set("vocab_size", cfg.vocab_size);
  j.set("head_size", cfg.head_size);
  j.set("params", params);
  j.set("dtype", dtype == "bf16" ? "bfloat16" : "float32");
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

const RegisterCommand kInit("init", "write a randomly initialised RWKV-7 (or, --my_testing x060, RWKV-6) model", run_init);

}  // namespace
}  // namespace rwkv::cli
