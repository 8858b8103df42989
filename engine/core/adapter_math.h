// Host-side adapter arithmetic both backends share: the LoRA A initialiser (the stream of
// random numbers must be the same for a CPU and a GPU run of one seed, or their curves part at
// step 0) and folding an adapter into its base weight for --merge 1.
#pragma once
#include <cstdint>
#include <vector>

namespace rwkv {

uint64_t splitmix(uint64_t x);

// The first state of the LoRA initialiser's stream for a run's seed.
inline uint64_t lora_init_stream(uint64_t seed) { return splitmix(seed ^ 0x5EEDull); }

// kaiming_uniform_(a=sqrt(5)) on lora_A [r, in], as peft does: U(-1/sqrt(in), 1/sqrt(in)),
// drawn from `stream` (advanced). lora_B starts at zero.
void kaiming_uniform_lora_a(std::vector<float>& A, int in, uint64_t& stream);

// w [out, in] += scale * B [out, r] A [r, in]
void fold_lora(std::vector<float>& w, const std::vector<float>& A, const std::vector<float>& B, int r, int in,
               int out, float scale);
// w [out, in] += disha expanded: w[o][i] += disha[i % r][o] (MiSS, disha [r, out])
void fold_miss(std::vector<float>& w, const std::vector<float>& disha, int r, int out);

}  // namespace rwkv
