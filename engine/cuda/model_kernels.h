// The small fused kernels that glue the model together on the GPU beside kernels.h: the
// embedding, the kk / k2 / a / b preparation of the WKV7 inputs, the r·k·r_k bonus with the
// output gate, the v_first value residual, L2Wrap, and fp32 gradient bookkeeping. Each mirrors
// the CPU backend's loop of the same name (engine/cpu/cpu_backend.cpp), which is the oracle.
#pragma once
#include <cstdint>

#include "cuda/kernels.h"

namespace rwkv::cuda {

// x[m, :] = emb[tok[m], :]
void embedding_forward(int M, int C, const int32_t* tok, const bf16_t* emb, bf16_t* x, cudaStream_t s);
// demb[tok[m], :] += dx[m, :] (fp32 atomics)
void embedding_backward(int M, int C, const int32_t* tok, const bf16_t* dx, float* demb, cudaStream_t s);

// Per (row, head) of N = 64: kk = normalize(k * k_k); k2 = k * (1 + (a - 1) k_a);
// neg_kk = -kk; b = kk * a. kk_norm keeps |k * k_k| for the backward.
void kk_prepare_forward(int M, int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                        const float* k_a, bf16_t* kk, float* kk_norm, bf16_t* k2, bf16_t* neg_kk,
                        bf16_t* b, cudaStream_t s);
// From d(k2), d(neg_kk), d(b): writes dk and da; accumulates dk_k, dk_a (may be null).
void kk_prepare_backward(int M, int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                         const float* k_a, const bf16_t* kk, const float* kk_norm,
                         const bf16_t* dk2, const bf16_t* dneg_kk, const bf16_t* db, bf16_t* dk,
                         bf16_t* da, float* dk_k, float* dk_a, cudaStream_t s);

// o3 = gn + (sum_n r k2 r_k) v per head; og = o3 * g.
void bonus_gate_forward(int M, int H, const bf16_t* gn, const bf16_t* r, const bf16_t* k2,
                        const bf16_t* v, const float* r_k, const bf16_t* g, bf16_t* o3,
                        bf16_t* og, cudaStream_t s);
// do3 = dog * g, dg = dog * o3 (element-wise, written).
void gate_backward(int64_t n, const bf16_t* dog, const bf16_t* g, const bf16_t* o3, bf16_t* do3,
                   bf16_t* dg, cudaStream_t s);
// The bonus term's backward, ACCUMULATED into dr, dk2, dv (bf16) and dr_k (fp32, may be null).
void bonus_backward(int M, int H, const bf16_t* do3, const bf16_t* r, const bf16_t* k2,
                    const bf16_t* v, const float* r_k, bf16_t* dr, bf16_t* dk2, bf16_t* dv,
                    float* dr_k, cudaStream_t s);

// v = v_raw + (v_first - v_raw) * vg
void value_residual_forward(int64_t n, const bf16_t* v_raw, const bf16_t* v_first,
                            const bf16_t* vg, bf16_t* v, cudaStream_t s);
// dv_raw = dv (1 - vg) (written); dv_first += dv vg (fp32); dvg = dv (v_first - v_raw) (written).
void value_residual_backward(int64_t n, const bf16_t* dv, const bf16_t* v_raw,
                             const bf16_t* v_first, const bf16_t* vg, bf16_t* dv_raw,
                             float* dv_first, bf16_t* dvg, cudaStream_t s);
// out = a + float(b)   (layer 0: dv_raw += dv_first)
void add_f32_into_bf16(int64_t n, bf16_t* a, const float* b, cudaStream_t s);

// L2Wrap: before the cross-entropy overwrites the logits, the row maximum and its index.
void row_argmax(int rows, int V, const bf16_t* logits, int32_t* arg, float* mx, cudaStream_t s);
// dlogits[row, arg] += factor * mx
void l2wrap_apply(int rows, int V, bf16_t* dlogits, const int32_t* arg, const float* mx,
                  float factor, cudaStream_t s);

// ---- Adapters ---------------------------------------------------------------------------------
// MiSS (RWKV-PEFT's disha/bone/miss, the CPU backend's Linear::miss): the input folded into r
// buckets, xs[m, j] = sum over i with i % r == j of x[m, i]; then y += xs · disha[r, out].
void miss_fold(int M, int in, int r, const bf16_t* x, bf16_t* xs, cudaStream_t s);
// Its backward through the fold: dx[m, i] += dxs[m, i % r].
void miss_unfold_add(int M, int in, int r, const bf16_t* dxs, bf16_t* dx, cudaStream_t s);
// LoRA dropout with core/dropout_mask.h's counter-based mask of `mask_stream`:
// xd[i] = keeps(first + i) ? x[i] / keep : 0 (written) ...
void dropout_forward(int64_t n, uint64_t mask_stream, uint64_t first, float keep, const bf16_t* x,
                     bf16_t* xd, cudaStream_t s);
// ... and its backward, dx[i] += keeps(first + i) ? dxd[i] / keep : 0 (accumulated). `first`:
// where x[0] sits in the whole mask (a pass of a split micro-batch, core/batch_passes.h).
void dropout_backward_add(int64_t n, uint64_t mask_stream, uint64_t first, float keep,
                          const bf16_t* dxd, bf16_t* dx, cudaStream_t s);
// infctx: out[b, :] = x[b, T-1, :] in fp32, the token-shift input carried to the next chunk.
void last_rows_f32(int B, int T, int C, const bf16_t* x, float* out, cudaStream_t s);

// fp32 bookkeeping for gradients.
void sum_squares(int64_t n, const float* x, double* out, cudaStream_t s);  // out += sum x^2
void scale_f32(int64_t n, float* x, float factor, cudaStream_t s);
// y = bf16(alpha * x): LoRA's merged-weight export does it on the host; this is for dy scaling.
void scale_bf16(int64_t n, const bf16_t* x, float alpha, bf16_t* y, cudaStream_t s);

}  // namespace rwkv::cuda
