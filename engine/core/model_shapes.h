// One entry point for "which RWKV generation, which sizes": the trainer, init, merge and the CPU
// backend ask here instead of choosing between core/model_config.h (x070) and core/model_x060.h
// themselves, so a generation is added in one place.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

// The generations this engine trains: x070 (RWKV-7) and x060 (RWKV-6).
bool model_version_trains(const std::string& version);

// The default sizes of `version` for a shape (RWKV-LM's x070 suggestions, RWKV-PEFT's x060 ones).
ModelConfig model_config_for_version(const std::string& version, int n_layer, int n_embd, int vocab_size,
                                     int head_size = 64);

// The sizes of `weights`, read as a checkpoint of `version`. A file of another generation is
// E_MODEL_VERSION naming the --my_testing that fits it; a damaged one E_MODEL_SHAPE.
ModelConfig model_config_from_checkpoint(const std::string& version, const StateDict& weights, int head_size = 64);

// Every tensor name and shape of a model of `cfg` (by cfg.version), in the modules' order.
std::vector<std::pair<std::string, std::vector<int64_t>>> model_tensor_shapes(const ModelConfig& cfg);

// Checks `weights` against `cfg` (by cfg.version): E_MODEL_SHAPE when a tensor is missing or
// has another element count.
void validate_model_weights(const ModelConfig& cfg, const StateDict& weights);

}  // namespace rwkv
