#include "train/peft_options.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/flags.h"

namespace rwkv {
namespace {

// The block linears an adapter can wrap, by the names target_modules uses (the last part of the
// module's name, as peft matches it). x060 has two more than x070: att.gate and ffn.receptance
// (which "receptance" also matches).
std::string linears_text(bool x060) {
  return x060 ? "x060 linears: receptance, key, value, gate, output (receptance/key/value also match ffn.receptance/"
                "ffn.key/ffn.value)"
              : "x070 linears: receptance, key, value, output (key/value also match ffn.key/ffn.value)";
}

// Every linear of the block: what the older RWKV-PEFT wraps (make_linear_att/ffn on each of them)
// and peft's "all-linear".
std::vector<std::string> every_linear(bool x060) {
  if (x060) return {"receptance", "key", "value", "gate", "output"};
  return {"receptance", "key", "value", "output"};
}

[[noreturn]] void unsupported(const std::string& what, const std::string& hint) {
  throw EngineError("E_FLAG_UNSUPPORTED", what + " is not supported by this engine", hint);
}

double number(const Json& cfg, const std::string& key, double fallback) {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) return fallback;
  if (v->kind() == Json::Kind::String) {
    try { return std::stod(v->as_string()); } catch (...) {}
  }
  if (v->kind() != Json::Kind::Number)
    throw EngineError("E_PEFT_CONFIG", "PEFT config key '" + key + "' must be a number", "");
  return v->as_number();
}

int integer(const Json& cfg, const std::string& key, int fallback) {
  const double v = number(cfg, key, fallback);
  if (v != std::floor(v)) throw EngineError("E_PEFT_CONFIG", "PEFT config key '" + key + "' must be a whole number", "");
  return int(v);
}

std::string text(const Json& cfg, const std::string& key, const std::string& fallback) {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) return fallback;
  if (v->kind() == Json::Kind::String) return v->as_string();
  if (v->kind() == Json::Kind::Bool) return v->as_bool() ? "true" : "false";
  throw EngineError("E_PEFT_CONFIG", "PEFT config key '" + key + "' must be a string", "");
}

bool flag(const Json& cfg, const std::string& key, bool fallback) {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) return fallback;
  if (v->kind() == Json::Kind::Bool) return v->as_bool();
  if (v->kind() == Json::Kind::String && (v->as_string() == "true" || v->as_string() == "True")) return true;
  if (v->kind() == Json::Kind::String && (v->as_string() == "false" || v->as_string() == "False")) return false;
  throw EngineError("E_PEFT_CONFIG", "PEFT config key '" + key + "' must be true or false", "");
}

// A key peft accepts that this engine honours only at its default (null / false / [] / {} /
// the given string): any other value is refused, never ignored.
void only_default(const Json& cfg, const std::string& key, const std::string& hint,
                  const std::string& allowed_text = "") {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) return;
  const bool is_default =
      (v->kind() == Json::Kind::Bool && !v->as_bool()) ||
      (v->kind() == Json::Kind::Array && v->items().empty()) ||
      (v->kind() == Json::Kind::Object && v->members().empty()) ||
      (v->kind() == Json::Kind::String && !allowed_text.empty() && v->as_string() == allowed_text);
  if (!is_default) unsupported("PEFT config " + key + " = " + v->dump(), hint);
}

void check_known(const Json& cfg, const std::vector<std::string>& known, const std::string& where) {
  for (const auto& [k, v] : cfg.members())
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      throw EngineError("E_PEFT_CONFIG", "unknown key '" + k + "' in " + where, "keys there: " + list);
    }
}

// peft matches a target name against the end of a module's dotted name: "key" hits att.key and
// ffn.key. This engine adapts those six linears; "all-linear" is peft's name for all of them
// (it leaves the output head out).
std::vector<std::string> target_modules(const Json& cfg, bool x060) {
  const Json* tm = cfg.find("target_modules");
  if (!tm || tm->is_null()) return every_linear(x060);
  if (tm->kind() == Json::Kind::String) {
    if (tm->as_string() == "all-linear") return every_linear(x060);
    unsupported("target_modules as a regular expression (\"" + tm->as_string() + "\")",
                "give a list of module names; " + linears_text(x060));
  }
  if (tm->kind() != Json::Kind::Array)
    throw EngineError("E_PEFT_CONFIG", "target_modules must be a list of module names", "e.g. [\"receptance\",\"key\",\"value\",\"output\"]");
  const std::vector<std::string> known = every_linear(x060);
  std::vector<std::string> out;
  for (const auto& m : tm->items()) {
    if (m.kind() != Json::Kind::String) throw EngineError("E_PEFT_CONFIG", "target_modules holds a non-string", linears_text(x060));
    const std::string name = m.as_string();
    if (std::find(known.begin(), known.end(), name) == known.end())
      unsupported("target module '" + name + "'", "adapters wrap whole module names; " + linears_text(x060));
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) throw EngineError("E_PEFT_CONFIG", "target_modules is empty", linears_text(x060));
  return out;
}

