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
  // rounded size may serve a request; `exact` (the model's long-lived slab, param_slab.h) takes
  // only a block of exactly its size, so a short-lived larger buffer left in the cache is never
  // kept alive by it.
  void* allocate(size_t bytes, bool exact = false);
  void release(void* ptr);        // back to the cache (not to the driver)
  void empty_cache();             // gives every cached block back to the driver
  size_t in_use() const { return in_use_; }
  size_t peak_in_use() const { return peak_; }
  size_t reserved() const { return reserved_; }
  void reset_peak() { peak_ = in_use_; }
  static size_t round_size(size_t bytes);

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;            // size -> block
  std::unordered_map<void*, size_t> live_;       // block -> size
  size_t in_use_ = 0, peak_ = 0, reserved_ = 0;
};

}  // namespace rwkv::cuda
