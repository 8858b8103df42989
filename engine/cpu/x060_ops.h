// The RWKV-6 (x060) operations that the x070 set (cpu/ops.h) lacks, as plain float32 functions,
// each with its backward: the data-dependent token-shift lerp of the time mix (time_maa_*), the
// low-rank decay (time_decay_*), SiLU (the gate) and the WKV6 recurrence with its bonus u
// (time_faaaa). The math is RWKV-PEFT's rwkvt/rwkv6 (att.py) and its wkv6 CUDA ops; the layer that
// chains them is cpu/x060_layer.h. These are the twins a GPU WKV6 kernel will be compared with.
//
// Conventions are ops.h's: row-major, M = B*T rows, C channels; every backward ACCUMULATES (+=)
// into its gradient outputs and a null gradient pointer means "not needed".
#pragma once
#include <cstdint>

namespace rwkv::ops {

// The time mix's five data-dependent mixes, in RWKV-PEFT's unbind order: w, k, v, r, g.
constexpr int kX060Mixes = 5;

// Data-dependent lerp of the time mix. x: the ln1 output [M,C]; xx = shift(x) - x [M,C]:
//   xxx   = x + xx * maa_x
//   h     = tanh(xxx @ maa_w1)                 maa_w1 [C, 5D]; h [M, 5D], mix j in columns j*D..
//   m_j   = h[:, j*D:(j+1)*D] @ maa_w2[j]      maa_w2 [5, D, C]
//   out_j = x + xx * (mu_j + m_j)              mu_j = time_maa_w/k/v/r/g [C]
// Saved for the backward: xxx [M,C], h [M,5D] and m [5,M,C].
void ddlerp_fwd(const float* x, const float* xx, const float* maa_x, const float* maa_w1, const float* maa_w2,
                const float* const mu[kX060Mixes], float* const out[kX060Mixes], float* xxx, float* h, float* m,
                int M, int C, int D);
// From dout[j] ([M,C] each) into dx, dxx, dmaa_x, dmaa_w1, dmaa_w2 and dmu[j].
void ddlerp_bwd(const float* xx, const float* maa_x, const float* maa_w1, const float* maa_w2,
                const float* const mu[kX060Mixes], const float* xxx, const float* h, const float* m,
                const float* const dout[kX060Mixes], float* dx, float* dxx, float* dmaa_x, float* dmaa_w1,
                float* dmaa_w2, float* const dmu[kX060Mixes], int M, int C, int D);

// The data-dependent decay as RWKV-PEFT computes it before its WKV6 op:
//   w = time_decay + tanh(xw @ decay_w1) @ decay_w2      decay_w1 [C, D], decay_w2 [D, C]
// a log-of-log decay: the recurrence multiplies by exp(-exp(w)). Saved: t = tanh(xw @ decay_w1) [M, D].
void decay_lowrank_fwd(const float* xw, const float* time_decay, const float* decay_w1, const float* decay_w2,
                       float* t, float* w, int M, int C, int D);
void decay_lowrank_bwd(const float* xw, const float* decay_w1, const float* decay_w2, const float* t, const float* dw,
                       float* dxw, float* dtime_decay, float* ddecay_w1, float* ddecay_w2, int M, int C, int D);

// y = x * sigmoid(x) (F.silu, the gate); the backward takes the forward's input.
void silu_fwd(const float* x, float* y, int64_t n);
void silu_bwd(const float* x, const float* dy, float* dx, int64_t n);

// The WKV6 recurrence, per batch b and head h, with S an [N(value) x N(key)] matrix (the layout
// RWKV-PEFT's wkv6state kernel reads time_state in):
//   y_t[i]    = sum_j r_t[j] * (u[j] * k_t[j] * v_t[i] + S_{t-1}[i][j])
//   S_t[i][j] = S_{t-1}[i][j] * exp(-exp(w_t[j])) + k_t[j] * v_t[i]
// The bonus u (time_faaaa, [H,N]) weighs the current token, which S_{t-1} does not hold yet.
// r, w (the raw decay of decay_lowrank_fwd), k, v, y: [B,T,H,N]. s0: the initial state, null =
// zeros; s0_batch_stride 0 = one [H,N,N] for every sequence (state tuning), H*N*N = one per
// sequence ([B,H,N,N], infctx's carried state). states: [B,T,H,N,N], S_t kept for the backward.
void wkv6_fwd(const float* r, const float* w, const float* k, const float* v, const float* u, const float* s0,
              float* y, float* states, int B, int T, int H, int N, int64_t s0_batch_stride = 0);
// Gradients for r, w (raw), k, v, u ([H,N], summed over the batch as the CUDA op sums gu) and the
// initial state ds0 ([H,N,N], summed over the batch; must be null for a per-sequence s0, which
// infctx detaches).
void wkv6_bwd(const float* r, const float* w, const float* k, const float* v, const float* u, const float* s0,
              const float* states, const float* dy, float* dr, float* dw, float* dk, float* dv, float* du,
              float* ds0, int B, int T, int H, int N, int64_t s0_batch_stride = 0);

}  // namespace rwkv::ops
