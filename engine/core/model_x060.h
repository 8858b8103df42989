// The shape of an RWKV-6 (x060) model, as RWKV-PEFT's rwkvt/rwkv6 (and RWKV-LM's v6) define it:
// its tensor names and sizes, read from a checkpoint's header or made for a size. Inspect, the
// checkpoint check, the planner's tests, init and the CPU backend (cpu/x060_layer.h) use it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

// RWKV-PEFT's defaults for a size: dim_ffn int(3.5 C) rounded down to a multiple of 32,
// TIME_MIX_EXTRA_DIM 32 and TIME_DECAY_EXTRA_DIM 64, both doubled only when C is exactly 4096
// (the 7B/14B width; the Python tests n_embd == 4096, not >=). dim_att = C.
ModelConfig model_config_x060_for_size(int n_layer, int n_embd, int vocab_size, int head_size = 64);

// Every tensor name and shape an x060 model of `cfg` has, in the modules' order.
std::vector<std::pair<std::string, std::vector<int64_t>>> x060_tensor_shapes(const ModelConfig& cfg);

// Reads the sizes from an x060 checkpoint's header (head size from time_faaaa, the low-rank
// sizes from time_maa_w1 / time_decay_w1, dim_ffn from ffn.key) and checks every tensor's shape.
// Throws EngineError E_MODEL_VERSION when the header is not an x060 model, E_MODEL_SHAPE when a
// tensor is missing or has another size.
ModelConfig model_config_x060_from_header(const std::vector<TensorInfo>& header);

// Checks that `weights` holds every tensor of `cfg` with its element count (adapter tensors
// beside them are the caller's business). Throws EngineError E_MODEL_SHAPE with a hint.
void validate_x060_weights(const ModelConfig& cfg, const StateDict& weights);

}  // namespace rwkv
