// The x060 block on the GPU (see x060_block.h), op for op the CPU's cpu/x060_layer.cpp.
#include <cuda_runtime.h>

#include "core/errors.h"
#include "cuda/kernels.h"
#include "cuda/model_kernels.h"
#include "cuda/x060_block.h"

namespace rwkv::cuda::x060 {
namespace {

// y[M,N] = x[M,K] A[K,N] for a low-rank matrix A (its bf16 copy); lda: x's row stride.
void mm_forward(Context& ctx, const bf16_t* x, int lda, const DParam* A, bf16_t* y, int M, int K, int N) {
  ctx.gemm(false, false, M, N, K, x, lda, A->w16, N, y, N, GemmOut::BF16);
}
// dx[M,K] (ldx: its row stride; accumulated when `accumulate`) = dy A^T; A's gradient += x^T dy
// when A trains. A: [K,N] at `A_offset` elements into the tensor (one of maa_w2's five slices).
void mm_backward(Context& ctx, const bf16_t* x, int lda, const DParam* A, int64_t A_offset, const bf16_t* dy,
                 bf16_t* dx, int ldx, bool accumulate, int M, int K, int N) {
  ctx.gemm(false, true, M, K, N, dy, N, A->w16 + A_offset, N, dx, ldx, GemmOut::BF16, 1.f, accumulate ? 1.f : 0.f);
  if (A->trainable)
    ctx.gemm(true, false, K, N, M, x, lda, dy, N, A->grad + A_offset, N, GemmOut::F32, 1.f, 1.f);
}

X060MixVectors mix_vectors(const BlockParams& P) {
  X060MixVectors v;
  for (int j = 0; j < kX060Mixes; ++j) v.mu[j] = P.maa[j]->master;
  return v;
}

}  // namespace

void block_forward(Context& ctx, const BlockParams& P, const AdapterRun& run, const BlockShape& sh,
                   const BlockStart& st, const bf16_t* x_in, bf16_t* x_out, BlockActs& a, Arena& ar,
                   const BlockEnd* end) {
  if (sh.N != kWkvHeadSize)
    throw EngineError("E_CUDA_UNSUPPORTED", "the GPU WKV6 kernel needs head_size 64", "use --accelerator cpu");
  cudaStream_t s = ctx.stream();
  const int B = sh.B, T = sh.T, M = sh.M, C = sh.C, H = sh.H, N = sh.N, F = sh.F, Dm = sh.Dm, Dd = sh.Dd;
  const int D5 = kX060Mixes * Dm;
  const int64_t MC = sh.MC, MF = int64_t(M) * F;
  a.x_in = x_in;
  if (P.ln0_w) {
    a.ln0_mean = ar.get<float>(M); a.ln0_rstd = ar.get<float>(M);
    a.att_in = ar.get<bf16_t>(MC);
    norm_forward(M, C, C, 1e-5f, x_in, P.ln0_w->master, P.ln0_b->master, a.att_in, a.ln0_mean, a.ln0_rstd, s);
  } else {
    a.att_in = const_cast<bf16_t*>(x_in);
  }
  // ---- time mix: x_mid = att_in + att(ln1(att_in)) ----
  a.h1 = ar.get<bf16_t>(MC); a.ln1_mean = ar.get<float>(M); a.ln1_rstd = ar.get<float>(M);
  norm_forward(M, C, C, 1e-5f, a.att_in, P.ln1_w->master, P.ln1_b->master, a.h1, a.ln1_mean, a.ln1_rstd, s);
  if (end) last_rows_f32(B, T, C, a.h1, end->att_last, s);
  // ddlerp: xxx = x + xx maa_x; h = tanh(xxx W1); m_j = h_j W2[j]; mix_j = x + xx (maa_j + m_j)
  a.xxx = ar.get<bf16_t>(MC);
  shift_lerp_forward(B, T, C, 1, a.h1, P.maa_x->master, a.xxx, s, st.att_prev);
  a.mix_pre = ar.get<bf16_t>(int64_t(M) * D5); a.mix_h = ar.get<bf16_t>(int64_t(M) * D5);
  mm_forward(ctx, a.xxx, C, P.maa_w1, a.mix_pre, M, C, D5);
  act_forward(Act::Tanh, int64_t(M) * D5, D5, a.mix_pre, nullptr, a.mix_h, s);
  a.mix_m = ar.get<bf16_t>(kX060Mixes * MC);
  for (int j = 0; j < kX060Mixes; ++j)
    ctx.gemm(false, false, M, C, Dm, a.mix_h + int64_t(j) * Dm, D5, P.maa_w2->w16 + int64_t(j) * Dm * C, C,
             a.mix_m + j * MC, C, GemmOut::BF16);
  a.mix = ar.get<bf16_t>(kX060Mixes * MC);
  ddlerp_combine_forward(B, T, C, a.h1, mix_vectors(P), a.mix_m, a.mix, s, st.att_prev);
  const bf16_t *xw = a.mix, *xk = a.mix + MC, *xv = a.mix + 2 * MC, *xr = a.mix + 3 * MC, *xg = a.mix + 4 * MC;
  a.r = ar.get<bf16_t>(MC); a.k = ar.get<bf16_t>(MC); a.v = ar.get<bf16_t>(MC);
  a.gate_pre = ar.get<bf16_t>(MC); a.g = ar.get<bf16_t>(MC);
  linear_forward(ctx, P.lin[AttReceptance], run, xr, a.r, M, a.kept[AttReceptance], ar);
  linear_forward(ctx, P.lin[AttKey], run, xk, a.k, M, a.kept[AttKey], ar);
  linear_forward(ctx, P.lin[AttValue], run, xv, a.v, M, a.kept[AttValue], ar);
  linear_forward(ctx, P.lin[AttGate], run, xg, a.gate_pre, M, a.kept[AttGate], ar);
  act_forward(Act::Silu, MC, C, a.gate_pre, nullptr, a.g, s);
  // the decay: w = time_decay + tanh(xw decay_w1) decay_w2 (exp(-exp(w)) is taken inside WKV6)
  a.decay_pre = ar.get<bf16_t>(int64_t(M) * Dd); a.decay_t = ar.get<bf16_t>(int64_t(M) * Dd);
  a.decay_lr = ar.get<bf16_t>(MC); a.w = ar.get<bf16_t>(MC);
  mm_forward(ctx, xw, C, P.decay_w1, a.decay_pre, M, C, Dd);
  act_forward(Act::Tanh, int64_t(M) * Dd, Dd, a.decay_pre, nullptr, a.decay_t, s);
  mm_forward(ctx, a.decay_t, Dd, P.decay_w2, a.decay_lr, M, Dd, C);
  act_forward(Act::BiasAdd, MC, C, a.decay_lr, P.time_decay->master, a.w, s);
  a.wkv = ar.get<bf16_t>(MC);
  wkv6_forward(B, T, H, a.r, a.w, a.k, a.v, P.faaaa->master, a.wkv, s, st.wkv_s0, st.wkv_stride,
               end ? end->wkv_last : nullptr);
  a.gn = ar.get<bf16_t>(MC); a.lnx_mean = ar.get<float>(int64_t(M) * H); a.lnx_rstd = ar.get<float>(int64_t(M) * H);
  norm_forward(M, C, N, sh.lnx_eps, a.wkv, P.lnx_w->master, P.lnx_b->master, a.gn, a.lnx_mean, a.lnx_rstd, s);
  a.og = ar.get<bf16_t>(MC);
  mul_add_forward(MC, a.gn, a.g, nullptr, a.og, s);
  a.x_mid = ar.get<bf16_t>(MC);
  linear_forward(ctx, P.lin[AttOutput], run, a.og, a.x_mid, M, a.kept[AttOutput], ar);
  add_forward(MC, a.att_in, a.x_mid, a.x_mid, s);
  // ---- channel mix: x_out = x_mid + sigmoid(receptance(xr)) * value(relu(key(xk))^2) ----
  a.h2 = ar.get<bf16_t>(MC); a.ln2_mean = ar.get<float>(M); a.ln2_rstd = ar.get<float>(M);
  norm_forward(M, C, C, 1e-5f, a.x_mid, P.ln2_w->master, P.ln2_b->master, a.h2, a.ln2_mean, a.ln2_rstd, s);
  if (end) last_rows_f32(B, T, C, a.h2, end->ffn_last, s);
  a.fxk = ar.get<bf16_t>(MC); a.fxr = ar.get<bf16_t>(MC);
  shift_lerp_forward(B, T, C, 1, a.h2, P.ffn_maa_k->master, a.fxk, s, st.ffn_prev);
  shift_lerp_forward(B, T, C, 1, a.h2, P.ffn_maa_r->master, a.fxr, s, st.ffn_prev);
  a.fk = ar.get<bf16_t>(MF); a.fk_act = ar.get<bf16_t>(MF);
  a.kv = ar.get<bf16_t>(MC); a.fr_pre = ar.get<bf16_t>(MC); a.fr = ar.get<bf16_t>(MC);
  linear_forward(ctx, P.lin[FfnKey], run, a.fxk, a.fk, M, a.kept[FfnKey], ar);
  act_forward(Act::ReluSquare, MF, F, a.fk, nullptr, a.fk_act, s);
  linear_forward(ctx, P.lin[FfnValue], run, a.fk_act, a.kv, M, a.kept[FfnValue], ar);
  linear_forward(ctx, P.lin[FfnReceptance], run, a.fxr, a.fr_pre, M, a.kept[FfnReceptance], ar);
  act_forward(Act::Sigmoid, MC, C, a.fr_pre, nullptr, a.fr, s);
  if (x_out) mul_add_forward(MC, a.fr, a.kv, a.x_mid, x_out, s);
}

void block_backward(Context& ctx, const BlockParams& P, const AdapterRun& run, const BlockShape& sh,
                    const BlockStart& st, const BlockActs& a, bf16_t* dx, Arena& ar) {
  cudaStream_t s = ctx.stream();
  const int B = sh.B, T = sh.T, M = sh.M, C = sh.C, H = sh.H, N = sh.N, F = sh.F, Dm = sh.Dm, Dd = sh.Dd;
  const int D5 = kX060Mixes * Dm;
  const int64_t MC = sh.MC, MF = int64_t(M) * F;
  const size_t mark = ar.mark();
  // Scratch: four C-wide buffers (t0..t3) and two F-wide ones, reused down the chain; the time
  // mix's [5, M, C] mix gradients and the low-rank ones get their own.
  bf16_t *t0 = ar.get<bf16_t>(MC), *t1 = ar.get<bf16_t>(MC), *t2 = ar.get<bf16_t>(MC), *t3 = ar.get<bf16_t>(MC);
  bf16_t *f0 = ar.get<bf16_t>(MF), *f1 = ar.get<bf16_t>(MF);
  // ---- channel mix ----  dx holds d(x_out); the residual passes it on to x_mid unchanged
  bf16_t *dkv = t0, *dfr = t1;
  gate_backward(MC, dx, a.fr, a.kv, dkv, dfr, s);  // dkv = dx fr, dfr = dx kv
  bf16_t* dfr_pre = t2;
  act_backward(Act::Sigmoid, MC, C, a.fr_pre, nullptr, dfr, dfr_pre, nullptr, s);
  bf16_t* dfxr = t1;
  linear_backward(ctx, P.lin[FfnReceptance], run, a.fxr, dfr_pre, dfxr, false, M, a.kept[FfnReceptance], ar);
  linear_backward(ctx, P.lin[FfnValue], run, a.fk_act, dkv, f0, false, M, a.kept[FfnValue], ar);
  act_backward(Act::ReluSquare, MF, F, a.fk, nullptr, f0, f1, nullptr, s);
  bf16_t* dfxk = t0;
  linear_backward(ctx, P.lin[FfnKey], run, a.fxk, f1, dfxk, false, M, a.kept[FfnKey], ar);
  bf16_t *dh2 = t2, *dh2_r = t3;
  shift_lerp_backward(B, T, C, 1, a.h2, P.ffn_maa_k->master, dfxk, dh2, grad_of(P.ffn_maa_k), s, st.ffn_prev);
  shift_lerp_backward(B, T, C, 1, a.h2, P.ffn_maa_r->master, dfxr, dh2_r, grad_of(P.ffn_maa_r), s, st.ffn_prev);
  add_forward(MC, dh2, dh2_r, dh2, s);
  bf16_t* dxm = t0;
  norm_backward(M, C, C, a.x_mid, P.ln2_w->master, a.ln2_mean, a.ln2_rstd, dh2, dxm, grad_of(P.ln2_w),
                grad_of(P.ln2_b), s);
  add_forward(MC, dx, dxm, dx, s);  // dx = d(x_mid)
  // ---- time mix ----
  bf16_t* dog = t0;
  linear_backward(ctx, P.lin[AttOutput], run, a.og, dx, dog, false, M, a.kept[AttOutput], ar);
  bf16_t *dgn = t1, *dg = t2;
  gate_backward(MC, dog, a.g, a.gn, dgn, dg, s);  // dgn = dog g, dg = dog gn
  bf16_t* dgate_pre = t3;
  act_backward(Act::Silu, MC, C, a.gate_pre, nullptr, dg, dgate_pre, nullptr, s);
  bf16_t* dwkv = t0;
  norm_backward(M, C, N, a.wkv, P.lnx_w->master, a.lnx_mean, a.lnx_rstd, dgn, dwkv, grad_of(P.lnx_w),
                grad_of(P.lnx_b), s);
  // The F-wide buffers are free again; they hold dk and dv unless a custom dim_ffn is below C.
  bf16_t *dr = t1, *dw = t2, *dk = F >= C ? f0 : ar.get<bf16_t>(MC), *dv = F >= C ? f1 : ar.get<bf16_t>(MC);
  {
    const size_t wkv_mark = ar.mark();
    float* scratch = ar.get<float>(int64_t(wkv6_backward_scratch_floats(B, T, H)));
    wkv6_backward(B, T, H, a.r, a.w, a.k, a.v, P.faaaa->master, dwkv, scratch, dr, dw, dk, dv, grad_of(P.faaaa), s,
                  st.wkv_s0, st.wkv_stride, st.wkv_ds0);
    ar.rewind(wkv_mark);
  }
  bf16_t* dmix = ar.get<bf16_t>(kX060Mixes * MC);  // d xw, xk, xv, xr, xg
  bf16_t *dxw = dmix, *dxk = dmix + MC, *dxv = dmix + 2 * MC, *dxr = dmix + 3 * MC, *dxg = dmix + 4 * MC;
  const bf16_t *xw = a.mix, *xk = a.mix + MC, *xv = a.mix + 2 * MC, *xr = a.mix + 3 * MC, *xg = a.mix + 4 * MC;
  // w = time_decay + tanh(xw decay_w1) decay_w2
  bf16_t* dlr = t0;  // dwkv is dead
  act_backward(Act::BiasAdd, MC, C, a.decay_lr, P.time_decay->master, dw, dlr, grad_of(P.time_decay), s);
  bf16_t *dt = ar.get<bf16_t>(int64_t(M) * Dd), *dpre = ar.get<bf16_t>(int64_t(M) * Dd);
  mm_backward(ctx, a.decay_t, Dd, P.decay_w2, 0, dlr, dt, Dd, false, M, Dd, C);
  act_backward(Act::Tanh, int64_t(M) * Dd, Dd, a.decay_pre, nullptr, dt, dpre, nullptr, s);
  mm_backward(ctx, xw, C, P.decay_w1, 0, dpre, dxw, C, false, M, C, Dd);
  linear_backward(ctx, P.lin[AttReceptance], run, xr, dr, dxr, false, M, a.kept[AttReceptance], ar);
  linear_backward(ctx, P.lin[AttKey], run, xk, dk, dxk, false, M, a.kept[AttKey], ar);
  linear_backward(ctx, P.lin[AttValue], run, xv, dv, dxv, false, M, a.kept[AttValue], ar);
  linear_backward(ctx, P.lin[AttGate], run, xg, dgate_pre, dxg, false, M, a.kept[AttGate], ar);
  // mix_j = h1 + xx (maa_j + m_j): into d h1 (direct and through the shift), d m and d maa_j
  bf16_t* dh1 = t1;
  bf16_t* dm = ar.get<bf16_t>(kX060Mixes * MC);
  X060MixGrads mg;
  for (int j = 0; j < kX060Mixes; ++j) mg.dmu[j] = grad_of(P.maa[j]);
  ddlerp_combine_backward(B, T, C, a.h1, mix_vectors(P), a.mix_m, dmix, dh1, dm, mg, s, st.att_prev);
  // m_j = h_j W2[j], h = tanh(xxx W1)
  bf16_t *dh = ar.get<bf16_t>(int64_t(M) * D5), *dhpre = ar.get<bf16_t>(int64_t(M) * D5);
  for (int j = 0; j < kX060Mixes; ++j)
    mm_backward(ctx, a.mix_h + int64_t(j) * Dm, D5, P.maa_w2, int64_t(j) * Dm * C, dm + j * MC, dh + int64_t(j) * Dm,
                D5, false, M, Dm, C);
  act_backward(Act::Tanh, int64_t(M) * D5, D5, a.mix_pre, nullptr, dh, dhpre, nullptr, s);
  bf16_t* dxxx = t2;
  mm_backward(ctx, a.xxx, C, P.maa_w1, 0, dhpre, dxxx, C, false, M, C, D5);
  bf16_t* dh1_x = t3;
  shift_lerp_backward(B, T, C, 1, a.h1, P.maa_x->master, dxxx, dh1_x, grad_of(P.maa_x), s, st.att_prev);
  add_forward(MC, dh1, dh1_x, dh1, s);
  bf16_t* datt = t0;
  norm_backward(M, C, C, a.att_in, P.ln1_w->master, a.ln1_mean, a.ln1_rstd, dh1, datt, grad_of(P.ln1_w),
                grad_of(P.ln1_b), s);
  add_forward(MC, dx, datt, dx, s);  // dx = d(att_in)
  if (P.ln0_w) {
    norm_backward(M, C, C, a.x_in, P.ln0_w->master, a.ln0_mean, a.ln0_rstd, dx, t1, grad_of(P.ln0_w),
                  grad_of(P.ln0_b), s);
    check_cuda(cudaMemcpyAsync(dx, t1, size_t(MC) * sizeof(bf16_t), cudaMemcpyDeviceToDevice, s), "x060 ln0 grad");
  }
  ar.rewind(mark);  // stream order keeps the kernels above ahead of any reuse
}

}  // namespace rwkv::cuda::x060
