// Quantised frozen base weights (--quant int8 | nf4), in the formats RWKV-PEFT trains with. Both
// backends, the merge and the planner use this one description, so the CPU oracle, the GPU twin
// (cuda/quant_dequant.cu) and the memory plan agree on every byte.
//
// What RWKV-PEFT does (JL-er/RWKV-PEFT rwkvt/peft/rwkvLinear.py, the trainer that implements
// --quant; the newest Joluck/RWKV-PEFT parses --quant and ignores it): it quantises the weight of
// every block linear (att.receptance/key/value/output, ffn.key/value) through bitsandbytes and
// dequantises it to bf16 in each forward (F.linear(x, dequant(qweight)) + adapter). emb, head,
// the low-rank w/a/v/g matrices and every vector stay as they are.
//   int8 = bnb.functional.quantize: ONE fp32 absmax for the whole tensor and bitsandbytes'
//          256-value "dynamic" code book (create_dynamic_map(signed=True, 7 exponent bits));
//          each element stores the index of the code value nearest to w / absmax.
//          (Not LLM.int8's row-wise linear absmax: that is bnb.nn.Linear8bitLt, which
//          RWKV-PEFT does not use.)
//   nf4  = bnb.functional.quantize_nf4 (blocksize 64, compress_statistics False): one fp32
//          absmax per 64 consecutive elements of the row-major tensor (the last block may be
//          shorter), the 16-value NormalFloat code book, the index nearest to w * (1/absmax)
//          chosen by bitsandbytes' threshold tree, two indices a byte, the first element in the
//          high nibble.
// Both dequantise as code[index] * absmax in fp32, rounded to bf16 (rwkv_dequantize's
// .to(torch.bfloat16)): that bf16 value is what the GEMM multiplies with, here and on the GPU.
// Both formats are "code book + absmax per block"; they differ only in the book and the block.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/gpu_switches.h"  // cuda_quant_switch_on

namespace rwkv {

enum class QuantType { None, Int8, Nf4 };

// "none" | "int8" | "nf4". Other names (fp4, 4bit, fp8: the older RWKV-PEFT's) throw
// E_FLAG_UNSUPPORTED with a hint naming the two that are implemented.
QuantType parse_quant_type(const std::string& name);
const char* quant_type_name(QuantType t);

// bitsandbytes' NF4 values, index 0..15 (nf4_dequantization_lut).
const std::array<float, 16>& nf4_code();
// bitsandbytes' dynamic 8-bit map (create_dynamic_map(True, 7, 8)), sorted, 256 values in
// [-0.99297, 1]: 127 negative, 0, 128 positive.
const std::array<float, 256>& dynamic8_code();

// The code book and absmax block of a type: the only two things the formats differ in.
// block_elems(n): elements that share one absmax in a tensor of n elements.
const float* quant_code(QuantType t);
int quant_code_size(QuantType t);
int64_t quant_block_elems(QuantType t, int64_t n);
int quant_bits(QuantType t);  // 8 or 4 bits an element

struct QuantTensor {
  QuantType type = QuantType::None;
  std::vector<int64_t> shape;
  int64_t n = 0;
  int64_t block = 0;            // elements per absmax (n for int8, 64 for nf4)
  std::vector<uint8_t> codes;   // int8: one index a byte; nf4: two a byte, first in the high nibble
  std::vector<float> absmax;    // one per block, fp32
  uint64_t bytes() const { return codes.size() + absmax.size() * 4; }
  int index(int64_t i) const {  // the code index of element i
    if (type == QuantType::Nf4) return i & 1 ? codes[size_t(i >> 1)] & 0x0F : codes[size_t(i >> 1)] >> 4;
    return codes[size_t(i)];
  }
};

// Quantises n = prod(shape) fp32 values (throws E_INTERNAL for QuantType::None).
QuantTensor quantize(QuantType t, const float* w, const std::vector<int64_t>& shape);
// The bf16-rounded dequantised values (as fp32) of elements [begin, begin + count): a matrix, a
// tile of its rows, or one element at a time.
void dequantize(const QuantTensor& q, int64_t begin, int64_t count, float* out);
inline std::vector<float> dequantize(const QuantTensor& q) {
  std::vector<float> out(size_t(q.n));
  dequantize(q, 0, q.n, out.data());
  return out;
}

// Storage of one quantised tensor of n elements: codes + fp32 absmax per block.
uint64_t quant_storage_bytes(QuantType t, int64_t n);

// How far the dequantised weight is from the original one, per tensor.
struct QuantError {
  double max_abs = 0;      // max |w - deq(w)|
  double rms = 0;          // sqrt(mean (w - deq(w))^2)
  double rel_rms = 0;      // ||w - deq(w)|| / ||w|| (0 for an all-zero tensor)
  double max_rel_absmax = 0;  // max |w - deq(w)| / absmax of the element's block: the format's
                              // own bound (half the widest code gap, plus bf16's rounding)
};
QuantError quant_error(const float* w, const QuantTensor& q);

// Whether RWKV-PEFT quantises the base tensor of this name: the block linears' weights (x070's six,
// x060's eight: its att.gate and ffn.receptance too).
bool quantised_base_tensor(const std::string& name);

}  // namespace rwkv
