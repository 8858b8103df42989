// Hugging Face safetensors files (what `peft`'s save_pretrained writes as
// adapter_model.safetensors): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}} (plus "__metadata__"), then the raw tensor bytes.
// Read to take adapters that the newest RWKV-PEFT saved with --merge 0; written so ours load
// in `peft` (PeftModel.from_pretrained) too.
#pragma once
#include <map>
#include <string>

#include "core/pth.h"

namespace rwkv {

// Throws EngineError(E_SAFETENSORS_*) on a missing, truncated or malformed file.
StateDict load_safetensors(const std::string& path);

// Atomic (temporary file, fsync, rename). `metadata` goes to "__metadata__" (string values).
void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace rwkv
