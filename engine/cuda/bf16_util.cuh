// bf16 <-> fp32 helpers shared by the kernels (device side).
#pragma once
#include <cuda_bf16.h>
#include <cstdint>

namespace rwkv::cuda {
__device__ __forceinline__ float ld(const uint16_t* p, int64_t i) {
  return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
}
__device__ __forceinline__ void st(uint16_t* p, int64_t i, float x) {
  reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(x);
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
// Sum over a block of blockDim.x threads (multiple of 32, at most 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float x) {
  __shared__ float partial[32];
  __syncthreads();
  x = warp_sum(x);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = x;
  __syncthreads();
  int warps = blockDim.x >> 5;
  x = lane < warps ? partial[lane] : 0.f;
  return warp_sum(x);
}
__device__ __forceinline__ float block_max(float x) {
  __shared__ float partial[32];
  __syncthreads();
  x = warp_max(x);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = x;
  __syncthreads();
  int warps = blockDim.x >> 5;
  x = lane < warps ? partial[lane] : -INFINITY;
  return warp_max(x);
}
}  // namespace rwkv::cuda
