// The dequantising kernel of quant_dequant.h. Memory-bound (0.5-1 byte read and 2 written per
// element, once per GEMM that reads the matrix); the code book sits in shared memory.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/quant_dequant.h"

namespace rwkv::cuda {
namespace {

constexpr int kThreads = 256;

template <bool kNf4>
__global__ void dequantize_kernel(int64_t n, int64_t block, int code_size, const uint8_t* __restrict__ codes,
                                  const float* __restrict__ absmax, const float* __restrict__ code,
                                  bf16_t* __restrict__ out) {
  __shared__ float book[256];
  for (int i = threadIdx.x; i < code_size; i += blockDim.x) book[i] = code[i];
  __syncthreads();
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int idx;
    if (kNf4) {
      const uint8_t byte = codes[i >> 1];
      idx = (i & 1) ? (byte & 0x0F) : (byte >> 4);
    } else {
      idx = codes[i];
    }
    st(out, i, book[idx] * absmax[i / block]);
  }
}

}  // namespace

void dequantize_bf16(const DeviceQuant& q, bf16_t* out, cudaStream_t stream) {
  if (q.n <= 0) return;
  const unsigned blocks = (unsigned)std::min<int64_t>((q.n + kThreads - 1) / kThreads, 1 << 16);
  if (q.type == QuantType::Nf4)
    dequantize_kernel<true><<<blocks, kThreads, 0, stream>>>(q.n, q.block, 16, q.codes, q.absmax, q.code, out);
  else
    dequantize_kernel<false><<<blocks, kThreads, 0, stream>>>(q.n, q.block, 256, q.codes, q.absmax, q.code, out);
  check_cuda(cudaGetLastError(), "dequantize_bf16");
}

}  // namespace rwkv::cuda
