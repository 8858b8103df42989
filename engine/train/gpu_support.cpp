#include "train/gpu_support.h"

#include "core/flags.h"

#include <string>

#include "core/gpu_switches.h"
#include "core/quant.h"

namespace rwkv {

namespace {
EngineError unsupported(const std::string& what, const std::string& hint, const std::string& flag) {
  return EngineError("E_CUDA_UNSUPPORTED", what + " is not yet implemented on the GPU", hint, flag);
}
}  // namespace

// Every PEFT method (full, LoRA with dropout, PiSSA, MiSS/disha/bone, state tuning), --grad_cp
// and infctx run on the GPU for RWKV-7 (RWKV-6 too behind RWKV_CUDA_X060=1, not yet device-run) (verified against the CPU backend on an H100:
// engine/cuda/device_tests/results/). What is left are the WKV7 kernel's shape limits, and
// --quant, whose GPU path RWKV_CUDA_QUANT=0 turns off (core/gpu_switches.h).
std::optional<EngineError> cuda_refusal(const TrainOptions& o) {
  if (o.accelerator == "cpu") return std::nullopt;
  // RWKV-6 trains on the CPU backend (cpu/x060_layer.h), the oracle the GPU's x060 path
  // (cuda/wkv6.cu, cuda/x060_block.cu) is compared with; that path has not run on a GPU yet, so
  // it is refused, as before it existed, unless RWKV_CUDA_X060=1 (core/gpu_switches.h).
  const bool x060 = o.model_version == "x060";
  if (x060 && !cuda_x060_enabled())
    return EngineError("E_CUDA_UNSUPPORTED",
                       "RWKV-6 (x060) training is not yet implemented on the GPU: the CUDA backend has no WKV6 kernel yet",
                       "train this RWKV-6 model with --accelerator cpu (every PEFT method runs there), or on the GPU "
                       "with RWKV-PEFT (github.com/JL-er/RWKV-PEFT, --my_testing x060)",
                       "my_testing");
  if (o.head_size != 64)
    return unsupported("head size " + std::to_string(o.head_size) + " (the GPU WKV" + (x060 ? "6" : "7") +
                           " kernel is built for 64)",
                       "use --accelerator cpu for this model", o.head_size_flag);
  // The WKV6 kernels take any length; the WKV7 ones work in chunks of 16 steps (RWKV-LM's
  // CHUNK_LEN): flags.json's ctx_len multipleOf, the number the editor's RWKV018 uses too.
  const int64_t chunk = find_flag("ctx_len") && find_flag("ctx_len")->multiple_of > 0 ? find_flag("ctx_len")->multiple_of : 16;
  const std::string multiple = "a multiple of " + std::to_string(chunk);
  if (!x060 && o.ctx_len % chunk != 0)
    return unsupported("ctx_len " + std::to_string(o.ctx_len) + " (the GPU WKV7 kernel needs " + multiple + ")",
                       "choose a ctx_len that is " + multiple + ", or use --accelerator cpu", "ctx_len");
  if (!x060 && o.infctx && o.chunk_ctx < o.ctx_len && o.chunk_ctx % chunk != 0)
    return unsupported("chunk_ctx " + std::to_string(o.chunk_ctx) + " (the GPU WKV7 kernel needs " + multiple + ")",
                       "choose a chunk_ctx that is " + multiple + ", or use --accelerator cpu", "chunk_ctx");
  if (o.quant != QuantType::None && !cuda_quant_switch_on())
    return EngineError("E_CUDA_UNSUPPORTED",
                       std::string("--quant ") + quant_type_name(o.quant) +
                           " is turned off on the GPU here (RWKV_CUDA_QUANT=0 in the environment)",
                       "unset RWKV_CUDA_QUANT, or train with --accelerator cpu (which quantises as RWKV-PEFT does)",
                       "quant");
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> gpu_warnings(const TrainOptions&) { return {}; }

}  // namespace rwkv
