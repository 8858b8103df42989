// One RWKV-6 (x060) block on the CPU, forward and backward in float32, as RWKV-PEFT's
// rwkvt/rwkv6 block.py runs it:  x = x + att(ln1(x));  x = x + ffn(ln2(x)).
//   att: data-dependent token-shift lerps (time_maa_*), r/k/v/gate linears, the low-rank decay,
//        WKV6 with the bonus time_faaaa (state tuning: from time_state), ln_x group norm,
//        times silu(gate), output linear.
//   ffn: token-shift lerps time_maa_k/r, relu(key)^2 -> value, times sigmoid(receptance).
// The ops are cpu/ops.h and cpu/x060_ops.h. The block knows nothing of adapters: the backend
// (cpu_backend.cpp) runs each linear through LinearRunner with whatever wraps it, so LoRA,
// PiSSA, MiSS and quantised bases work here as in the x070 block. Every activation is kept for
// the backward (the CPU backend is the oracle, not the fast path).
#pragma once
#include <cstdint>
#include <vector>

#include "core/model_config.h"

namespace rwkv::x060 {

// A tensor the block reads, and its gradient when it trains (null: frozen).
struct TensorRef {
  const float* w = nullptr;
  float* g = nullptr;
};

// The block's tensors other than its linears (names as in the checkpoint, core/model_x060.h).
struct LayerWeights {
  TensorRef ln1_w, ln1_b, ln2_w, ln2_b;
  TensorRef maa_x, maa_w, maa_k, maa_v, maa_r, maa_g, maa_w1, maa_w2;  // att.time_maa_*
  TensorRef time_decay, decay_w1, decay_w2, faaaa;                      // att.time_decay*, time_faaaa
  TensorRef lnx_w, lnx_b;                                               // att.ln_x
  TensorRef ffn_maa_k, ffn_maa_r;                                       // ffn.time_maa_k/r
  TensorRef time_state;  // state tuning: the initial WKV state [H, N(value), N(key)]; w null = zeros
};

// The block's eight linears (torch layout W [out, in]).
enum class LinearRole : int {
  AttReceptance, AttKey, AttValue, AttGate, AttOutput,  // [C, C]
  FfnKey,                                                // [F, C]
  FfnReceptance,                                         // [C, C]
  FfnValue,                                              // [C, F]
};
constexpr int kLinearCount = 8;

// How the block computes a linear: the backend applies the base weight and its adapter, keeps
// what that linear's backward needs, and accumulates the weight's and the adapter's gradients.
class LinearRunner {
 public:
  virtual ~LinearRunner() = default;
  // y [M, out] = x [M, in] W^T (+ the adapter's term), overwritten.
  virtual void forward(LinearRole role, const float* x, float* y, int M) = 0;
  // dx += dy dy/dx (dx may be null) for the same x the forward saw.
  virtual void backward(LinearRole role, const float* x, const float* dy, float* dx, int M) = 0;
};

// infctx (core/backend.h CarriedState): this layer's carried token-shift inputs ([B, C] each)
// and WKV state ([B, H, N, N]), read as the chunk's start and overwritten with its end. The
// carried values are constants of the chunk: no gradient flows into them.
struct LayerCarry {
  float* att_shift = nullptr;
  float* ffn_shift = nullptr;
  float* wkv = nullptr;
};

// What the forward keeps for the backward.
struct LayerCache {
  std::vector<float> x_in, ln1_mean, ln1_rstd, h1, xx;          // time mix input, ln1, shift
  std::vector<float> xxx, mix_h, mix_m;                           // ddlerp
  std::vector<float> xw, xk, xv, xr, xg;                          // the five mixes
  std::vector<float> r, k, v, gate_pre, g, decay_t, w;            // projections, decay
  std::vector<float> wkv_init, wkv, states;                       // WKV6 (wkv_init: infctx)
  std::vector<float> lnx_mean, lnx_rstd, gn, og;                  // ln_x, ln_x * g
  std::vector<float> x_mid, ln2_mean, ln2_rstd, h2, xx2;          // channel mix input, ln2, shift
  std::vector<float> fxk, fxr, fk, fk_act, kv, fr;                // channel mix
  bool carried = false;
  uint64_t bytes() const;
};

// x [B*T, C]: the block's input, replaced by its output.
void layer_forward(const ModelConfig& cfg, const LayerWeights& w, LinearRunner& linears, int B, int T,
                   std::vector<float>& x, LayerCache& cache, const LayerCarry* carry);
// dx [B*T, C]: the gradient at the block's output, replaced by the gradient at its input. The
// cache's WKV states are released on the way.
void layer_backward(const ModelConfig& cfg, const LayerWeights& w, LinearRunner& linears, int B, int T,
                    LayerCache& cache, std::vector<float>& dx);

}  // namespace rwkv::x060
