// Caching allocator (see caching_allocator.h).
#include "cuda/caching_allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/errors.h"

namespace rwkv::cuda {

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < (1u << 20)) return (bytes + 511) / 512 * 512;
  return (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

void* CachingAllocator::allocate(size_t bytes, bool exact) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  // Reuse a cached block of exactly this size, or of at most 1.25x for large ones (a block is
  // never split, so a looser rule would keep up to twice the memory a step asks for).
  auto it = free_.lower_bound(size);
  if (it != free_.end() &&
      (it->first == size || (!exact && size >= (1u << 20) && it->first <= size + size / 4))) {
    void* p = it->second;
    const size_t got = it->first;
    free_.erase(it);
    live_[p] = got;
    in_use_ += got;
    peak_ = std::max(peak_, in_use_);
    return p;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, size);
  if (err != cudaSuccess) {
    cudaGetLastError();
    // Give the cache back to the driver and try once more before failing.
    for (auto& kv : free_) cudaFree(kv.second), reserved_ -= kv.first;
    free_.clear();
    err = cudaMalloc(&p, size);
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      throw EngineError("E_CUDA_OOM",
                        "Out of GPU memory allocating " + std::to_string(size >> 20) + " MiB (" +
                            std::to_string(in_use_ >> 20) + " MiB in use, " + std::to_string(free_b >> 20) +
                            " MiB free of " + std::to_string(total_b >> 20) + " MiB).",
                        "Lower micro_bsz or ctx_len, or use --grad_cp 1.");
    }
  }
  reserved_ += size;
  live_[p] = size;
  in_use_ += size;
  peak_ = std::max(peak_, in_use_);
  return p;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  in_use_ -= it->second;
  free_.emplace(it->second, ptr);
  live_.erase(it);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& kv : free_) cudaFree(kv.second), reserved_ -= kv.first;
  free_.clear();
}

CachingAllocator::~CachingAllocator() {
  empty_cache();
  for (auto& kv : live_) cudaFree(kv.first);
}

}  // namespace rwkv::cuda
