// make_cuda_backend: the entry the trainer calls for --accelerator gpu. Constructing the model
// (cuda_model.cu) first checks, in order, the driver, the GPU, its compute capability and
// cuBLASLt, so a machine that cannot train on the GPU gets the precise reason as an `error`
// event (E_NO_CUDA_DRIVER, E_NO_GPU, E_GPU_TOO_OLD, E_NO_CUBLAS); settings the GPU path does
// not cover yet (PEFT methods other than full/LoRA, LoRA dropout, --grad_cp 1, head size
// other than 64) get E_CUDA_UNSUPPORTED naming the setting and pointing to --accelerator cpu.
#include <memory>

#include "core/backend.h"
#include "cuda/cuda_model.h"

namespace rwkv {

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                           const StateDict& weights, const BackendOptions& opt) {
  return cuda::make_model_backend(cfg, peft, weights, opt);
}

}  // namespace rwkv
