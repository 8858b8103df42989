// The CUDA backend's memory arithmetic that the memory planner (core/planner.cpp) mirrors: the
// caching allocator's block sizes for step buffers (512-byte steps below 1 MiB, 2 MiB steps
// above) and the long-lived slab (cuda/param_slab.h), which packs tensors at 256-byte alignment
// instead of a 2 MiB block each. Pure arithmetic: needs no GPU. Built without the CUDA backend
// there is nothing to check (CTest's skip code).
#include <cstdio>
#include <cstdlib>

#include "core/gpu_switches.h"
#include "tests/check.h"

#ifdef RWKV_HAVE_CUDA
#include "cuda/caching_allocator.h"
#include "cuda/param_slab.h"
#endif

int main() {
#ifndef RWKV_HAVE_CUDA
  std::fprintf(stderr, "allocator_test: built without the CUDA backend, skipped\n");
  return 77;
#else
  using rwkv::cuda::CachingAllocator;
  using rwkv::cuda::ParamSlab;
  const size_t MiB = size_t(1) << 20;
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(655360) == 655360);             // a 2560 x 64 fp32 LoRA A
  CHECK(CachingAllocator::round_size(13107200) == 14 * MiB);         // a 2560 x 2560 bf16 matrix
  CHECK(CachingAllocator::round_size(2621440) == 4 * MiB);           // a 10240 x 64 fp32 LoRA B
  // The slab's sizing pass: consecutive, 256-byte aligned, nothing rounded to pages.
  ParamSlab slab;
  CHECK(slab.sizing());
  const auto a = reinterpret_cast<uintptr_t>(slab.take<float>(10));        // 40 B -> 256
  const auto b = reinterpret_cast<uintptr_t>(slab.take<uint16_t>(6553600));  // 12.5 MiB bf16
  const auto c = reinterpret_cast<uintptr_t>(slab.take<float>(655360));     // 2.5 MiB fp32
  CHECK(a == 0 && b == 256 && c == 256 + 13107200);
  CHECK(slab.bytes() == 256 + 13107200 + 2621440);
  CHECK(slab.bytes() < CachingAllocator::round_size(40) + 14 * MiB + 4 * MiB - 2 * MiB);
  // Verified on a GPU: on unless turned off. Not yet run on a GPU: off unless asked for.
  unsetenv("RWKV_CUDA_PARAM_SLAB");
  CHECK(rwkv::cuda_param_slab_enabled());
  setenv("RWKV_CUDA_PARAM_SLAB", "0", 1);
  CHECK(!rwkv::cuda_param_slab_enabled());
  setenv("RWKV_CUDA_PARAM_SLAB", "1", 1);
  CHECK(rwkv::cuda_param_slab_enabled());
  unsetenv("RWKV_CUDA_LR_GROUPS");
  CHECK(rwkv::cuda_lr_groups_enabled());
  setenv("RWKV_CUDA_LR_GROUPS", "0", 1);
  CHECK(!rwkv::cuda_lr_groups_enabled());
  unsetenv("RWKV_CUDA_LR_GROUPS");
  if (!std::getenv("RWKV_CUDA_WKV7_CHUNKED")) CHECK(!rwkv::cuda_wkv7_chunked_enabled());
  return rwkv_test::summary("allocator_test");
#endif
}
