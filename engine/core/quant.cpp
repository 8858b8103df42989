// The int8 / nf4 formats (see quant.h). The code books are bitsandbytes' values; the dynamic
// map is rebuilt here the way create_dynamic_map builds it in float32 (torch.linspace's
// two-sided formula, midpoints, a float32 decade scale), so its 256 values are the ones
// bitsandbytes quantises to.
#include "core/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "core/paths.h"
#include "core/tensor.h"

namespace rwkv {

QuantType parse_quant_type(const std::string& name) {
  if (name == "none" || name.empty()) return QuantType::None;
  if (name == "int8") return QuantType::Int8;
  if (name == "nf4") return QuantType::Nf4;
  throw EngineError("E_FLAG_UNSUPPORTED", "--quant " + name + " is not supported by this engine",
                    "use --quant int8 or --quant nf4 (bitsandbytes' formats, as RWKV-PEFT quantises), or none",
                    "quant");
}

const char* quant_type_name(QuantType t) {
  switch (t) {
    case QuantType::Int8: return "int8";
    case QuantType::Nf4: return "nf4";
    default: return "none";
  }
}

const std::array<float, 16>& nf4_code() {
  // bitsandbytes csrc nf4_dequantization_lut: the normal distribution's quantiles scaled to
  // [-1, 1], 7 negative values, 0, 8 positive (QLoRA's NormalFloat4).
  static const std::array<float, 16> code = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
      0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
  return code;
}

namespace {

// torch.linspace(start, end, steps) in float32: the first half counts up from start, the
// second half down from end, so both ends are exact.
std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v(static_cast<size_t>(steps));
  const float step = (end - start) / float(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; ++i) v[size_t(i)] = i < halfway ? start + step * float(i) : end - step * float(steps - i - 1);
  return v;
}

std::array<float, 256> build_dynamic8() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for each decade
  // 10^-6 .. 10^0 (i = 0..6), 2^i values per sign at the midpoints of linspace(0.1, 1, 2^i + 1),
  // scaled by the decade; then 0 and 1.0; sorted. 2 * 127 + 2 = 256.
  static const double kDecade[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  std::vector<float> data;
  for (int i = 0; i < 7; ++i) {
    const std::vector<float> b = linspace_f32(0.1f, 1.0f, (1 << i) + 1);
    const float scale = float(kDecade[i]);
    for (size_t j = 0; j + 1 < b.size(); ++j) {
      const float mean = (b[j] + b[j + 1]) / 2.0f;
      data.push_back(scale * mean);
      data.push_back(-(scale * mean));
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  std::sort(data.begin(), data.end());
  std::array<float, 256> out{};
  std::copy(data.begin(), data.end(), out.begin());
  return out;
}

// bitsandbytes' dQuantizeNF4: a threshold tree whose thresholds are the midpoints between
// neighbouring code values; a value on a threshold goes to the lower index.
int nf4_index(float x) {
  if (x > 0.03979014977812767f) {
    if (x > 0.3893125355243683f) {
      if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15 : 14;
      return x > 0.5016634166240692f ? 13 : 12;
    }
    if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11 : 10;
    return x > 0.1202552504837513f ? 9 : 8;
  }
  if (x > -0.33967943489551544f) {
    if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7 : 6;
    return x > -0.23460740596055984f ? 5 : 4;
  }
  if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3 : 2;
  return x > -0.8480964004993439f ? 1 : 0;
}

// bitsandbytes' dQuantize (non-stochastic): the nearest code value; a value exactly halfway
// goes to the lower index here (bitsandbytes' binary search breaks such ties by its pivot).
int dynamic8_index(float x) {
  const auto& code = dynamic8_code();
  const auto it = std::lower_bound(code.begin(), code.end(), x);
  if (it == code.begin()) return 0;
  if (it == code.end()) return 255;
  const int hi = int(it - code.begin()), lo = hi - 1;
  return (x - code[size_t(lo)]) <= (code[size_t(hi)] - x) ? lo : hi;
}

float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

}  // namespace

const std::array<float, 256>& dynamic8_code() {
  static const std::array<float, 256> code = build_dynamic8();
  return code;
}

const float* quant_code(QuantType t) {
  if (t == QuantType::Int8) return dynamic8_code().data();
  if (t == QuantType::Nf4) return nf4_code().data();
  return nullptr;
}
int quant_code_size(QuantType t) { return t == QuantType::Int8 ? 256 : t == QuantType::Nf4 ? 16 : 0; }
int64_t quant_block_elems(QuantType t, int64_t n) { return t == QuantType::Nf4 ? 64 : n; }
int quant_bits(QuantType t) { return t == QuantType::Nf4 ? 4 : t == QuantType::Int8 ? 8 : 0; }

uint64_t quant_storage_bytes(QuantType t, int64_t n) {
  if (t == QuantType::None || n <= 0) return 0;
  const int64_t block = std::max<int64_t>(1, quant_block_elems(t, n));
  const uint64_t blocks = uint64_t((n + block - 1) / block);
  const uint64_t codes = t == QuantType::Nf4 ? uint64_t((n + 1) / 2) : uint64_t(n);
  return codes + 4 * blocks;
}

// Runs fn(begin, end) over [0, n) in spans of at least min_span across the machine's cores.
// Quantising a 2.9B base element by element took 95 s (int8) on one core of the device's host,
// longer than the run it starts; every element is independent, so threads give it back.
namespace {
constexpr int64_t kMinThreadElems = int64_t(1) << 18;  // fewer elements are not worth a thread

template <typename Fn>
void parallel_ranges(int64_t n, int64_t min_span, Fn fn) {
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(std::thread::hardware_concurrency(), 32));
  const int64_t span = std::max(min_span, (n + threads - 1) / threads);
  if (span >= n) {
    fn(int64_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t begin = 0; begin < n; begin += span) pool.emplace_back(fn, begin, std::min(n, begin + span));
  for (std::thread& th : pool) th.join();
}
}  // namespace

QuantTensor quantize(QuantType t, const float* w, const std::vector<int64_t>& shape) {
  if (t == QuantType::None) throw EngineError("E_INTERNAL", "quantize called without a quant type", "");
  QuantTensor q;
  q.type = t;
  q.shape = shape;
  q.n = 1;
  for (int64_t d : shape) q.n *= d;
  q.block = std::max<int64_t>(1, quant_block_elems(t, q.n));
  const int64_t blocks = (q.n + q.block - 1) / q.block;
  q.absmax.assign(size_t(blocks), 0.0f);
  q.codes.assign(t == QuantType::Nf4 ? size_t((q.n + 1) / 2) : size_t(q.n), 0);
  if (t == QuantType::Nf4) {
    // whole 64-element blocks per thread (two codes share a byte, so an even split matters too)
    parallel_ranges(blocks, kMinThreadElems / 64, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t begin = b * q.block, end = std::min(q.n, begin + q.block);
        float m = 0.0f;
        for (int64_t i = begin; i < end; ++i) m = std::max(m, std::fabs(w[i]));
        q.absmax[size_t(b)] = m;
        // the kernel multiplies by the reciprocal; an all-zero block stores the zero code
        const float inv = m > 0 ? 1.0f / m : 0.0f;
        for (int64_t i = begin; i < end; ++i) {
          const int idx = m > 0 ? nf4_index(w[i] * inv) : 7;
          uint8_t& byte = q.codes[size_t(i >> 1)];
          byte = (i & 1) ? uint8_t((byte & 0xF0) | idx) : uint8_t((byte & 0x0F) | (idx << 4));
        }
      }
    });
    return q;
  }
  // int8: one absmax for the tensor (a max, so the split cannot change it), then quantize():
  // A / absmax, the nearest code value
  std::mutex max_lock;
  float m = 0.0f;
  parallel_ranges(q.n, kMinThreadElems, [&](int64_t begin, int64_t end) {
    float local = 0.0f;
    for (int64_t i = begin; i < end; ++i) local = std::max(local, std::fabs(w[i]));
    std::lock_guard<std::mutex> hold(max_lock);
    m = std::max(m, local);
  });
  q.absmax[0] = m;
  parallel_ranges(q.n, kMinThreadElems, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) q.codes[size_t(i)] = uint8_t(m > 0 ? dynamic8_index(w[i] / m) : 127);
  });
  return q;
}

