// Every buffer that lives as long as the model (bf16 weights, fp32 masters, gradients, AdamW
// moments, the packed token-shift mixes) carved out of ONE device allocation. Why: the driver
// maps device memory in 2 MiB pages, so a tensor of its own takes whole pages: a 2.9B model's
// 2560 x 2560 bf16 matrices (12.5 MiB) take 14, a [64, 10240] fp32 LoRA tensor (2.5 MiB) takes
// 4, about 0.6 GiB of a 2.9B LoRA run's 9 GiB (measured on an H200: per-tensor blocks of exact
// size left nvidia-smi's peak where it was, because the pages are still whole). Carved
// consecutively with 256-byte alignment, they waste at most the last page.
// Two passes over the same assignment code: the first (sizing) only adds up the offsets, the
// second hands out pointers into the allocation made between them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/caching_allocator.h"

namespace rwkv::cuda {

class ParamSlab {
 public:
  static constexpr size_t kAlign = 256;

  // The next n elements of T: a real pointer once allocate() ran, an offset-only placeholder
  // while sizing (never dereferenced).
  template <class T>
  T* take(int64_t n) {
    const size_t off = used_;
    used_ += (size_t(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    return reinterpret_cast<T*>(base_ + off);
  }
  size_t bytes() const { return used_; }
  bool sizing() const { return base_ == 0; }
  // Ends the sizing pass: one block of the summed size; take() starts again from its start.
  void allocate(CachingAllocator& alloc) {
    block_ = alloc.allocate(used_ ? used_ : 1, /*exact=*/true);
    base_ = reinterpret_cast<uintptr_t>(block_);
    used_ = 0;
  }
  void release(CachingAllocator& alloc) {
    if (block_) alloc.release(block_);
    block_ = nullptr;
  }

 private:
  void* block_ = nullptr;
  uintptr_t base_ = 0;
  size_t used_ = 0;
};

}  // namespace rwkv::cuda