// Keys of LoraConfig/MissConfig that only select what peft itself manages; honoured at their
// defaults only.
void common_hf_keys(const Json& cfg) {
  only_default(cfg, "bias", "only bias \"none\" (x070 linears have no bias)", "none");
  only_default(cfg, "modules_to_save", "train extra tensors with the older form's --train_parts");
  only_default(cfg, "layers_to_transform", "adapters go on every layer");
  only_default(cfg, "layers_pattern", "adapters go on every layer");
  only_default(cfg, "exclude_modules", "list the wanted modules in target_modules instead");
  only_default(cfg, "inference_mode", "a training run needs inference_mode false");
  only_default(cfg, "task_type", "RWKV-PEFT sets task_type CAUSAL_LM itself", "CAUSAL_LM");
}

// LoraConfig keywords for features this engine does not have: refused unless null/false/empty.
const std::vector<std::string> kLoraOnlyDefault = {
    "revision", "loftq_config", "eva_config", "corda_config", "megatron_config", "megatron_core", "layer_replication",
    "runtime_config", "target_parameters", "qalora_group_size", "ensure_weight_tying", "use_qalora",
    "trainable_token_indices"};

void parse_new_lora(const Json& cfg, TrainOptions& o) {
  std::vector<std::string> known = {"r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "init_lora_weights",
                                    "bias", "fan_in_fan_out", "modules_to_save", "layers_to_transform", "layers_pattern",
                                    "rank_pattern", "alpha_pattern", "use_dora", "lora_bias", "task_type",
                                    "inference_mode", "exclude_modules"};
  known.insert(known.end(), kLoraOnlyDefault.begin(), kLoraOnlyDefault.end());
  check_known(cfg, known, "--peft_config for LoRA (Hugging Face peft LoraConfig)");
  for (const auto& key : kLoraOnlyDefault) only_default(cfg, key, "this LoraConfig feature is not implemented");
  common_hf_keys(cfg);
  only_default(cfg, "fan_in_fan_out", "x070 linears store W as [out, in]");
  only_default(cfg, "rank_pattern", "one r for every linear");
  only_default(cfg, "alpha_pattern", "one lora_alpha for every linear");
  only_default(cfg, "use_dora", "DoRA is not implemented; use plain LoRA");
  only_default(cfg, "lora_bias", "x070 linears have no bias");
  // LoraConfig's own defaults: r 8, lora_alpha 8, lora_dropout 0
  o.peft.r = integer(cfg, "r", 8);
  o.peft.lora_alpha = float(number(cfg, "lora_alpha", 8));
  o.peft.lora_dropout = float(number(cfg, "lora_dropout", 0));
  o.peft.use_rslora = flag(cfg, "use_rslora", false);
  o.peft.target_modules = target_modules(cfg, o.model_version == "x060");
  const std::string init = text(cfg, "init_lora_weights", "true");
  o.init_lora_weights = init == "True" ? "true" : init;
  if (o.init_lora_weights == "pissa") {
    // peft takes the exact SVD here; a converged randomized one (r extra columns, 16 power
    // iterations) gives the same top-r subspace for the matrices a model has
    o.pissa = true;
    o.pissa_oversample = o.peft.r;
    o.peft.svd_niter = 16;
  } else if (o.init_lora_weights.rfind("pissa_niter_", 0) == 0) {
    const std::string n = o.init_lora_weights.substr(12);
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
      throw EngineError("E_PEFT_CONFIG", "init_lora_weights \"" + o.init_lora_weights + "\" has no iteration count",
                        "e.g. \"pissa_niter_4\"");
    o.pissa = true;
    o.peft.svd_niter = std::stoi(n);
  } else if (o.init_lora_weights != "true" && o.init_lora_weights != "gaussian") {
    unsupported("init_lora_weights \"" + o.init_lora_weights + "\"",
                "supported: true (kaiming A, zero B), \"gaussian\", \"pissa\", \"pissa_niter_N\"");
  }
}

