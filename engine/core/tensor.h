// Host tensors as the file formats see them: a dtype, a shape and bytes. The CPU backend works
// on float32 copies (to_f32); the CUDA backend uploads bf16/fp32 bytes as they are.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, U8, I8, Bool };

const char* dtype_name(DType dt);          // "float32", "bfloat16", ... (torch's names)
size_t dtype_size(DType dt);               // bytes per element

struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;              // contiguous, row-major, little-endian

  int64_t numel() const;
  std::vector<float> to_f32() const;       // converts any float dtype to float32
  static HostTensor from_f32(const std::vector<float>& values, std::vector<int64_t> shape,
                             DType stored_as = DType::F32);  // rounds to bf16/fp16 as asked
};

// bf16 and fp16 conversions (round to nearest even), shared by every part of the engine.
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t x);
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t x);

}  // namespace rwkv
