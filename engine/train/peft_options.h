// The PEFT part of the train.py flags, in both RWKV-PEFT generations:
// - newest (Joluck/RWKV-PEFT): --peft lora|miss --peft_config '{...}', whose keys go straight to
//   Hugging Face peft's LoraConfig / MissConfig (applied to receptance, key, value, output, so
//   ffn.key/ffn.value too); only the adapter trains; --merge 0 saves peft's adapter folder;
// - older (JL-er/RWKV-PEFT 5b8aac9): --lora_config, --pissa_config, --disha_config/--miss_config,
//   --train_parts (default time, ln) trained beside the adapter; checkpoints hold the adapter
//   with the older names.
// Every key either changes training as it does there or is refused (E_FLAG_UNSUPPORTED /
// E_PEFT_CONFIG): nothing is silently dropped.
#pragma once
#include "core/flags.h"
#include "train/train_options.h"

namespace rwkv {

// Fills o.peft, o.peft_name, o.peft_new_form, o.lora_load, o.pissa_*, o.init_lora_weights,
// o.adapter_config and o.warnings from the flags.
void resolve_peft_options(const ParsedFlags& flags, TrainOptions& o);

}  // namespace rwkv
