// The CUDA backend's kernels, callable from host code. Activations and weights are bf16
// (passed as uint16_t* so that plain C++ can include this header); reductions, optimizer
// state and master weights are fp32. Every kernel has a CPU twin in device_tests/cpu_twins.h
// that device_tests/kernel_check.cu compares it against on random inputs.
#pragma once
#include <cstddef>
#include <cstdint>

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::cuda {

using bf16_t = uint16_t;

// ---- WKV7 recurrence (per head of size 64; layout [B, T, H, 64]) -----------------------------
// Per head: sa = S a; S = S diag(w) + sa b^T + v k^T; y = S r, with w = exp(-exp(w_raw)).
// The forward saves the fp32 state every kWkvCheckpoint steps and sa at every step; the
// backward walks time in reverse, undoing each step exactly (w >= exp(-exp(-0.5)) thanks to
// the model's soft clamp) and reloading a checkpoint at each chunk edge so that error never
// builds up over more than kWkvCheckpoint steps. T must be a multiple of kWkvCheckpoint.
constexpr int kWkvHeadSize = 64;
constexpr int kWkvCheckpoint = 16;
size_t wkv7_state_floats(int B, int T, int H);  // fp32 checkpoint buffer size
size_t wkv7_sa_floats(int B, int T, int H);     // fp32 sa buffer size
// s0: the initial state (fp32, row-major [i][j] per head as the CPU's ops::wkv7_fwd), null =
// zeros; s0_batch_stride 0 = one [H,N,N] state for every sequence (state tuning), H*N*N = one
// per sequence ([B,H,N,N], infctx's carried state).
void wkv7_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                  const bf16_t* v, const bf16_t* a, const bf16_t* b, bf16_t* y,
                  float* state_ckpt, float* sa, cudaStream_t stream, const float* s0 = nullptr,
                  int64_t s0_batch_stride = 0);
// ds0 (may be null): += the gradient of a shared initial state [H,N,N], summed over the batch.
void wkv7_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                   const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                   const float* state_ckpt, const float* sa, bf16_t* dr, bf16_t* dw_raw,
                   bf16_t* dk, bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream,
                   float* ds0 = nullptr);
// The state after the last step, [B,H,N,N] fp32 row-major, read from the forward's checkpoints.
void wkv7_final_state(int B, int T, int H, const float* state_ckpt, float* state, cudaStream_t stream);

// ---- WKV7, chunked (cuda/wkv7_chunked.cu; used only with RWKV_CUDA_WKV7_CHUNKED=1) -----------
// The same function, kWkvCheckpoint steps at a time as tensor-core products (tf32 operands,
// fp32 accumulation; the algorithm and its CPU twin: cpu/wkv7_chunked.h). The forward saves
// exactly what wkv7_forward saves (the checkpoints and sa), so either backward reads either
// forward's buffers, wkv7_final_state works unchanged and the memory plan is the same. Exact
// while the decay one chunk accumulates stays above exp(-80) per channel (the model's soft
// clamp keeps it above exp(-9.7)); past that the factored decays overflow to inf/NaN.
void wkv7_chunked_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                          const bf16_t* v, const bf16_t* a, const bf16_t* b, bf16_t* y,
                          float* state_ckpt, float* sa, cudaStream_t stream, const float* s0 = nullptr,
                          int64_t s0_batch_stride = 0, int v_split = 0);
// Unlike wkv7_backward it reads the initial state (s0, s0_batch_stride as the forward got them):
// the sequential backward rebuilds it by undoing steps, the chunked one starts each chunk from
// the state before it. On a GPU whose blocks cannot have the shared memory it needs (146 KB:
// sm_86 / sm_89) it runs wkv7_backward instead, which reads the same buffers.
void wkv7_chunked_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                           const bf16_t* v, const bf16_t* a, const bf16_t* b, const bf16_t* dy,
                           const float* state_ckpt, const float* sa, bf16_t* dr, bf16_t* dw_raw,
                           bf16_t* dk, bf16_t* dv, bf16_t* da, bf16_t* db, cudaStream_t stream,
                           const float* s0, int64_t s0_batch_stride, float* ds0 = nullptr, int v_split = 0);
// v_split: how many blocks share a (head, batch), each owning 64 / v_split of the state's value
// rows (cuda/wkv7_chunked.cu says why that is exact). 0 (the callers') lets a rule pick it from
// B * H and the GPU; 1, 2 or 4 force it (kernel_check's cases and timings); the split backward
// needs sm_90 and throws E_CUDA_UNSUPPORTED elsewhere when forced. wkv7_chunked_value_split says
// which split a call would run (0 for a backward that falls back to wkv7_backward).
int wkv7_chunked_value_split(bool backward, int B, int H, int v_split = 0);

// ---- WKV6 recurrence (RWKV-6 / x060; cuda/wkv6.cu; head size 64, layout [B, T, H, 64]) ------
// The CPU's ops::wkv6_fwd / wkv6_bwd (cpu/x060_ops.h): per head, with S[i][j] (i value, j key)
//   y_t[i] = sum_j r_t[j] (u[j] k_t[j] v_t[i] + S_{t-1}[i][j]);  S_t = S_{t-1} diag(exp(-exp(w_t))) + v_t k_t^T
// w_raw is the trainer's decay (time_decay + its low-rank path), exp(-exp(w)) taken inside as
// RWKV-PEFT's wkv6 op does; u (time_faaaa) is fp32 [H, 64]. Any T (no chunking). The forward
// saves nothing: the backward recomputes the states (wkv6.cu says how), using a scratch of
// wkv6_backward_scratch_floats(B, T, H) fp32. Every tensor pointer 16-byte aligned (the backward
// copies whole rows with cp.async), as the allocator's blocks are.
// s0 / s0_batch_stride as wkv7_forward's (null = zeros; stride 0 = state tuning's one [H,N,N],
// H*N*N = infctx's per-sequence [B,H,N,N]); s_final (may be null): the state after the last
// step, [B,H,N,N] fp32 row-major (what infctx carries).
size_t wkv6_backward_scratch_floats(int B, int T, int H);
void wkv6_forward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                  const bf16_t* v, const float* u, bf16_t* y, cudaStream_t stream,
                  const float* s0 = nullptr, int64_t s0_batch_stride = 0, float* s_final = nullptr);
