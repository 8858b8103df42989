// core/quant: bitsandbytes' code books, quantise / dequantise against values worked out by hand
// from the formats (quant.h), packing, partial blocks, storage bytes and the error statistics.
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "core/errors.h"
#include "core/quant.h"

using namespace rwkv;

namespace {

void code_books() {
  const auto& nf4 = nf4_code();
  CHECK(nf4[0] == -1.0f && nf4[7] == 0.0f && nf4[15] == 1.0f);
  CHECK(nf4[12] == 0.44070982933044434f && nf4[1] == -0.6961928009986877f);
  for (int i = 1; i < 16; ++i) CHECK(nf4[i] > nf4[i - 1]);
  const auto& d8 = dynamic8_code();
  for (int i = 1; i < 256; ++i) CHECK(d8[i] > d8[i - 1]);
  // 127 negative values, 0 at index 127, 128 positive ones ending in 1.0
  CHECK(d8[127] == 0.0f && d8[255] == 1.0f && d8[126] < 0 && d8[128] > 0);
  // the smallest magnitude: 1e-6 times the midpoint of linspace(0.1, 1, 2) = 5.5e-7
  CHECK_CLOSE(d8[128], 5.5e-7, 1e-6);
  CHECK_CLOSE(d8[126], -5.5e-7, 1e-6);
  // the top decade: 64 midpoints of linspace(0.1, 1, 65) (step 0.0140625), from index 191
  CHECK_CLOSE(d8[191], 0.10703125, 1e-6);
  CHECK_CLOSE(d8[254], 0.99296875, 1e-6);
  CHECK_CLOSE(d8[0], -0.99296875, 1e-6);
  // the 1e-1 decade: 32 midpoints of linspace(0.1, 1, 33) times 0.1, from index 159
  CHECK_CLOSE(d8[159], 0.1 * (0.1 + 0.128125) / 2, 1e-6);
  CHECK_CLOSE(d8[190], 0.1 * (1.0 + 0.971875) / 2, 1e-6);
}

void nf4_by_hand() {
  // block 0: absmax 1 (from -1.0); block 1: absmax 2; a partial block 2 of 6 elements
  std::vector<float> w(134, 0.0f);
  w[0] = 0.5f;    // between 0.4407 (12) and 0.5626 (13), under the 0.50166 threshold: 12
  w[1] = -1.0f;   // 0
  w[2] = 0.1f;    // between 0.0796 (8) and 0.1609 (9), under 0.12026: 8
  w[3] = 0.13f;   // over 0.12026: 9
  w[4] = -0.04f;  // over -0.045525: 7 (zero)
  w[64] = 2.0f;   // 1.0: 15
  w[65] = 1.0f;   // 0.5: 12
  w[66] = -0.1f;  // -0.05: 6
  w[130] = -0.25f; w[131] = 0.25f;  // block 2's absmax 0.25: -1 -> 0, 1 -> 15
  const QuantTensor q = quantize(QuantType::Nf4, w.data(), {2, 67});
  CHECK(q.n == 134 && q.block == 64 && q.absmax.size() == 3 && q.codes.size() == 67);
  CHECK(q.absmax[0] == 1.0f && q.absmax[1] == 2.0f && q.absmax[2] == 0.25f);
  CHECK(q.index(0) == 12 && q.index(1) == 0 && q.index(2) == 8 && q.index(3) == 9 && q.index(4) == 7);
  CHECK(q.index(5) == 7);  // zeros
  CHECK(q.index(64) == 15 && q.index(65) == 12 && q.index(66) == 6);
  CHECK(q.index(130) == 0 && q.index(131) == 15 && q.index(133) == 7);
  CHECK(q.codes[0] == ((12 << 4) | 0));  // the first element in the high nibble
  CHECK(q.codes[1] == ((8 << 4) | 9));
  const std::vector<float> d = dequantize(q);
  // bf16(0.44070983) = 1.765625 * 2^-2; bf16(0.88141966) = 1.765625 * 2^-1
  CHECK(d[0] == 0.44140625f && d[1] == -1.0f && d[4] == 0.0f);
  CHECK(d[64] == 2.0f && d[65] == 0.8828125f);
  CHECK(d[130] == -0.25f && d[131] == 0.25f);
  std::vector<float> part(3);
  dequantize(q, 64, 3, part.data());  // a tile gives the same values
  CHECK(part[0] == d[64] && part[1] == d[65] && part[2] == d[66]);
  CHECK(quant_storage_bytes(QuantType::Nf4, 134) == q.bytes() && q.bytes() == 67 + 12);
}

void int8_by_hand() {
  // one absmax for the whole tensor (2.0), the dynamic code's nearest value of w / 2
  std::vector<float> w = {2.0f, -1.0f, 0.5f, 0.0f, 0.001f};
  const QuantTensor q = quantize(QuantType::Int8, w.data(), {5});
  CHECK(q.absmax.size() == 1 && q.absmax[0] == 2.0f && q.block == 5 && q.codes.size() == 5);
  // 1.0 -> 255; -0.5: top-decade midpoint j = 28 (0.50078125) -> index 63 - 28 = 35;
  // 0.25: j = 10 (0.24765625) -> index 191 + 10 = 201; 0 -> 127
  CHECK(q.index(0) == 255 && q.index(1) == 35 && q.index(2) == 201 && q.index(3) == 127);
  // 0.0005: the 1e-3 decade (8 midpoints of linspace(0.1, 1, 9), index 135..142): j = 3, 0.00049375
  CHECK(q.index(4) == 135 + 3);
  const std::vector<float> d = dequantize(q);
  CHECK(d[0] == 2.0f);
  CHECK(d[1] == -1.0f);  // bf16(-1.0015625) rounds to -1
  CHECK(d[2] == 0.49609375f);  // bf16(0.4953125) = 1.984375 * 2^-2
  CHECK(d[3] == 0.0f);
  CHECK_CLOSE(d[4], 0.0009875, 4e-3);
  CHECK(quant_storage_bytes(QuantType::Int8, 4096) == 4096 + 4);
  CHECK(quant_storage_bytes(QuantType::Nf4, 4096) == 2048 + 64 * 4);
  // an all-zero tensor stays zero
  std::vector<float> z(8, 0.0f);
  CHECK(dequantize(quantize(QuantType::Int8, z.data(), {8}))[3] == 0.0f);
  CHECK(dequantize(quantize(QuantType::Nf4, z.data(), {8}))[3] == 0.0f);
}

void error_statistics() {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(256 * 192);
  for (float& x : w) x = normal(gen);
  w[100] = 0.5f;  // one outlier, as trained weights have
  const QuantTensor q8 = quantize(QuantType::Int8, w.data(), {256, 192});
  const QuantTensor q4 = quantize(QuantType::Nf4, w.data(), {256, 192});
  const QuantError e8 = quant_error(w.data(), q8), e4 = quant_error(w.data(), q4);
  // the formats' own bounds: half the widest code gap of the absmax, plus bf16's half ulp
  CHECK(e8.max_rel_absmax <= 0.0140625 / 2 + 1.0 / 256);
  CHECK(e4.max_rel_absmax <= (1.0 - 0.6961928009986877) / 2 + 1.0 / 256);  // the -1 .. -0.696 gap
  CHECK(e8.max_abs <= 0.5 * e8.max_rel_absmax + 1e-9);
  // the per-64 absmax of nf4 adapts to the outlier; int8's one absmax does not, but its 256
  // values are finer: both under 20% relative error, and not zero
  CHECK(e8.rel_rms > 1e-4 && e8.rel_rms < 0.2);
  CHECK(e4.rel_rms > 1e-3 && e4.rel_rms < 0.2);
  CHECK(e8.rms > 0 && e4.rms > 0 && e4.max_abs > 0);
  std::fprintf(stderr, "gaussian 0.02 + one 0.5 outlier: int8 rel_rms %.4f max_abs %.5f; nf4 rel_rms %.4f max_abs %.5f\n",
               e8.rel_rms, e8.max_abs, e4.rel_rms, e4.max_abs);
}

void names_and_types() {
  CHECK(quantised_base_tensor("blocks.3.ffn.value.weight"));
  CHECK(quantised_base_tensor("blocks.0.att.receptance.weight"));
  CHECK(!quantised_base_tensor("head.weight") && !quantised_base_tensor("emb.weight"));
  CHECK(!quantised_base_tensor("blocks.0.att.w1") && !quantised_base_tensor("blocks.0.ln1.weight"));
  CHECK(!quantised_base_tensor("blocks.0.att.key.lora_A"));
  CHECK(parse_quant_type("int8") == QuantType::Int8 && parse_quant_type("nf4") == QuantType::Nf4);
  CHECK(parse_quant_type("none") == QuantType::None);
  CHECK_THROWS_CODE(parse_quant_type("fp4"), "E_FLAG_UNSUPPORTED");
  CHECK_THROWS_CODE(parse_quant_type("4bit"), "E_FLAG_UNSUPPORTED");
}

// A tensor big enough that quantize() splits it across threads: every int8 code is still the
// nearest code value to w / absmax (found here by scanning all 256), and every nf4 block equals
// that block quantised on its own (a tensor too small to split).
void threaded_split_matches() {
  const int64_t n = 3 * (int64_t(1) << 19) + 64 * 7 + 10;  // several spans, a partial last block
  std::vector<float> w(static_cast<size_t>(n));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (float& x : w) x = normal(rng);
  w[size_t(n / 2)] = 0.5f;  // the tensor's absmax sits in the middle span
  const QuantTensor q8 = quantize(QuantType::Int8, w.data(), {n});
  CHECK(q8.absmax.size() == 1 && q8.absmax[0] == 0.5f);
  const auto& code = dynamic8_code();
  int wrong8 = 0;
  for (int64_t i = 0; i < n; i += 997) {
    const float x = w[size_t(i)] / 0.5f;
    int best = 0;
    for (int c = 1; c < 256; ++c)
      if (std::fabs(code[size_t(c)] - x) < std::fabs(code[size_t(best)] - x)) best = c;
    const int got = q8.codes[size_t(i)];
    // a tie (equal distance) may go either way
    wrong8 += got != best && std::fabs(code[size_t(got)] - x) != std::fabs(code[size_t(best)] - x);
  }
  CHECK(wrong8 == 0);
  const QuantTensor q4 = quantize(QuantType::Nf4, w.data(), {n});
  int wrong4 = 0;
  for (int64_t b = 0; b * 64 < n; b += 211) {
    const int64_t begin = b * 64, count = std::min<int64_t>(64, n - begin);
    const QuantTensor one = quantize(QuantType::Nf4, w.data() + begin, {count});
    wrong4 += one.absmax[0] != q4.absmax[size_t(b)];
    for (int64_t k = 0; k < count; ++k) wrong4 += one.index(k) != q4.index(begin + k);
  }
  const int64_t last = (n - 1) / 64;  // the partial block
  const QuantTensor tail = quantize(QuantType::Nf4, w.data() + last * 64, {n - last * 64});
  for (int64_t k = 0; k < n - last * 64; ++k) wrong4 += tail.index(k) != q4.index(last * 64 + k);
  CHECK(wrong4 == 0);
}

}  // namespace

int main() {
  code_books();
  nf4_by_hand();
  int8_by_hand();
  error_statistics();
  names_and_types();
  threaded_split_matches();
  return rwkv_test::summary("quant_test");
}
