#include "train/train_options.h"

#include <algorithm>

#include "core/errors.h"
#include "train/peft_options.h"

namespace rwkv {

TrainOptions train_options_from_flags(const ParsedFlags& f) {
  TrainOptions o;
  o.load_model = f.get_string("load_model");
  o.proj_dir = f.get_string("proj_dir");
  o.data_file = f.get_string("data_file");
  o.data_type = f.get_string("data_type");
  o.vocab_size = int(f.get_int("vocab_size"));
  o.ctx_len = int(f.get_int("ctx_len"));
  o.n_layer = int(f.get_int("n_layer"));
  o.n_embd = int(f.get_int("n_embd"));
  o.head_size = int(f.has("head_size") ? f.get_int("head_size") : f.get_int("head_size_a"));
  o.head_size_divisor = float(f.get_int("head_size_divisor"));
  o.epoch_steps = f.get_int("epoch_steps");
  o.epoch_count = f.get_int("epoch_count");
  o.epoch_begin = f.get_int("epoch_begin");
  o.epoch_save = f.get_int("epoch_save");
  o.micro_bsz = int(f.get_int("micro_bsz"));
  o.accumulate_grad_batches = int(f.get_int("accumulate_grad_batches"));
  o.lr_init = f.get_float("lr_init");
  o.lr_final = f.get_float("lr_final");
  o.warmup_steps = f.get_int("warmup_steps");
  o.lr_schedule = f.get_string("lr_schedule");
  o.beta1 = float(f.get_float("beta1"));
  o.beta2 = float(f.get_float("beta2"));
  o.adam_eps = float(f.get_float("adam_eps"));
  o.weight_decay = float(f.get_float("weight_decay"));
  o.grad_clip = float(f.get_float("grad_clip"));
  o.magic_prime = f.get_int("magic_prime");
  o.my_exit_tokens = f.get_int("my_exit_tokens");
  o.data_shuffle = f.get_int("data_shuffle") != 0;
  o.seed = f.get_int("random_seed");
  o.merge = f.get_int("merge") != 0;
  o.accelerator = f.get_string("accelerator");
  o.devices = int(f.get_int("devices"));
  o.grad_cp = f.get_int("grad_cp") != 0;
  o.ignored_flags = f.ignored;
  o.given_flags = f.given;

  auto bad = [](const std::string& flag, const std::string& why, const std::string& hint) {
    throw EngineError("E_FLAG_VALUE", "--" + flag + ": " + why, hint);
  };
  if (o.data_file.empty()) bad("data_file", "no dataset given", "pass --data_file PREFIX (binidx without .bin/.idx) or a .jsonl file");
  if (o.data_type != "binidx" && o.data_type != "jsonl" && o.data_type != "sft")
    throw EngineError("E_FLAG_UNSUPPORTED", "--data_type " + o.data_type + " is not supported by this engine",
                      "use binidx (make it with `rwkv-train make-data`), jsonl or sft");
  if (o.vocab_size <= 0) bad("vocab_size", "must be positive", "65536 for the RWKV World vocabulary");
  if (o.ctx_len <= 0) bad("ctx_len", "must be positive", "");
  if (o.micro_bsz <= 0) bad("micro_bsz", "must be positive", "");
  if (o.accumulate_grad_batches <= 0) bad("accumulate_grad_batches", "must be positive", "");
  if (o.epoch_steps <= 0) bad("epoch_steps", "must be positive", "");
  if (o.epoch_count <= 0) bad("epoch_count", "must be positive", "");
  if (o.epoch_steps % o.accumulate_grad_batches != 0)
    bad("epoch_steps", "must be a multiple of --accumulate_grad_batches", "an epoch ends on an optimizer step");
  if (o.lr_init <= 0 || o.lr_final < 0) bad("lr_init", "learning rates must be positive", "");
  if (o.lr_schedule != "cos" && o.lr_schedule != "cos_decay" && o.lr_schedule != "wsd")
    bad("lr_schedule", "unknown schedule '" + o.lr_schedule + "'", "cos, cos_decay or wsd");
  if (o.devices != 1)
    throw EngineError("E_FLAG_UNSUPPORTED", "--devices " + std::to_string(o.devices) + ": this build trains on one device",
                      "use --devices 1");
  const std::string my_testing = f.get_string("my_testing");
  if (f.has("my_testing") && my_testing != "x070")
    throw EngineError("E_FLAG_UNSUPPORTED", "--my_testing " + my_testing + ": only RWKV-7 (x070) is trained by this engine",
                      "use --my_testing x070");

  // Flags whose meaning this engine does not implement: a non-default value is an error
  // (training would silently differ from what the user asked for), never a quiet no-op.
  auto unsupported_if = [&](const char* flag, bool differs, const std::string& hint) {
    if (f.has(flag) && differs)
      throw EngineError("E_FLAG_UNSUPPORTED", std::string("--") + flag + " " + f.values.at(flag).dump() +
                                                  " is not supported by this engine", hint);
  };
  unsupported_if("train_type", f.get_string("train_type") == "infctx", "infctx (chunked long-context) training is not implemented; use --train_type none or state");
  unsupported_if("quant", f.get_string("quant") != "none", "quantised base weights are not implemented; use --quant none");
  unsupported_if("dropout", f.get_float("dropout") != 0, "model dropout is not implemented; use --dropout 0 (lora_dropout is supported)");
  unsupported_if("weight_decay_final", f.get_float("weight_decay_final") > 0, "a decaying weight decay is not implemented");
  unsupported_if("my_pile_stage", f.get_int("my_pile_stage") > 1, "only stage-1 style training from a checkpoint or init is implemented");
  unsupported_if("loss_mask", f.get_string("loss_mask") != "none" && f.get_string("loss_mask") != "pad",
                 "use --data_type sft with prompt/response fields for response-only loss");

  resolve_peft_options(f, o);
  // The older RWKV-PEFT has no --merge: its checkpoints always hold the adapter alone.
  if (!o.peft_new_form && !f.has("merge") && o.peft.method != PeftMethod::Full && o.peft.method != PeftMethod::State)
    o.merge = false;
  o.peft.seed = uint64_t(o.seed < 0 ? 0 : o.seed);
  for (const auto& name : f.given) o.resolved.set(name, f.values.at(name));
  return o;
}

}  // namespace rwkv
