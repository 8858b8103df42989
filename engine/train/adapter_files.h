// The two ways RWKV-PEFT names adapter tensors, and reading an adapter in either:
// - older RWKV-PEFT (its own LoraLinear/BoneLinear) and this engine's internal names:
//   "blocks.0.att.key.lora_A" [r, in], "blocks.0.att.key.lora_B" [out, r],
//   "blocks.0.att.key.disha" [r, out], plus base tensors it trained (train_parts);
// - the newest RWKV-PEFT (Hugging Face peft, save_pretrained with --merge 0):
//   "base_model.model.blocks.0.att.key.lora_A.weight" [r, in], "...lora_B.weight" [out, r],
//   "base_model.model.blocks.0.att.key.miss_block" [r, out], in adapter_model.safetensors
//   beside adapter_config.json.
#pragma once
#include <string>

#include "core/json.h"
#include "core/pth.h"
#include "train/train_options.h"

namespace rwkv {

// "blocks.0.att.key.lora_A" -> "base_model.model.blocks.0.att.key.lora_A.weight", etc.
std::string hf_peft_name(const std::string& engine_name);

// Any accepted name (HF peft, with or without ".default", a "model." Lightning prefix) -> the
// engine's name. Names already in the engine's form come back unchanged.
std::string engine_adapter_name(const std::string& name);

struct AdapterFile {
  StateDict tensors;              // engine names
  Json config;                    // adapter_config.json when one was found beside it, else null
  bool hf_names = false;          // the file used Hugging Face peft names
};

// Reads an adapter: a .pth (either naming), a .safetensors, or a directory holding
// adapter_model.safetensors (or adapter_model.bin) and adapter_config.json.
// Throws EngineError(E_ADAPTER / E_PTH_* / E_SAFETENSORS_*) with hints.
AdapterFile load_adapter(const std::string& path);

// Writes what peft's save_pretrained writes: dir/adapter_model.safetensors (HF names) and
// dir/adapter_config.json (`config`).
void save_hf_adapter(const std::string& dir, const StateDict& engine_tensors, const Json& config);

// adapter_config.json as peft writes it for this run's LoraConfig / MissConfig.
Json hf_adapter_config(const TrainOptions& o);

}  // namespace rwkv