void dequantize(const QuantTensor& q, int64_t begin, int64_t count, float* out) {
  const float* code = quant_code(q.type);
  if (!code || begin < 0 || begin + count > q.n)
    throw EngineError("E_INTERNAL", "dequantize out of range", "");
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = begin + k;
    out[k] = round_bf16(code[q.index(i)] * q.absmax[size_t(i / q.block)]);
  }
}

QuantError quant_error(const float* w, const QuantTensor& q) {
  QuantError e;
  double sq = 0, norm = 0;
  std::vector<float> deq(size_t(std::min<int64_t>(q.n, 1 << 16)));
  for (int64_t begin = 0; begin < q.n; begin += int64_t(deq.size())) {
    const int64_t count = std::min<int64_t>(int64_t(deq.size()), q.n - begin);
    dequantize(q, begin, count, deq.data());
    for (int64_t k = 0; k < count; ++k) {
      const int64_t i = begin + k;
      const double d = std::fabs(double(w[i]) - double(deq[size_t(k)]));
      const double am = q.absmax[size_t(i / q.block)];
      e.max_abs = std::max(e.max_abs, d);
      if (am > 0) e.max_rel_absmax = std::max(e.max_rel_absmax, d / am);
      sq += d * d;
      norm += double(w[i]) * double(w[i]);
    }
  }
  e.rms = q.n ? std::sqrt(sq / double(q.n)) : 0;
  e.rel_rms = norm > 0 ? std::sqrt(sq / norm) : 0;
  return e;
}

bool quantised_base_tensor(const std::string& name) {
  if (name.rfind("blocks.", 0) != 0) return false;
  for (const char* suf : {".att.receptance.weight", ".att.key.weight", ".att.value.weight", ".att.output.weight",
                          ".ffn.key.weight", ".ffn.value.weight",
                          ".att.gate.weight", ".ffn.receptance.weight"})  // x060's two more
    if (ends_with(name, suf)) return true;
  return false;
}

}  // namespace rwkv
