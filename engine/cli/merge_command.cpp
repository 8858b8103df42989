// `rwkv-train merge`: the command line of train/adapter_merge.h (which says what is computed).
// It takes RWKV-PEFT's merge/merge.py flags (--base_model --lora_init --lora_checkpoint --output
// --type --lora_alpha --quant --device) beside the shorter --base --adapter --out, and writes
// the result atomically in bf16 (or fp32), loadable by RWKV Runner / Ai00 like any checkpoint.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/pth.h"
#include "core/quant.h"
#include "train/adapter_merge.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train merge --base BASE.pth --adapter ADAPTER --out MERGED.pth\n"
    "                        [--type lora|pissa|miss] [--lora_init INIT.pth] [--lora_alpha A]\n"
    "                        [--dtype bf16|fp32]\n"
    "  RWKV-PEFT's merge.py names work too: --base_model, --lora_checkpoint, --output,\n"
    "  --lora_init (also --pissa_init), --quant none|int8|nf4, --device cpu|cuda.\n"
    "  ADAPTER: rwkv-N.pth of a --merge 0 run (either naming), a .safetensors, or the\n"
    "  proj_dir-adapter folder the newest RWKV-PEFT saves.\n"
    "  lora:  W += (lora_alpha / r) * lora_B @ lora_A; lora_alpha is what the adapter was trained\n"
    "         with (read from adapter_config.json when there is one, else default 2 * r).\n"
    "  pissa: W = W - init_B @ init_A + lora_B @ lora_A with --lora_init proj_dir/init_pissa.pth\n"
    "         (a --lora_alpha scales both products, for peft-style PiSSA).\n"
    "  miss:  adds the shared block (also --type bone / disha).\n"
    "  --quant int8|nf4: the base linears are quantised and dequantised first (after PiSSA's\n"
    "         subtraction), as merge.py does for a run trained with --quant.\n";

double positive_number(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(x > 0)) throw EngineError("E_FLAG_VALUE", "merge: " + flag + " must be a positive number", kUsage);
  return x;
}

int run_merge(const std::vector<std::string>& args) {
  std::string base_path, adapter_path, out_path, init_path, type = "lora", dtype = "bf16";
  double alpha = -1;
  int rslora = -1;  // -1: from adapter_config.json, else false
  QuantType quant = QuantType::None;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) { v = a.substr(eq + 1); a = a.substr(0, eq); }
    else if (i + 1 < args.size()) v = args[++i];
    else throw EngineError("E_FLAG_VALUE", "merge: " + a + " needs a value", kUsage);
    if (a == "--base" || a == "--base_model") base_path = v;
    else if (a == "--adapter" || a == "--lora_checkpoint") adapter_path = v;
    else if (a == "--out" || a == "--output") out_path = v;
    else if (a == "--lora_init" || a == "--pissa_init") init_path = v == "none" ? "" : v;  // merge.py's default is "none"
    else if (a == "--type") type = v;
    else if (a == "--dtype") dtype = v;
    else if (a == "--lora_alpha") alpha = positive_number(a, v);
    else if (a == "--use_rslora") {
      if (v != "0" && v != "1") throw EngineError("E_FLAG_VALUE", "merge: --use_rslora takes 0 or 1", kUsage);
      rslora = v == "1";
    } else if (a == "--quant") {
      quant = parse_quant_type(v);  // int8 | nf4 | none; fp4/4bit: E_FLAG_UNSUPPORTED
    } else if (a == "--device") {
      if (v != "cpu" && v != "cuda" && v.rfind("cuda:", 0) != 0)
        throw EngineError("E_FLAG_VALUE", "merge: --device must be cpu or cuda", kUsage);
      // merging runs on the CPU here; the result does not depend on the device
    } else {
      throw EngineError("E_FLAG_UNKNOWN", "merge: unknown flag " + a, kUsage);
    }
  }
  if (base_path.empty() || adapter_path.empty() || out_path.empty())
    throw EngineError("E_FLAG_VALUE", "merge: --base (--base_model), --adapter (--lora_checkpoint) and --out (--output) are required",
                      kUsage);
  if (type == "bone" || type == "disha") type = "miss";
  if (type != "lora" && type != "pissa" && type != "miss")
    throw EngineError("E_FLAG_VALUE", "merge: --type must be lora, pissa or miss (bone/disha)", kUsage);
  if (type == "pissa" && init_path.empty())
    throw EngineError("E_FLAG_VALUE", "merge: --type pissa needs --lora_init (the run's init_pissa.pth)",
                      "the PiSSA run wrote it into its proj_dir beside rwkv-N.pth");
  if (type != "pissa" && !init_path.empty())
    throw EngineError("E_FLAG_VALUE", "merge: --lora_init is only used with --type pissa", kUsage);
  if (dtype != "bf16" && dtype != "fp32") throw EngineError("E_FLAG_VALUE", "merge: --dtype must be bf16 or fp32", kUsage);

  MergeRequest req;
  req.type = type;
  req.init_path = init_path;
  req.lora_alpha = alpha;
  req.use_rslora = rslora;
  req.quant = quant;
  MergeResult res = merge_adapter(load_pth(base_path), adapter_path, req);
  StateDict& merged = res.merged;
  if (dtype == "bf16")
    for (auto& [n, t] : merged) t = HostTensor::from_f32(t.to_f32(), t.shape, DType::BF16);
  save_pth(out_path, merged);
  Json j = res.summary;
  j.set("path", out_path);
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

const RegisterCommand kMerge("merge", "fold a LoRA/PiSSA/MiSS adapter (--merge 0 output) into its base model", run_merge);

}  // namespace
}  // namespace rwkv::cli