void parse_new_miss(const Json& cfg, TrainOptions& o) {
  check_known(cfg, {"r", "miss_dropout", "mini_r", "target_modules", "init_weights", "bias", "modules_to_save",
                    "layers_to_transform", "layers_pattern", "task_type", "inference_mode", "exclude_modules"},
              "--peft_config for MiSS (Hugging Face peft MissConfig)");
  common_hf_keys(cfg);
  o.peft.r = integer(cfg, "r", 64);
  if (number(cfg, "miss_dropout", 0) != 0) unsupported("miss_dropout > 0", "use miss_dropout 0");
  const std::string init = text(cfg, "init_weights", "true");
  if (init != "true" && init != "True")
    unsupported("MiSS init_weights \"" + init + "\" (bat/mini variants)", "the balance variant (init_weights true) is implemented");
  o.peft.target_modules = target_modules(cfg, o.model_version == "x060");
}

void parse_legacy(const std::string& method, const std::string& flag_name, const Json& cfg, TrainOptions& o) {
  if (cfg.kind() != Json::Kind::Object)
    throw EngineError("E_PEFT_CONFIG", "--" + flag_name + " must be a JSON object", "", flag_name);
  o.peft.target_modules = every_linear(o.model_version == "x060");  // the older RWKV-PEFT wraps them all
  if (method == "lora") {
    check_known(cfg, {"lora_load", "lora_r", "lora_alpha", "lora_dropout"}, "--lora_config");
    o.peft.r = integer(cfg, "lora_r", 8);
    o.peft.lora_alpha = float(number(cfg, "lora_alpha", 32));
    o.peft.lora_dropout = float(number(cfg, "lora_dropout", 0.01));
    o.lora_load = text(cfg, "lora_load", "");
  } else if (method == "pissa") {
    // --peft pissa exists only in the older RWKV-PEFT; a --peft_config with pissa gets the same keys
    check_known(cfg, {"pissa_load", "pissa_init", "pissa_r", "svd_niter", "r"}, "--" + flag_name);
    o.peft.r = integer(cfg, "pissa_r", integer(cfg, "r", 8));
    o.peft.svd_niter = integer(cfg, "svd_niter", 4);
    o.peft.lora_dropout = 0;  // the older LoraLinear skips dropout on the PiSSA path
    o.pissa = true;
    o.pissa_load = text(cfg, "pissa_load", "");
    o.pissa_init = text(cfg, "pissa_init", "");
    if (o.peft.svd_niter < 0) throw EngineError("E_PEFT_CONFIG", "svd_niter must be >= 0", "4 is RWKV-PEFT's default");
  } else {  // miss / bone / disha
    check_known(cfg, {"mode", "load", "r"}, "--" + flag_name);
    o.peft.r = integer(cfg, "r", 64);
    const std::string mode = text(cfg, "mode", "bone");
    if (mode == "bat") unsupported("DiSHA mode \"bat\"", "use mode \"bone\" (MiSS), which this engine trains");
    if (mode != "bone" && mode != "mode" && mode != "miss")
      throw EngineError("E_PEFT_CONFIG", "unknown DiSHA/MiSS mode \"" + mode + "\"", "bone (or RWKV-PEFT's placeholder \"mode\")");
    o.lora_load = text(cfg, "load", "");
  }
}

