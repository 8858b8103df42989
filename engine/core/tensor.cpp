// dtype names/sizes, bf16/fp16 conversions (round to nearest even) and float32 views of host
// tensors. See tensor.h.
#include "core/tensor.h"

#include <cmath>
#include <cstring>

#include "core/errors.h"

namespace rwkv {

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::F64: return "float64";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::I16: return "int16";
    case DType::U8: return "uint8";
    case DType::I8: return "int8";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

size_t dtype_size(DType dt) {
  switch (dt) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::U8: case DType::I8: case DType::Bool: return 1;
  }
  return 0;
}

static uint32_t float_bits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
static float bits_float(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }

uint16_t f32_to_bf16(float x) {
  uint32_t u = float_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  // Round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then truncate.
  uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

float bf16_to_f32(uint16_t x) { return bits_float(static_cast<uint32_t>(x) << 16); }

uint16_t f32_to_f16(float x) {
  uint32_t u = float_bits(x);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;          // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;         // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {                               // below the smallest normal half
    if (abs < 0x33000000u) return sign;                  // < 2^-25: rounds to zero
    // Subnormal half: value = mantissa * 2^-24. Shift the full significand into place and
    // round to nearest even by hand.
    uint32_t exponent = abs >> 23;
    uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = 126 - exponent;                     // 14 .. 24 for this range
    uint32_t half = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return sign | static_cast<uint16_t>(half);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits; a carry
  // out of the mantissa correctly bumps the exponent.
  uint32_t rebased = abs - (112u << 23);
  uint32_t rounding = 0xFFFu + ((rebased >> 13) & 1u);
  return sign | static_cast<uint16_t>((rebased + rounding) >> 13);
}

float f16_to_f32(uint16_t x) {
  uint32_t sign = static_cast<uint32_t>(x & 0x8000u) << 16;
  uint32_t exponent = (x >> 10) & 0x1Fu;
  uint32_t mantissa = x & 0x3FFu;
  if (exponent == 0x1F) return bits_float(sign | 0x7F800000u | (mantissa << 13));  // inf / NaN
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    float value = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal, exact in f32
    return sign ? -value : value;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> HostTensor::to_f32() const {
  const int64_t n = numel();
  if (n < 0 || bytes.size() < static_cast<size_t>(n) * dtype_size(dtype))
    throw EngineError("E_TENSOR_SIZE", "tensor holds " + std::to_string(bytes.size()) +
                      " bytes, fewer than its shape needs");
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::F32: { float v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::F64: { double v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<float>(v); break; }
      case DType::BF16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = bf16_to_f32(v); break; }
      case DType::F16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = f16_to_f32(v); break; }
      case DType::I64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<float>(v); break; }
      case DType::I32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = static_cast<float>(v); break; }
      case DType::I16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = static_cast<float>(v); break; }
      case DType::U8: out[i] = static_cast<float>(p[i]); break;
      case DType::I8: out[i] = static_cast<float>(static_cast<int8_t>(p[i])); break;
      case DType::Bool: out[i] = p[i] ? 1.0f : 0.0f; break;
    }
  }
  return out;
}

HostTensor HostTensor::from_f32(const std::vector<float>& values, std::vector<int64_t> shape,
                                DType stored_as) {
  HostTensor t;
  t.dtype = stored_as;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(values.size()))
    throw EngineError("E_TENSOR_SIZE", "from_f32: " + std::to_string(values.size()) +
                      " values do not fill shape of " + std::to_string(t.numel()) + " elements");
  const size_t n = values.size();
  t.bytes.resize(n * dtype_size(stored_as));
  uint8_t* p = t.bytes.data();
  for (size_t i = 0; i < n; ++i) {
    float v = values[i];
    switch (stored_as) {
      case DType::F32: std::memcpy(p + 4 * i, &v, 4); break;
      case DType::F64: { double d = v; std::memcpy(p + 8 * i, &d, 8); break; }
      case DType::BF16: { uint16_t h = f32_to_bf16(v); std::memcpy(p + 2 * i, &h, 2); break; }
      case DType::F16: { uint16_t h = f32_to_f16(v); std::memcpy(p + 2 * i, &h, 2); break; }
      default:
        throw EngineError("E_TENSOR_DTYPE", std::string("from_f32 cannot store as ") + dtype_name(stored_as),
                          "store floating-point values as float32, float16, bfloat16 or float64");
    }
  }
  return t;
}

}  // namespace rwkv
