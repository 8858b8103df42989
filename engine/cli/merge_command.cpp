// `rwkv-train merge --base BASE.pth --adapter ADAPTER.pth --out MERGED.pth [--type lora|miss]
// [--lora_alpha A] [--dtype bf16|fp32]`: folds an adapter that `rwkv-train --merge 0` (or
// RWKV-PEFT with --merge 0) saved into its base model, as RWKV-PEFT's merge scripts do:
// LoRA W += (alpha / r) * B A; MiSS/DiSHA W[o, i] += disha[i % r, o]. Other tensors in the
// adapter file (train_parts such as ln_*) replace the base's. The result is written atomically
// and loads in RWKV Runner / Ai00 like any full checkpoint.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/backend.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/pth.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train merge --base BASE.pth --adapter ADAPTER.pth --out MERGED.pth\n"
    "                        [--type lora|miss] [--lora_alpha A] [--dtype bf16|fp32]\n"
    "  LoRA: W += (lora_alpha / r) * lora_B @ lora_A (r is read from the adapter; lora_alpha is\n"
    "  the value the adapter was trained with, default 2 * r). MiSS/DiSHA: adds the shared block.\n";

int run_merge(const std::vector<std::string>& args) {
  std::string base_path, adapter_path, out_path, type = "lora", dtype = "bf16";
  double alpha = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) { v = a.substr(eq + 1); a = a.substr(0, eq); }
    else if (i + 1 < args.size()) v = args[++i];
    else throw EngineError("E_FLAG_VALUE", "merge: " + a + " needs a value", kUsage);
    if (a == "--base") base_path = v;
    else if (a == "--adapter") adapter_path = v;
    else if (a == "--out") out_path = v;
    else if (a == "--type") type = v;
    else if (a == "--dtype") dtype = v;
    else if (a == "--lora_alpha") {
      char* end = nullptr;
      alpha = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || alpha <= 0) throw EngineError("E_FLAG_VALUE", "merge: --lora_alpha must be a positive number", kUsage);
    } else throw EngineError("E_FLAG_UNKNOWN", "merge: unknown flag " + a, kUsage);
  }
  if (base_path.empty() || adapter_path.empty() || out_path.empty())
    throw EngineError("E_FLAG_VALUE", "merge: --base, --adapter and --out are required", kUsage);
  if (type != "lora" && type != "miss" && type != "bone" && type != "disha")
    throw EngineError("E_FLAG_VALUE", "merge: --type must be lora or miss", kUsage);
  if (dtype != "bf16" && dtype != "fp32") throw EngineError("E_FLAG_VALUE", "merge: --dtype must be bf16 or fp32", kUsage);
  StateDict base = load_pth(base_path);
  const StateDict adapter = load_pth(adapter_path);
  const ModelConfig cfg = model_config_from_weights(base);
  PeftConfig peft;
  peft.method = type == "lora" ? PeftMethod::Lora : PeftMethod::Miss;
  peft.target_modules.clear();
  peft.r = 0;
  int adapters = 0;
  for (const auto& [name, t] : adapter) {
    const bool is_lora = name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_A") == 0;
    const bool is_miss = name.size() > 6 && name.compare(name.size() - 6, 6, ".disha") == 0;
    if (is_lora || is_miss) {
      if ((is_lora && peft.method != PeftMethod::Lora) || (is_miss && peft.method != PeftMethod::Miss))
        throw EngineError("E_ADAPTER", adapter_path + " holds " + (is_lora ? "LoRA" : "MiSS") + " tensors",
                          std::string("pass --type ") + (is_lora ? "lora" : "miss"));
      const int r = int(t.shape.at(0));
      if (peft.r && peft.r != r) throw EngineError("E_ADAPTER", "adapter tensors disagree on r", "");
      peft.r = r;
      const std::string module = name.substr(0, name.rfind('.'));
      const std::string leaf = module.substr(module.rfind('.') + 1);
      bool seen = false;
      for (const auto& m : peft.target_modules) seen |= m == leaf;
      if (!seen) peft.target_modules.push_back(leaf);
      ++adapters;
    } else if (name.find(".lora_B") == std::string::npos) {
      peft.train_parts.push_back(name);  // a base tensor the adapter run trained (ln_*, time_*)
    }
  }
  if (adapters == 0)
    throw EngineError("E_ADAPTER", adapter_path + " has no lora_A or disha tensors",
                      "give the file a --merge 0 run saved (rwkv-N.pth in its proj_dir)");
  peft.lora_alpha = float(alpha > 0 ? alpha : 2.0 * peft.r);
  auto backend = make_cpu_backend(cfg, peft, base, BackendOptions{});
  backend->import_trainable(adapter);
  StateDict merged = backend->export_weights(ExportKind::Merged);
  if (dtype == "bf16")
    for (auto& [n, t] : merged) t = HostTensor::from_f32(t.to_f32(), t.shape, DType::BF16);
  save_pth(out_path, merged);
  Json j = Json::object();
  j.set("path", out_path);
  j.set("type", type == "lora" ? "lora" : "miss");
  j.set("r", peft.r);
  if (type == "lora") j.set("lora_alpha", double(peft.lora_alpha));
  j.set("adapted_linears", adapters);
  j.set("replaced_tensors", int64_t(peft.train_parts.size()));
  j.set("tensors", int64_t(merged.size()));
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

const RegisterCommand kMerge("merge", "fold a LoRA/MiSS adapter (--merge 0 output) into its base model", run_merge);

}  // namespace
}  // namespace rwkv::cli
