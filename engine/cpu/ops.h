// The RWKV-7 (x070) operations as plain float32 functions: each forward and its backward. These
// are the CPU backend's building blocks and the reference twins the CUDA kernels are compared
// with, so they favour clarity over speed (OpenMP over rows; float64 only where noted).
//
// Conventions:
// - Row-major arrays; M = number of rows (B*T tokens), C = channels.
// - Every backward ACCUMULATES (+=) into its gradient outputs; callers zero them first. A null
//   gradient pointer means "not needed".
// - Torch layouts: a Linear weight is [out, in] and y = x W^T; a low-rank matrix such as w1 is
//   [in, rank] and used as x @ w1.
#pragma once
#include <cstdint>

namespace rwkv::ops {

// y[M,N] = x[M,K] W[N,K]^T
void linear_fwd(const float* x, const float* W, float* y, int M, int K, int N);
void linear_bwd(const float* x, const float* W, const float* dy, float* dx, float* dW,
                int M, int K, int N);
// y[M,N] = x[M,K] A[K,N]
void matmul_fwd(const float* x, const float* A, float* y, int M, int K, int N);
void matmul_bwd(const float* x, const float* A, const float* dy, float* dx, float* dA,
                int M, int K, int N);

// LayerNorm over C with affine (eps 1e-5 as nn.LayerNorm). mean/rstd: [M], saved for backward.
void layernorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                   float* rstd, int M, int C, float eps = 1e-5f);
void layernorm_bwd(const float* x, const float* g, const float* mean, const float* rstd,
                   const float* dy, float* dx, float* dg, float* db, int M, int C);

// GroupNorm(H groups of N channels, affine over C = H*N), per token: ln_x of the time mix.
// mean/rstd: [M*H].
void groupnorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                   float* rstd, int M, int H, int N, float eps);
void groupnorm_bwd(const float* x, const float* g, const float* mean, const float* rstd,
                   const float* dy, float* dx, float* dg, float* db, int M, int H, int N);

// Token shift: xx[b,t] = x[b,t-1] - x[b,t] (x[b,-1] = 0), x: [B,T,C].
void token_shift_fwd(const float* x, float* xx, int B, int T, int C);
void token_shift_bwd(const float* dxx, float* dx, int B, int T, int C);
// Lerp mixing: out = x + xx * mu (mu: [C]).
void mix_fwd(const float* x, const float* xx, const float* mu, float* out, int M, int C);
void mix_bwd(const float* xx, const float* mu, const float* dout, float* dx, float* dxx,
             float* dmu, int M, int C);

// Elementwise activations (n values). Backward takes the forward's input or output as noted.
void tanh_fwd(const float* x, float* y, int64_t n);
void tanh_bwd(const float* y /*output*/, const float* dy, float* dx, int64_t n);
// y = sigmoid(x + bias[c]) with bias [C] (nullptr = none), x: [M,C] (the a0/v0 offsets).
void sigmoid_fwd(const float* x, const float* bias, float* y, int M, int C);
void sigmoid_bwd(const float* y /*output*/, const float* dy, float* dx, float* dbias, int M, int C);
// relu(x)^2 (the channel mix)
void relu_sq_fwd(const float* x, float* y, int64_t n);
void relu_sq_bwd(const float* x /*input*/, const float* dy, float* dx, int64_t n);

// The x070 decay as RWKV-PEFT's Python computes it before its CUDA op:
//   w = -softplus(-(w0[c] + z)) - 0.5, a log-of-log decay; the WKV7 op uses exp(-exp(w)).
// (RWKV-PEFT's newest "clampw" kernel instead clamps raw w0+z inside the kernel; we follow
// the soft-clamp, which is what its non-clampw ops and the peer compute.)
void decay_fwd(const float* z, const float* w0, float* w, int M, int C);
void decay_bwd(const float* z, const float* w0, const float* dw, float* dz, float* dw0, int M, int C);

// Per-head L2 normalisation (F.normalize, eps 1e-12): y = x / max(||x||, eps) over N.
void l2norm_heads_fwd(const float* x, float* y, float* norm, int M, int H, int N);
void l2norm_heads_bwd(const float* y, const float* norm, const float* dy, float* dx,
                      int M, int H, int N);

// The WKV7 recurrence, per batch b and head h, with S an [N(value) x N(key)] matrix:
//   S_t = S_{t-1} diag(exp(-exp(w_t))) + (S_{t-1} a_t) b_t^T + v_t k_t^T,   y_t = S_t r_t
// All inputs [B,T,H,N]. s0: initial state [H,N,N] shared by the batch (state tuning) or null
// (zeros). states: [B,T,H,N,N], S_t saved for backward (the CPU keeps every step; the CUDA
// kernel keeps chunk checkpoints and recomputes). RWKV-PEFT calls it with a = -kk, b = kk*a.
// s0_batch_stride: 0 = one initial state [H,N,N] for every sequence (state tuning); H*N*N = one
// per sequence, [B,H,N,N] (infctx's carried state, which gets no gradient: ds0 must be null).
void wkv7_fwd(const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, const float* s0, float* y, float* states, int B, int T, int H, int N,
              int64_t s0_batch_stride = 0);
// Gradients for r, w (raw log-log decay), k, v, a, b and the initial state ds0 ([H,N,N],
// summed over the batch; may be null).
void wkv7_bwd(const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, const float* s0, const float* states, const float* dy,
              float* dr, float* dw, float* dk, float* dv, float* da, float* db, float* ds0,
              int B, int T, int H, int N, int64_t s0_batch_stride = 0);

// Mean cross-entropy over rows with mask != 0 (mask null = all rows), computed in float64.
// Writes dlogits = loss_scale * d(mean CE)/d(logits) + L2Wrap, where L2Wrap adds (unscaled:
// RWKV-PEFT's L2Wrap ignores the incoming gradient, so accumulation does not scale it)
// 1e-4/M * max(logits_row) at the row's argmax, every row. Returns the
// mean loss; *counted = rows in the mean. dlogits may alias nothing else; it is overwritten.
// l2wrap_rows (0 = M) replaces M in L2Wrap's 1e-4/M (RWKV-PEFT's infctx divides by the chunk length).
double cross_entropy_fwd_bwd(const float* logits, const int32_t* targets, const float* mask,
                             float* dlogits, float loss_scale, int M, int V, int64_t* counted,
                             int64_t l2wrap_rows = 0);
// Loss only (no gradient).
double cross_entropy_fwd(const float* logits, const int32_t* targets, const float* mask,
                         int M, int V, int64_t* counted);

// One AdamW update of n values, torch semantics with bias correction; step is 1-based.
//   p -= lr * wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)
void adamw_step(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                float beta2, float eps, float weight_decay, int64_t step);

}  // namespace rwkv::ops
