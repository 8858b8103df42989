// One tensor of the model on the GPU: its fp32 master / bf16 GEMM copy (or, for a --quant frozen
// linear, its codes and absmax), and for trained tensors the fp32 gradient and AdamW moments.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/kernels.h"
#include "cuda/quant_dequant.h"

namespace rwkv::cuda {

struct DParam {
  std::string name;
  std::vector<int64_t> shape;
  int64_t n = 0;
  bool trainable = false, adapter = false, gemm = false;
  std::vector<float> host;   // initial values until upload
  float* master = nullptr;   // fp32: trained tensors and every small vector
  bf16_t* w16 = nullptr;     // bf16: every GEMM operand
  float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  bool packed = false;       // master/grad live in a per-layer packed block (the six mixes)
  DeviceQuant q;             // --quant: a frozen block linear stored quantised (then no w16)
};

inline float* grad_of(const DParam* p) { return p && p->trainable ? p->grad : nullptr; }

}  // namespace rwkv::cuda
