#include "train/adapter_files.h"

#include <cerrno>
#include <cstdio>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/paths.h"
#include "core/safetensors.h"

namespace rwkv {
namespace {

const std::string kHfPrefix = "base_model.model.";


std::string read_text(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

}  // namespace

std::string hf_peft_name(const std::string& name) {
  if (ends_with(name, ".lora_A") || ends_with(name, ".lora_B")) return kHfPrefix + name + ".weight";
  if (ends_with(name, ".disha")) return kHfPrefix + name.substr(0, name.size() - 6) + ".miss_block";
  return kHfPrefix + name;
}

std::string engine_adapter_name(const std::string& given) {
  std::string n = given;
  if (n.rfind(kHfPrefix, 0) == 0) n = n.substr(kHfPrefix.size());
  else if (n.rfind("model.", 0) == 0) n = n.substr(6);  // a Lightning module's state_dict
  // peft keeps the adapter name in memory ("lora_A.default.weight"); files usually drop it
  for (const char* tag : {".lora_A.default", ".lora_B.default", ".miss_block.default"}) {
    const size_t at = n.find(tag);
    if (at != std::string::npos) n.erase(at + std::string(tag).size() - 8, 8);
  }
  if (ends_with(n, ".lora_A.weight") || ends_with(n, ".lora_B.weight")) n.resize(n.size() - 7);
  if (ends_with(n, ".miss_block")) n = n.substr(0, n.size() - 11) + ".disha";
  return n;
}

AdapterFile load_adapter(const std::string& path) {
  AdapterFile out;
  std::string file = path;
  if (is_directory(path)) {
    const std::string st = path + "/adapter_model.safetensors", bin = path + "/adapter_model.bin";
    file = is_regular_file(st) ? st : is_regular_file(bin) ? bin : "";
    if (file.empty())
      throw EngineError("E_ADAPTER", path + " is a folder without adapter_model.safetensors or adapter_model.bin",
                        "give the folder peft's save_pretrained wrote (proj_dir-adapter) or an adapter .pth");
    const std::string cfg = path + "/adapter_config.json";
    if (is_regular_file(cfg)) {
      try {
        out.config = Json::parse(read_text(cfg));
      } catch (const std::exception& e) {
        throw EngineError("E_ADAPTER", cfg + " is not valid JSON: " + e.what(), "");
      }
    }
  } else if (!is_regular_file(path)) {
    throw EngineError("E_ADAPTER", path + " does not exist", "check the adapter path");
  }
  const StateDict raw = ends_with(file, ".safetensors") ? load_safetensors(file) : load_pth(file);
  for (const auto& [name, t] : raw) {
    const std::string n = engine_adapter_name(name);
    out.hf_names |= name.rfind(kHfPrefix, 0) == 0;
    out.tensors.push_back({n, t});
  }
  return out;
}

void save_hf_adapter(const std::string& dir, const StateDict& tensors, const Json& config) {
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw EngineError("E_IO_MKDIR", "cannot create folder " + dir, "check --proj_dir and its permissions");
  StateDict named;
  for (const auto& [n, t] : tensors) named.push_back({hf_peft_name(n), t});
  save_safetensors(dir + "/adapter_model.safetensors", named, {{"format", "pt"}});
  const std::string text = config.dump() + "\n";
  AtomicFile f(dir + "/adapter_config.json");
  f.write(text.data(), text.size());
  f.commit();
}

Json hf_adapter_config(const TrainOptions& o) {
  Json c = Json::object();
  const bool miss = o.peft.method == PeftMethod::Miss;
  c.set("peft_type", miss ? "MISS" : "LORA");
  c.set("task_type", "CAUSAL_LM");
  c.set("base_model_name_or_path", o.load_model.empty() ? Json() : Json(o.load_model));
  c.set("r", o.peft.r);
  Json targets = Json::array();
  for (const auto& m : o.peft.target_modules) targets.push(Json(m));
  c.set("target_modules", targets);
  c.set("bias", "none");
  c.set("inference_mode", true);
  if (miss) {
    c.set("init_weights", true);
    c.set("miss_dropout", 0.0);
  } else {
    c.set("lora_alpha", double(o.peft.lora_alpha));
    c.set("lora_dropout", double(o.peft.lora_dropout));
    c.set("use_rslora", o.peft.use_rslora);
    c.set("init_lora_weights", o.init_lora_weights == "true" ? Json(true) : Json(o.init_lora_weights));
    c.set("fan_in_fan_out", false);
  }
  return c;
}

}  // namespace rwkv
