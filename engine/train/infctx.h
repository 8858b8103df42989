// --train_type infctx: one micro-batch of long rows trained chunk_ctx tokens at a time, as
// RWKV-PEFT's infctx training_step does it: each chunk starts from the state the previous one
// ended in (core/backend.h CarriedState, no gradient across chunks); the loss and its gradient
// are the chunk losses weighted by chunk length; L2Wrap divides by the chunk length.
#pragma once
#include <cstdint>

#include "core/backend.h"

namespace rwkv {

// rows: [B, T] inputs / targets / mask (mask may be null). Adds loss_scale * the gradient of
// the weighted loss into the backend's gradients; returns that loss.
double infctx_forward_backward(Backend& backend, const ModelConfig& cfg, int B, int T, int chunk_ctx,
                               const int32_t* inputs, const int32_t* targets, const float* mask,
                               float loss_scale, int world_size = 1);

}  // namespace rwkv
