#include "train/gpu_support.h"

#include <cstdio>
#include <string>

namespace rwkv {

namespace {
EngineError unsupported(const std::string& what, const std::string& hint) {
  return EngineError("E_CUDA_UNSUPPORTED", what + " is not yet implemented on the GPU", hint);
}
}  // namespace

std::optional<EngineError> cuda_refusal(const TrainOptions& o) {
  if (o.accelerator == "cpu") return std::nullopt;
  const PeftMethod m = o.peft.method;
  // PiSSA trains on the LoRA path (scaling 1, no dropout: train/adapter_start.cpp).
  if (m != PeftMethod::Full && m != PeftMethod::Lora && m != PeftMethod::Pissa)
    return unsupported(std::string("--peft ") + (o.peft_name.empty() ? peft_method_name(m) : o.peft_name),
                       "the GPU backend trains full fine-tuning, LoRA and PiSSA so far: use --accelerator cpu for this "
                       "method (slow; small models)");
  if (m == PeftMethod::Lora && o.peft.lora_dropout > 0) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", double(o.peft.lora_dropout));
    return unsupported(std::string("LoRA dropout (lora_dropout ") + value + ")",
                       "set lora_dropout to 0 in the PEFT config, or use --accelerator cpu");
  }
  if (o.head_size != 64)
    return unsupported("head size " + std::to_string(o.head_size) + " (the GPU WKV7 kernel is built for 64)",
                       "use --accelerator cpu for this model");
  if (o.ctx_len % 16 != 0)
    return unsupported("ctx_len " + std::to_string(o.ctx_len) + " (the GPU WKV7 kernel needs a multiple of 16)",
                       "choose a ctx_len that is a multiple of 16, or use --accelerator cpu");
  if (o.infctx)
    return unsupported("--train_type infctx", "pass --accelerator cpu, or use --train_type none with a --ctx_len that fits");
  return std::nullopt;
}

bool gpu_ignores_grad_cp(const TrainOptions& o) { return o.accelerator != "cpu" && o.grad_cp; }

std::vector<std::pair<std::string, std::string>> gpu_warnings(const TrainOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  if (gpu_ignores_grad_cp(o))
    out.emplace_back("W_GRAD_CP_GPU", "--grad_cp 1 is not yet implemented on the GPU: every activation is kept "
                                      "(same results, more memory than the plan for grad_cp 1)");
  return out;
}

}  // namespace rwkv
