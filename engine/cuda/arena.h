// A stack of device buffers over the caching allocator: get() pushes, rewind(mark) pops back to
// an earlier mark. A training step opens one arena; with --grad_cp 1 each layer's activations
// are pushed after a mark and popped when the layer is done, so one layer's activations live at
// a time, and the next layer's same-sized requests are served from the allocator's cache.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuda/caching_allocator.h"

namespace rwkv::cuda {

class Arena {
 public:
  explicit Arena(CachingAllocator& a) : alloc_(a) {}
  ~Arena() { rewind(0); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  template <class T>
  T* get(int64_t n) {
    void* p = alloc_.allocate(size_t(std::max<int64_t>(n, 1)) * sizeof(T));
    ptrs_.push_back(p);
    return static_cast<T*>(p);
  }
  size_t mark() const { return ptrs_.size(); }
  // Gives back every buffer pushed since `m` (the caller has synchronised or only queued work
  // on the one stream that will reuse them, so stream order keeps the reuse safe).
  void rewind(size_t m) {
    while (ptrs_.size() > m) {
      alloc_.release(ptrs_.back());
      ptrs_.pop_back();
    }
  }

 private:
  CachingAllocator& alloc_;
  std::vector<void*> ptrs_;
};

}  // namespace rwkv::cuda
