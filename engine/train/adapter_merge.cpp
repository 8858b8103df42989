#include "train/adapter_merge.h"

#include <cmath>
#include <cstdio>

#include "core/backend.h"
#include "core/errors.h"
#include "core/model_shapes.h"
#include "core/model_version.h"
#include "cpu/pissa.h"
#include "train/adapter_files.h"

namespace rwkv {

MergeResult merge_adapter(const StateDict& base_in, const std::string& adapter_path, const MergeRequest& req) {
  const std::string& type = req.type;
  const std::string& init_path = req.init_path;
  double alpha = req.lora_alpha;
  int rslora = req.use_rslora;
  if (type != "lora" && type != "pissa" && type != "miss")
    throw EngineError("E_FLAG_VALUE", "merge type must be lora, pissa or miss", "");
  if (type == "pissa" && init_path.empty())
    throw EngineError("E_FLAG_VALUE", "a PiSSA merge needs the run's init_pissa.pth",
                      "the PiSSA run wrote it into its proj_dir beside rwkv-N.pth");
  StateDict base = base_in;
  const AdapterFile adapter = load_adapter(adapter_path);
  // the base's own generation (x070 or x060): a merge needs no --my_testing
  std::vector<TensorInfo> header;
  for (const auto& [name, t] : base) header.push_back({name, t.dtype, t.shape});
  const std::string version = detect_model_version(header);
  const ModelConfig cfg = model_config_from_checkpoint(version == "x060" ? "x060" : "x070", base);
  PeftConfig peft;
  peft.method = type == "miss" ? PeftMethod::Miss : PeftMethod::Lora;
  peft.target_modules.clear();
  peft.r = 0;
  std::vector<std::string> prefixes;
  for (const auto& [name, t] : adapter.tensors) {
    const bool is_lora = name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_A") == 0;
    const bool is_miss = name.size() > 6 && name.compare(name.size() - 6, 6, ".disha") == 0;
    if (is_lora || is_miss) {
      if ((is_lora && peft.method != PeftMethod::Lora) || (is_miss && peft.method != PeftMethod::Miss))
        throw EngineError("E_ADAPTER", adapter_path + " holds " + (is_lora ? "LoRA/PiSSA" : "MiSS") + " tensors",
                          std::string("pass --type ") + (is_lora ? "lora (or pissa with --lora_init)" : "miss"));
      if (t.shape.size() != 2) throw EngineError("E_ADAPTER", name + " is not a matrix", "");
      const int r = int(t.shape.at(0));
      if (peft.r && peft.r != r) throw EngineError("E_ADAPTER", "adapter tensors disagree on r", "");
      peft.r = r;
      const std::string module = name.substr(0, name.rfind('.'));
      prefixes.push_back(module);
      const std::string leaf = module.substr(module.rfind('.') + 1);
      bool seen = false;
      for (const auto& m : peft.target_modules) seen |= m == leaf;
      if (!seen) peft.target_modules.push_back(leaf);
    } else if (name.find(".lora_B") == std::string::npos) {
      peft.train_parts.push_back(name);  // a base tensor the adapter run trained (ln_*, time_*)
    }
  }
  if (prefixes.empty())
    throw EngineError("E_ADAPTER", adapter_path + " has no lora_A or MiSS block tensors",
                      "give the adapter a --merge 0 run saved (rwkv-N.pth in its proj_dir, or proj_dir-adapter)");
  // lora_alpha / use_rslora: the flag, else adapter_config.json, else the defaults
  const Json* cfg_alpha = adapter.config.kind() == Json::Kind::Object ? adapter.config.find("lora_alpha") : nullptr;
  const Json* cfg_rslora = adapter.config.kind() == Json::Kind::Object ? adapter.config.find("use_rslora") : nullptr;
  const Json* cfg_init = adapter.config.kind() == Json::Kind::Object ? adapter.config.find("init_lora_weights") : nullptr;
  if (type == "lora" && cfg_init && cfg_init->kind() == Json::Kind::String && cfg_init->as_string().rfind("pissa", 0) == 0)
    throw EngineError("E_ADAPTER", adapter_path + " was trained with PiSSA (init_lora_weights " + cfg_init->as_string() + ")",
                      "merge it with --type pissa --lora_init PROJ_DIR/init_pissa.pth");
  if (alpha <= 0 && cfg_alpha && cfg_alpha->kind() == Json::Kind::Number) alpha = cfg_alpha->as_number();
  if (rslora < 0) rslora = cfg_rslora && cfg_rslora->kind() == Json::Kind::Bool && cfg_rslora->as_bool();
  peft.use_rslora = rslora == 1;
  if (type == "pissa") {
    // older PiSSA: no scaling; a peft-style PiSSA adapter: its LoRA scaling on both products
    const float s = alpha > 0 ? float(rslora == 1 ? alpha / std::sqrt(double(peft.r)) : alpha / peft.r) : 1.0f;
    if (FILE* f = std::fopen(init_path.c_str(), "rb")) std::fclose(f);
    else throw EngineError("E_PISSA_INIT", "PiSSA init " + init_path + " cannot be read",
                           "give the init_pissa.pth the PiSSA run wrote into its proj_dir");
    const StateDict init = load_pth(init_path);
    check_pissa_init(init, base, prefixes, peft.r, init_path);
    subtract_pissa_init(base, init, prefixes, s);
    peft.use_rslora = false;
    peft.lora_alpha = s * float(peft.r);
  } else {
    peft.lora_alpha = float(alpha > 0 ? alpha : 2.0 * peft.r);
  }
  BackendOptions bo;
  bo.quant = req.quant;  // the backend holds dequant(quant(W)) and adds the adapter to it
  auto backend = make_cpu_backend(cfg, peft, base, bo);
  backend->import_trainable(adapter.tensors);
  MergeResult res;
  res.merged = backend->export_weights(ExportKind::Merged);
  Json& j = res.summary;
  j = Json::object();
  j.set("type", type);
  j.set("r", peft.r);
  j.set("quant", quant_type_name(req.quant));
  if (type != "miss") j.set("scaling", double(peft.lora_scaling()));
  if (type == "lora") j.set("lora_alpha", double(peft.lora_alpha));
  j.set("adapter_names", adapter.hf_names ? "peft" : "rwkv-peft");
  j.set("adapted_linears", int64_t(prefixes.size()));
  j.set("replaced_tensors", int64_t(peft.train_parts.size()));
  j.set("tensors", int64_t(res.merged.size()));
  return res;
}

}  // namespace rwkv
