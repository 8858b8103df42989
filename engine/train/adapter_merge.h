// Folding an adapter into its base model, as RWKV-PEFT's merge scripts compute it:
//   lora:  W += s * B A, s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora)
//   pissa: W = W - s * init_B init_A + s * B A (merge/merge.py --type pissa; s = 1 for the older
//          --pissa_config runs, the LoRA scaling for peft-style PiSSA)
//   miss:  W[o, i] += block[i % r, o]
// Base tensors in the adapter file (train_parts such as ln_*) replace the base's.
// With quant (merge.py --quant int8|nf4), the block linears' base (after PiSSA's subtraction) is
// quantised and dequantised first, as merge.py does and as a --quant run trained against.
#pragma once
#include <string>

#include "core/json.h"
#include "core/pth.h"
#include "core/quant.h"

namespace rwkv {

struct MergeRequest {
  std::string type = "lora";   // lora | pissa | miss
  std::string init_path;       // init_pissa.pth (pissa)
  double lora_alpha = -1;      // <= 0: adapter_config.json's, else 2 * r (lora) / no scaling (pissa)
  int use_rslora = -1;         // -1: adapter_config.json's, else false
  QuantType quant = QuantType::None;  // merge.py --quant: the base as the quantised run saw it
};

struct MergeResult {
  StateDict merged;            // float32, the base's names and order
  Json summary;                // type, r, scaling, adapter naming, counts
};

// `adapter_path`: an rwkv-N.pth in either naming, a .safetensors or a peft adapter folder.
// Throws EngineError (E_ADAPTER, E_PISSA_INIT, E_PTH_*, ...) with hints.
MergeResult merge_adapter(const StateDict& base, const std::string& adapter_path, const MergeRequest& req);

}  // namespace rwkv
