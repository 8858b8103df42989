// The element-wise kernels the RWKV-6 (x060) block needs beside kernels.h's (cuda/x060_kernels.cu):
// the last step of the time mix's data-dependent token-shift lerp and a fused multiply-add for
// its gates. Each has a double-precision twin in device_tests/cpu_twins.h, and the chain they are
// part of is the CPU backend's cpu/x060_ops.h ddlerp_fwd / ddlerp_bwd (the oracle).
#pragma once
#include <cstdint>

#include "cuda/kernels.h"

namespace rwkv::cuda {

// The time mix's five data-dependent mixes, in RWKV-PEFT's unbind order: w, k, v, r, g.
constexpr int kX060Mixes = 5;
struct X060MixVectors {
  const float* mu[kX060Mixes];  // att.time_maa_w/k/v/r/g, [C] fp32 each
};
struct X060MixGrads {
  float* dmu[kX060Mixes];  // their gradients (an entry may be null: frozen)
};

// out_j = x + xx * (mu_j + m_j), xx = x[t-1] - x (x[-1]: prev's row, infctx's carried input, or 0).
// x: [B,T,C]; m, out: kX060Mixes tensors [B*T, C] end to end (m_j = tanh(xxx W1)_j W2_j, the
// low-rank part of mix j).
void ddlerp_combine_forward(int B, int T, int C, const bf16_t* x, const X060MixVectors& mu, const bf16_t* m,
                            bf16_t* out, cudaStream_t stream, const float* prev = nullptr);
// From dout (kX060Mixes tensors like out): dx WRITTEN (through x and its shift), dm_j = dout_j * xx
// WRITTEN, dmu_j ACCUMULATED in fp32 (prev is a constant: no gradient flows into it).
void ddlerp_combine_backward(int B, int T, int C, const bf16_t* x, const X060MixVectors& mu, const bf16_t* m,
                             const bf16_t* dout, bf16_t* dx, bf16_t* dm, const X060MixGrads& dmu,
                             cudaStream_t stream, const float* prev = nullptr);

// out = res + a * b (res may be null: out = a * b; out may alias res). The output gate
// ln_x(wkv) * silu(g) and the channel mix's x_mid + sigmoid(r) * value(k); the backward of a
// product is gate_backward (model_kernels.h).
void mul_add_forward(int64_t n, const bf16_t* a, const bf16_t* b, const bf16_t* res, bf16_t* out,
                     cudaStream_t stream);

}  // namespace rwkv::cuda
