// One RWKV-6 (x060) block on the GPU, forward and backward: the CPU's cpu/x060_layer.cpp (the
// oracle, RWKV-PEFT's rwkvt/rwkv6 block) with bf16 activations, fp32 accumulation, cuBLASLt
// GEMMs and the adapted linears of adapted_linear.h, so full, LoRA (with dropout), PiSSA, MiSS,
// state tuning and infctx go through it as through the x070 block of cuda_model.cu.
//   att: ddlerp token shift (time_maa_x, the low-rank time_maa_w1/w2 and the five time_maa_*),
//        r/k/v/gate linears, the decay time_decay + tanh(xw decay_w1) decay_w2, WKV6 (wkv6.cu)
//        with the bonus time_faaaa (state tuning: from time_state), ln_x group norm, times
//        silu(gate), output linear.
//   ffn: token-shift lerps time_maa_k/r, relu(key)^2 -> value, times sigmoid(receptance).
// Layer 0 applies ln0 first, as the CPU backend does between the embedding and the blocks.
// Used by cuda_model.cu only when core/gpu_switches.h's cuda_x060_enabled() (not yet run on a GPU).
#pragma once
#include <cstdint>

#include "cuda/adapted_linear.h"
#include "cuda/arena.h"
#include "cuda/cuda_context.h"
#include "cuda/device_param.h"
#include "cuda/x060_kernels.h"

namespace rwkv::cuda::x060 {

// The block's linears in cpu/x060_layer.h's LinearRole order; AdaptedLinear::slot = layer * 8 +
// this index, which is the CPU backend's dropout salt for the same linear.
enum Linear : int { AttReceptance, AttKey, AttValue, AttGate, AttOutput, FfnKey, FfnReceptance, FfnValue };
constexpr int kLinearCount = 8;

struct BlockParams {
  DParam *ln0_w = nullptr, *ln0_b = nullptr;  // layer 0 only
  DParam *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  DParam* maa_x;
  DParam* maa[kX060Mixes];  // time_maa_w, _k, _v, _r, _g
  DParam *maa_w1, *maa_w2;  // [C, 5 Dm], [5, Dm, C]
  DParam *time_decay, *decay_w1, *decay_w2;  // [C], [C, Dd], [Dd, C]
  DParam *faaaa, *lnx_w, *lnx_b, *ffn_maa_k, *ffn_maa_r;
  DParam* time_state = nullptr;  // state tuning: [H, N, N]
  AdaptedLinear lin[kLinearCount];
};

struct BlockShape {
  int B, T, M, C, H, N, F, Dm, Dd;  // M = B*T; Dm, Dd: the mix and decay low-rank widths
  float lnx_eps;
  int64_t MC;
};

// Where the block's token shifts and WKV state start (infctx's carry, state tuning's state).
struct BlockStart {
  const float* att_prev = nullptr;  // [B,C] fp32
  const float* ffn_prev = nullptr;  // [B,C]
  const float* wkv_s0 = nullptr;    // [B,H,N,N] (stride H*N*N) or [H,N,N] (stride 0)
  int64_t wkv_stride = 0;
  float* wkv_ds0 = nullptr;         // state tuning: d time_state
};
// Where the forward leaves what infctx carries into the next chunk.
struct BlockEnd {
  float* att_last = nullptr;  // [B,C]
  float* ffn_last = nullptr;  // [B,C]
  float* wkv_last = nullptr;  // [B,H,N,N]
};

// The activation table block_forward writes for block_backward (bf16 unless noted).
struct BlockActs {
  const bf16_t* x_in = nullptr;
  bf16_t* att_in = nullptr;               // layer 0: ln0(x_in); else x_in
  float *ln0_mean = nullptr, *ln0_rstd = nullptr, *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;  // [M]
  bf16_t *h1, *xxx, *mix_pre, *mix_h;     // ln1; x + xx maa_x; xxx W1 and its tanh [M, 5 Dm]
  bf16_t *mix_m, *mix;                    // [5, M, C]: the low-rank parts; xw, xk, xv, xr, xg
  bf16_t *r, *k, *v, *gate_pre, *g;       // g = silu(gate_pre)
  bf16_t *decay_pre, *decay_t, *decay_lr, *w;  // [M, Dd] x2; decay_t W2; w = time_decay + it
  bf16_t *wkv, *gn, *og, *x_mid;          // WKV6 out, ln_x, gn * g, the time mix's residual sum
  float *lnx_mean, *lnx_rstd;             // [M, H]
  bf16_t *h2, *fxk, *fxr, *fk, *fk_act, *kv, *fr_pre, *fr;  // fk, fk_act: [M, F]
  LinearKept kept[kLinearCount];
};

// x_out = block(x_in) (x_out null: a recomputation for the backward, the table only). `end`
// (infctx, may be null) receives the chunk's final token-shift inputs and WKV state.
void block_forward(Context& ctx, const BlockParams& P, const AdapterRun& run, const BlockShape& sh,
                   const BlockStart& st, const bf16_t* x_in, bf16_t* x_out, BlockActs& a, Arena& ar,
                   const BlockEnd* end);
// dx: d(x_out) in, d(x_in) out (in place). Parameter gradients (trained DParams: grad_of)
// accumulated; the scratch it takes from `ar` is given back before it returns.
void block_backward(Context& ctx, const BlockParams& P, const AdapterRun& run, const BlockShape& sh,
                    const BlockStart& st, const BlockActs& a, bf16_t* dx, Arena& ar);

}  // namespace rwkv::cuda::x060
