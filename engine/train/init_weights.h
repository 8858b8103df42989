// A randomly initialised x070 model, initialised as RWKV-LM's RWKV-v7/train_temp does
// (token-mix curves, decay/zigzag offsets, orthogonal low-rank maps, uniform/zero linears,
// orthogonal head, tiny embedding, ln_x scaled by layer). Sizes follow model_config_for_size.
#pragma once
#include <cstdint>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

StateDict init_x070_weights(const ModelConfig& cfg, uint64_t seed);

}  // namespace rwkv
