// --quant on the GPU: a frozen block linear stored as core/quant.h lays it out (code indices +
// fp32 absmax per block, bitsandbytes' int8 / nf4), dequantised to bf16 into a scratch buffer
// right before each GEMM that reads it (cuda/adapted_linear.cu), so no bf16 copy of the model
// exists. The kernel is the twin of core/quant.cpp's dequantize (bit-exact: the same fp32
// product, the same round-to-nearest-even to bf16); device_tests/kernel_check.cu compares them.
// Off unless RWKV_CUDA_QUANT=1 (core/gpu_switches.h cuda_quant_switch_on) until it has run on a GPU.
#pragma once
#include <cstdint>

#include "core/quant.h"
#include "cuda/kernels.h"

namespace rwkv::cuda {

struct DeviceQuant {
  QuantType type = QuantType::None;
  int64_t n = 0;               // elements
  int64_t block = 0;           // elements per absmax
  const uint8_t* codes = nullptr;   // int8: one index a byte; nf4: two, the first in the high nibble
  const float* absmax = nullptr;    // one per block
  const float* code = nullptr;      // the code book on the device (quant_code_size(type) floats)
};

// out[i] = bf16(code[index(i)] * absmax[i / block]) for i in [0, n).
void dequantize_bf16(const DeviceQuant& q, bf16_t* out, cudaStream_t stream);

}  // namespace rwkv::cuda
