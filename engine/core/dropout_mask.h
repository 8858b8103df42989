// LoRA dropout's keep mask, one definition for both backends (the CPU loop and the CUDA kernel
// include this header), so a GPU run drops exactly the elements the CPU oracle drops.
// Counter-based: element i of a mask is a hash of (stream, i) alone, so a mask is reproduced
// from the optimizer step, the micro-batch within it and the adapter slot without any saved
// RNG state; a resumed run draws the masks the uninterrupted one would have drawn.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define RWKV_HOST_DEVICE __host__ __device__
#else
#define RWKV_HOST_DEVICE
#endif

namespace rwkv {

RWKV_HOST_DEVICE inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The stream of one adapter slot (layer * 8 + slot) in one micro-batch of one optimizer step.
RWKV_HOST_DEVICE inline uint64_t dropout_stream(uint64_t seed, int64_t optimizer_step,
                                                uint64_t micro_batch, uint64_t slot) {
  return mix64(seed ^ mix64(uint64_t(optimizer_step) * 4099 + micro_batch) ^ (slot << 40));
}

// Whether element i survives. 24 random bits against keep: exact in float on both sides.
RWKV_HOST_DEVICE inline bool dropout_keeps(uint64_t stream, uint64_t i, float keep) {
  const uint64_t u = mix64(stream ^ mix64(i));
  return float(u >> 40) * (1.0f / 16777216.0f) < keep;
}

}  // namespace rwkv
