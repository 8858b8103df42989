// PiSSA: an adapter initialised from the principal singular triplets of W, the base keeping the
// residual, so the model at step 0 computes exactly what the base did.
//
// pissa_init: the top-r triplets by a randomized SVD with `niter` power iterations (as
// torch.svd_lowrank, which RWKV-PEFT calls), then
//   lora_A = sqrt(S) V^T [r, in],  lora_B = U sqrt(S) [out, r],  W -= lora_B lora_A.
// `oversample` extra columns sharpen the estimate (0 = torch.svd_lowrank's q = r).
//
// The run-level helpers below do it for a whole model on the host, so every backend trains the
// same decomposition and the trainer can save it as RWKV-PEFT does: older RWKV-PEFT writes
// proj_dir/init_pissa.pth with "model.<linear>.init_lora_A" [r, in] and ".init_lora_B"
// [out, r] (float32) and merges with W = W_base - init_B init_A + B A. Hugging Face peft's
// PiSSA (init_lora_weights "pissa"/"pissa_niter_N", the newest RWKV-PEFT) divides S by the
// LoRA scaling s first, so s * B A is the principal part: `scaling` covers both (1 = older).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

void pissa_init(float* W, int out, int in, int r, int niter, uint64_t seed, float* lora_A,
                float* lora_B, int oversample = 0);

// W [out, in] -= scale * B [out, r] A [r, in], accumulated in double.
void subtract_product(float* W, int out, int in, int r, const float* B, const float* A, double scale);

// State-dict prefixes of the linears an adapter wraps ("blocks.0.att.key", "blocks.0.ffn.key",
// ...), in model order. A target module matches the last part of the name, as peft matches
// "key" against both att.key and ffn.key.
std::vector<std::string> adapted_linear_prefixes(const ModelConfig& cfg,
                                                 const std::vector<std::string>& target_modules);

// The initial adapters for `prefixes` of the base `weights`, named as init_pissa.pth names them.
StateDict pissa_initial_adapters(const StateDict& weights, const std::vector<std::string>& prefixes,
                                 int r, int niter, int oversample, uint64_t seed, float scaling);

// Checks an init_pissa.pth against the model: every prefix has init_lora_A [r, in] and
// init_lora_B [out, r] (names with or without the "model." prefix). Throws E_PISSA_INIT.
void check_pissa_init(const StateDict& init, const StateDict& weights,
                      const std::vector<std::string>& prefixes, int r, const std::string& path);

// weights[<prefix>.weight] -= scaling * init_B init_A for every prefix (stored as float32).
void subtract_pissa_init(StateDict& weights, const StateDict& init,
                         const std::vector<std::string>& prefixes, float scaling);

// The init as trainable adapter tensors "<prefix>.lora_A" / "<prefix>.lora_B".
StateDict pissa_adapter_from_init(const StateDict& init, const std::vector<std::string>& prefixes);

}  // namespace rwkv