// dr, dw_raw, dk, dv written (bf16); du ([H,64]) and ds0 ([H,64,64], stride 0 only) ACCUMULATED
// in fp32, summed over the batch, each may be null. s0 / s0_batch_stride: the forward's.
void wkv6_backward(int B, int T, int H, const bf16_t* r, const bf16_t* w_raw, const bf16_t* k,
                   const bf16_t* v, const float* u, const bf16_t* dy, float* scratch, bf16_t* dr,
                   bf16_t* dw_raw, bf16_t* dk, bf16_t* dv, float* du, cudaStream_t stream,
                   const float* s0 = nullptr, int64_t s0_batch_stride = 0, float* ds0 = nullptr);

// ---- Row normalisation: layer norm (group = C) and group norm (group = head size) -----------
// x: [rows, C] viewed as rows*C/group groups of `group` values; weight/bias: [C] fp32.
// Saves mean and rstd per group (fp32) for the backward.
void norm_forward(int rows, int C, int group, float eps, const bf16_t* x, const float* weight,
                  const float* bias, bf16_t* y, float* mean, float* rstd, cudaStream_t stream);
// dweight/dbias are accumulated (+=) in fp32 and may be null (frozen norms).
void norm_backward(int rows, int C, int group, const bf16_t* x, const float* weight,
                   const float* mean, const float* rstd, const bf16_t* dy, bf16_t* dx,
                   float* dweight, float* dbias, cudaStream_t stream);

// ---- Token shift + lerps: out_k = x + (x[t-1] - x) * mu_k, for K mixes (x[-1] = 0) ----------
// x: [B, T, C]; mu: [K, C] fp32; out: K tensors [B, T, C] written to out + k*B*T*C.
// prev (infctx, may be null): [B, C] fp32, the previous chunk's last x, used as x[-1]; it is a
// constant (no gradient flows into it) but enters dmu.
void shift_lerp_forward(int B, int T, int C, int K, const bf16_t* x, const float* mu,
                        bf16_t* out, cudaStream_t stream, const float* prev = nullptr);
// dout: K tensors like out. dx is written (not accumulated); dmu accumulated (+=), may be null.
void shift_lerp_backward(int B, int T, int C, int K, const bf16_t* x, const float* mu,
                         const bf16_t* dout, bf16_t* dx, float* dmu, cudaStream_t stream,
                         const float* prev = nullptr);

// ---- Element-wise activations of the low-rank paths and the channel mix ---------------------
enum class Act : int {
  Tanh = 0,          // tanh(x)
  Sigmoid = 1,       // sigmoid(bias + x)
  DecayClamp = 2,    // -softplus(-(bias + x)) - 0.5  (RWKV-7's soft-clamped log-log decay)
  ReluSquare = 3,    // relu(x)^2
  BiasAdd = 4,       // bias + x
  Silu = 5,          // x * sigmoid(x)  (RWKV-6's gate, F.silu)
};
// y = act(x [+ bias[c]]); x, y: [n] with bias period C (bias may be null where unused).
void act_forward(Act act, int64_t n, int C, const bf16_t* x, const float* bias, bf16_t* y,
                 cudaStream_t stream);
// dx = dy * act'(x); dbias += sum over rows of dx (if dbias non-null).
void act_backward(Act act, int64_t n, int C, const bf16_t* x, const float* bias,
                  const bf16_t* dy, bf16_t* dx, float* dbias, cudaStream_t stream);
// out = a + b (residual adds); a, b, out: [n] (out may alias a).
void add_forward(int64_t n, const bf16_t* a, const bf16_t* b, bf16_t* out, cudaStream_t stream);

// ---- Cross-entropy over the vocabulary, fused forward + backward ---------------------------
// logits: [rows, V] bf16 (one chunk of rows from the head GEMM; the full fp32 logits never
// exist). Writes loss_sum += sum of per-row losses (rows with target < 0 are skipped), and
// overwrites logits in place with d(loss)/d(logits) * grad_scale in bf16.
void cross_entropy_fused(int rows, int V, bf16_t* logits, const int32_t* targets,
                         float grad_scale, float* loss_sum, cudaStream_t stream);

// ---- Fused multi-tensor AdamW --------------------------------------------------------------
struct AdamTensor {
  float* master;      // fp32 master weight
  const float* grad;  // fp32 gradient
  float* m;           // first moment
  float* v;           // second moment
  bf16_t* model;      // bf16 copy used by the forward (may be null)
  int64_t n;
};
struct AdamHyper {
  float lr, beta1, beta2, eps, weight_decay, grad_scale;
  int step;  // 1-based, for bias correction
};
// One launch for all tensors; `tensors` is a host array copied to the device internally.
void adamw_multi_tensor(const AdamTensor* tensors, int count, const AdamHyper& h,
                        cudaStream_t stream);

// ---- Conversions ----------------------------------------------------------------------------
void f32_to_bf16_device(int64_t n, const float* x, bf16_t* y, cudaStream_t stream);
void bf16_to_f32_device(int64_t n, const bf16_t* x, float* y, cudaStream_t stream);

}  // namespace rwkv::cuda
