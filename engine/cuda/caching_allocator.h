// A caching device allocator: blocks freed by the backend go to per-size free lists and are
// handed out again without cudaMalloc/cudaFree (which synchronise the device). Sizes round up
// to 512 bytes below 1 MiB and to 2 MiB above, so that a training step's repeated shapes
// reuse the same blocks. It tracks the bytes in use and their peak, which the memory planner's
// plan is checked against.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace rwkv::cuda {

class CachingAllocator {
 public:
  ~CachingAllocator();
  // Throws EngineError E_CUDA_OOM with the sizes involved. A cached block up to 1.25x the
  // rounded size may serve a request; `exact` (what lives as long as the model: weights,
  // gradients, moments) takes only a block of exactly its size, so a short-lived larger buffer
  // left in the cache (an fp32 staging copy) is never kept alive by a bf16 weight.
  void* allocate(size_t bytes, bool exact = false);
  void release(void* ptr);        // back to the cache (not to the driver)
  void empty_cache();             // gives every cached block back to the driver
  size_t in_use() const { return in_use_; }
  size_t peak_in_use() const { return peak_; }
  size_t reserved() const { return reserved_; }
  void reset_peak() { peak_ = in_use_; }
  static size_t round_size(size_t bytes);
  // The block a request takes: round_size, or for `exact` (long-lived) requests, when
  // exact_blocks_enabled(), only 512-byte rounding: a 12.5 MiB matrix then takes 12.5 MiB instead
  // of 14, and a 2.6 MB LoRA tensor 2.6 instead of 4 (0.64 GiB of a 2.9B LoRA run). NOT yet run
  // on a GPU, so off unless RWKV_CUDA_EXACT_BLOCKS=1 (allocator_test checks the default).
  static size_t block_size(size_t bytes, bool exact);
  static bool exact_blocks_enabled();

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;            // size -> block
  std::unordered_map<void*, size_t> live_;       // block -> size
  size_t in_use_ = 0, peak_ = 0, reserved_ = 0;
};

}  // namespace rwkv::cuda
