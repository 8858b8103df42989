// Randomly initialised models. x070: as RWKV-LM's RWKV-v7/train_temp initialises it
// (token-mix curves, decay/zigzag offsets, orthogonal low-rank maps, uniform/zero linears,
// orthogonal head, tiny embedding, ln_x scaled by layer). Sizes follow model_config_for_size.
#pragma once
#include <cstdint>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

StateDict init_x070_weights(const ModelConfig& cfg, uint64_t seed);

// A randomly initialised x060 model as RWKV-PEFT's rwkvt/rwkv6 builds one (the modules' time_*
// curves: time_maa_*, time_decay, time_faaaa; the low-rank maa/decay maps uniform in +-1e-4) and
// its generate_init_weight writes it (orthogonal linears with gain sqrt(rows/cols), att.output,
// ffn.value and ffn.receptance zero, head 0.5 of that, ln_x scaled by layer, the embedding
// uniform in +-emb_bound: RWKV-PEFT takes lr_init there). Sizes follow model_config_x060_for_size.
StateDict init_x060_weights(const ModelConfig& cfg, uint64_t seed, double emb_bound = 1e-4);

// The initialisation of cfg.version's model.
StateDict init_model_weights(const ModelConfig& cfg, uint64_t seed, double x060_emb_bound = 1e-4);

}  // namespace rwkv
