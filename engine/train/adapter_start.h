// What a PEFT run's adapters start from, prepared on the host before the backend is built, so
// both backends train the same thing:
// - PiSSA (--peft pissa, or init_lora_weights "pissa"/"pissa_niter_N"): the initial adapters
//   from pissa_init, from an init_pissa.pth already in proj_dir (a resumed run), or from a new
//   SVD written there as RWKV-PEFT writes it; the base keeps W - s * init_B init_A and the
//   backend trains it as LoRA with PiSSA's scaling (cpu/pissa.h);
// - init_lora_weights "gaussian" (peft): lora_A ~ N(0, 1/r), lora_B = 0;
// - lora_load / pissa_load / *_config.load: an adapter file in either naming; base tensors in it
//   (train_parts) replace the base's, as RWKV-PEFT's load_state_dict(strict=False) does.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/model_config.h"
#include "core/pth.h"
#include "train/train_options.h"

namespace rwkv {

struct AdapterStart {
  PeftConfig backend_peft;   // what the backend is built with
  StateDict initial;         // imported right after the backend is built
  StateDict continued;       // the adapter to continue from, imported after `initial`
  std::vector<std::pair<std::string, std::string>> warnings;  // (code, message)
  std::vector<std::string> written;  // files written into proj_dir (init_pissa.pth)
};

// Changes `weights` (PiSSA's residual, loaded train_parts). `resuming`: proj_dir holds a resume
// file (then a leftover init_pissa.pth is expected, not a surprise). Throws EngineError
// (E_PISSA_INIT, E_LOAD_MODEL, E_ADAPTER, E_PTH_*) with hints.
AdapterStart prepare_adapter_start(const TrainOptions& o, const ModelConfig& cfg, StateDict& weights, bool resuming);

}  // namespace rwkv
