// make_cuda_backend: the entry the trainer calls for --accelerator gpu. It checks, in order,
// the driver, the GPU, its compute capability and cuBLASLt, so a machine that cannot train on
// the GPU gets the precise reason as an `error` event (E_NO_CUDA_DRIVER, E_NO_GPU,
// E_GPU_TOO_OLD, E_NO_CUBLAS). The model's GPU forward/backward is not assembled from the
// kernels yet, so a usable GPU gets E_CUDA_BACKEND_INCOMPLETE rather than a wrong answer.
#include <memory>

#include "core/backend.h"
#include "core/errors.h"
#include "cuda/cuda_context.h"

namespace rwkv {

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                           const StateDict& weights, const BackendOptions& opt) {
  (void)cfg;
  (void)peft;
  (void)weights;
  cuda::Context ctx(opt.device);  // throws the driver / GPU / cuBLASLt errors
  throw EngineError("E_CUDA_BACKEND_INCOMPLETE",
                    "The CUDA backend's kernels are built and tested on " + ctx.device().name +
                        ", but the x070 model is not yet assembled from them on the GPU.",
                    "Train with --accelerator cpu for now.");
}

}  // namespace rwkv
