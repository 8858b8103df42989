// PiSSA initialisation: the top-r singular triplets of W by a randomized SVD with `niter`
// power iterations (as torch.svd_lowrank, which RWKV-PEFT calls), then
//   lora_A = sqrt(S) V^T [r, in],  lora_B = U sqrt(S) [out, r],  W -= lora_B lora_A.
#pragma once
#include <cstdint>

namespace rwkv {

void pissa_init(float* W, int out, int in, int r, int niter, uint64_t seed, float* lora_A,
                float* lora_B);

}  // namespace rwkv