// `about` is kept at the flag whose value is being read, so an error names it (EngineError::flag).
void resolve(const ParsedFlags& f, TrainOptions& o, std::string& about) {
  about = f.get_string("train_type") == "state" ? "train_type" : "peft";
  std::string peft = f.get_string("peft");
  if (f.get_string("train_type") == "state") peft = "state";
  o.peft_name = peft;
  // the name's method and older settings flag come from the one table (flags.json peftMethods)
  const PeftName* name = find_peft_name(peft);
  if (!name || !name->supported) {
    std::string list;
    for (const PeftName& n : peft_names())
      if (n.supported) list += (list.empty() ? "" : ", ") + n.name;
    unsupported("--peft " + peft, "supported: " + list);
  }
  const std::string& legacy_flag = name->config_flag;
  const Json& new_cfg = f.values.at("peft_config");
  // The newest form: --peft_config given with something in it, or given while no older
  // config is (an empty '{}' then means peft's defaults).
  o.peft_new_form = f.has("peft_config") &&
                    (!(new_cfg.kind() == Json::Kind::Object && new_cfg.members().empty()) || legacy_flag.empty() ||
                     !f.has(legacy_flag));
  if (o.peft_new_form && new_cfg.kind() != Json::Kind::Object)
    throw EngineError("E_PEFT_CONFIG", "--peft_config must be a JSON object",
                      "e.g. --peft_config '{\"r\":64,\"lora_alpha\":128,\"lora_dropout\":0.01}'", "peft_config");
  const std::string& method = name->method;
  about = o.peft_new_form || legacy_flag.empty() ? "peft_config" : legacy_flag;
  if (method == "none") {
    o.peft.method = PeftMethod::Full;
  } else if (method == "state") {
    o.peft.method = PeftMethod::State;
  } else if (method == "lora") {
    o.peft.method = PeftMethod::Lora;
    if (o.peft_new_form) parse_new_lora(new_cfg, o);
    else parse_legacy("lora", legacy_flag, f.values.at(legacy_flag), o);
  } else if (method == "pissa") {
    o.peft.method = PeftMethod::Pissa;
    parse_legacy("pissa", o.peft_new_form ? "peft_config" : legacy_flag,
                 o.peft_new_form ? new_cfg : f.values.at(legacy_flag), o);
    o.peft_new_form = false;  // the newest RWKV-PEFT has no pissa method: the older behaviour applies
  } else if (method == "miss") {
    // miss (the newest RWKV-PEFT, MissConfig) or its older names bone/disha (DiSHA's keys)
    o.peft.method = PeftMethod::Miss;
    const bool hf_miss = name->peft_config == "miss";
    if (o.peft_new_form && hf_miss) parse_new_miss(new_cfg, o);
    else parse_legacy("miss", o.peft_new_form ? "peft_config" : legacy_flag,
                      o.peft_new_form ? new_cfg : f.values.at(legacy_flag), o);
    if (!hf_miss) o.peft_new_form = false;
  } else {
    about = "peft";
    unsupported("--peft " + peft, "the flag table names method \"" + method + "\", which this engine does not train");
  }
  if (o.peft.method == PeftMethod::Lora || o.peft.method == PeftMethod::Pissa || o.peft.method == PeftMethod::Miss) {
    if (o.peft.r <= 0) throw EngineError("E_PEFT_CONFIG", "r must be > 0", "e.g. {\"r\":64}");
    if (o.peft.lora_dropout < 0 || o.peft.lora_dropout >= 1)
      throw EngineError("E_PEFT_CONFIG", "lora_dropout must be in [0, 1)", "");
    if (o.peft.lora_alpha <= 0) throw EngineError("E_PEFT_CONFIG", "lora_alpha must be > 0", "");
  }
  if (!o.pissa_load.empty() && o.pissa_init.empty())
    throw EngineError("E_PEFT_CONFIG", "pissa_load needs pissa_init",
                      "set \"pissa_init\" to the init_pissa.pth the trained run wrote (in its proj_dir)");

  // train_parts: the older RWKV-PEFT trains them beside the adapter (default time, ln); the
  // newest never reads the flag (peft freezes everything but the adapter).
  o.peft.train_parts.clear();
  if (o.peft.method == PeftMethod::Full || o.peft.method == PeftMethod::State) return;
  if (o.peft_new_form) {
    if (f.has("train_parts"))
      o.warnings.push_back({"W_TRAIN_PARTS_IGNORED",
                            "--train_parts is ignored with --peft_config, as the newest RWKV-PEFT ignores it: only the "
                            "adapter trains (use the older --lora_config form to train time/ln too)"});
    return;
  }
  const Json& tp = f.values.at("train_parts");
  if (tp.kind() == Json::Kind::Array)
    for (const auto& p : tp.items()) o.peft.train_parts.push_back(p.as_string());
  else if (tp.kind() == Json::Kind::String && !tp.as_string().empty())
    o.peft.train_parts.push_back(tp.as_string());
}

}  // namespace

void resolve_peft_options(const ParsedFlags& f, TrainOptions& o) {
  std::string about;
  try {
    resolve(f, o, about);
  } catch (EngineError& e) {
    if (e.flag.empty()) e.flag = about;
    throw;
  }
}

}  // namespace rwkv
