// The assembled x070 model on the GPU (cuda_model.cu), behind core/backend.h's interface.
#pragma once
#include <memory>

#include "core/backend.h"

namespace rwkv::cuda {
std::unique_ptr<Backend> make_model_backend(const ModelConfig& cfg, const PeftConfig& peft,
                                            const StateDict& weights, const BackendOptions& opt);
}  // namespace rwkv::cuda
