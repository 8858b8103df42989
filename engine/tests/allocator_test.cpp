// The CUDA caching allocator's block sizes, which the memory planner (core/planner.cpp
// engine_block) mirrors: 512-byte steps below 1 MiB, 2 MiB steps above, and the exact-size
// blocks for long-lived buffers that are switched off until they have run on a GPU.
// Pure arithmetic: needs no GPU. Built without the CUDA backend there is nothing to check
// (CTest's skip code).
#include <cstdio>
#include <cstdlib>

#include "tests/check.h"

#ifdef RWKV_HAVE_CUDA
#include "cuda/caching_allocator.h"
#endif

int main() {
#ifndef RWKV_HAVE_CUDA
  std::fprintf(stderr, "allocator_test: built without the CUDA backend, skipped\n");
  return 77;
#else
  using rwkv::cuda::CachingAllocator;
  const size_t MiB = size_t(1) << 20;
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(655360) == 655360);             // a 2560 x 64 fp32 LoRA A
  CHECK(CachingAllocator::round_size(13107200) == 14 * MiB);         // a 2560 x 2560 bf16 matrix
  CHECK(CachingAllocator::round_size(2621440) == 4 * MiB);           // a 10240 x 64 fp32 LoRA B
  // the switch is off unless asked for, and this test runs without it
  if (!std::getenv("RWKV_CUDA_EXACT_BLOCKS")) {
    CHECK(!CachingAllocator::exact_blocks_enabled());
    CHECK(CachingAllocator::block_size(13107200, true) == 14 * MiB);
  } else if (CachingAllocator::exact_blocks_enabled()) {
    CHECK(CachingAllocator::block_size(13107200, true) == 13107200);
    CHECK(CachingAllocator::block_size(13107200, false) == 14 * MiB);
  }
  return rwkv_test::summary("allocator_test");
#endif
}
