#include "core/adapter_math.h"

#include <cmath>

namespace rwkv {

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void kaiming_uniform_lora_a(std::vector<float>& A, int in, uint64_t& stream) {
  const float bound = 1.0f / std::sqrt(float(in));
  for (float& x : A) {
    stream = splitmix(stream);
    x = (float((stream >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f) * bound;
  }
}

void fold_lora(std::vector<float>& w, const std::vector<float>& A, const std::vector<float>& B, int r, int in,
               int out, float scale) {
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      float acc = 0;
      for (int j = 0; j < r; ++j) acc += B[int64_t(o) * r + j] * A[int64_t(j) * in + i];
      w[int64_t(o) * in + i] += scale * acc;
    }
}

void fold_miss(std::vector<float>& w, const std::vector<float>& disha, int r, int out) {
  const int in = int(w.size() / out);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) w[int64_t(o) * in + i] += disha[int64_t(i % r) * out + o];
}

}  // namespace rwkv
