// dtype table and bf16/fp16 conversions: exact values, round to nearest even, specials.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "core/tensor.h"
#include "tests/check.h"

using namespace rwkv;

static float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

int main() {
  CHECK(std::string(dtype_name(DType::BF16)) == "bfloat16");
  CHECK(std::string(dtype_name(DType::F16)) == "float16");
  CHECK(std::string(dtype_name(DType::F32)) == "float32");
  CHECK(dtype_size(DType::BF16) == 2 && dtype_size(DType::F32) == 4 && dtype_size(DType::I64) == 8);

  // bf16: exact values and ties to even.
  CHECK(f32_to_bf16(1.0f) == 0x3F80);
  CHECK(f32_to_bf16(-2.0f) == 0xC000);
  CHECK(f32_to_bf16(from_bits(0x3F808000)) == 0x3F80);  // tie, keep even
  CHECK(f32_to_bf16(from_bits(0x3F818000)) == 0x3F82);  // tie, round up to even
  CHECK(f32_to_bf16(from_bits(0x3F808001)) == 0x3F81);  // above the tie
  CHECK(f32_to_bf16(from_bits(0x7F7FFFFF)) == 0x7F80);  // max float rounds to inf
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bf16_to_f32(0x4049) == 3.140625f);

  // fp16: normals, ties, overflow, subnormals.
  CHECK(f32_to_f16(1.0f) == 0x3C00);
  CHECK(f32_to_f16(-2.0f) == 0xC000);
  CHECK(f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(f32_to_f16(65519.0f) == 0x7BFF);
  CHECK(f32_to_f16(65520.0f) == 0x7C00);
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);          // tie to even (down)
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);      // tie to even (up)
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);                 // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);                 // tie to even: zero
  CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);                 // 1.5 ulp: tie to even 2
  CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);                 // smallest normal
  CHECK(f32_to_f16(std::ldexp(1023.0f, -24) + std::ldexp(1.0f, -25)) == 0x0400);  // rounds up into normals
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_to_f32(0x7C00) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  CHECK(std::signbit(f16_to_f32(f32_to_f16(-0.0f))));
  // Every half converts to float and back unchanged (except NaN payloads).
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;
    if (f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))) != h) ++mismatches;
    if (f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(h))) != h && ((h & 0x7F80) != 0x7F80 || !(h & 0x7F))) ++mismatches;
  }
  CHECK(mismatches == 0);

  // HostTensor round trips through each float dtype.
  std::vector<float> values = {0.0f, 1.0f, -1.5f, 3.140625f, 1e-3f};
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
    HostTensor t = HostTensor::from_f32(values, {5}, dt);
    CHECK(t.bytes.size() == 5 * dtype_size(dt));
    std::vector<float> back = t.to_f32();
    for (size_t i = 0; i < values.size(); ++i) CHECK_CLOSE(back[i], values[i], dt == DType::BF16 ? 4e-3 : 1e-3);
  }
  CHECK(HostTensor::from_f32({1, 2, 3, 4, 5, 6}, {2, 3}).numel() == 6);
  CHECK_THROWS_CODE(HostTensor::from_f32({1, 2, 3}, {2, 2}), "E_TENSOR_SIZE");
  CHECK_THROWS_CODE(HostTensor::from_f32({1}, {1}, DType::I32), "E_TENSOR_DTYPE");
  HostTensor short_tensor;
  short_tensor.shape = {4};
  short_tensor.bytes.resize(8);
  CHECK_THROWS_CODE(short_tensor.to_f32(), "E_TENSOR_SIZE");
  return rwkv_test::summary("tensor_test");
}
