// Adapted linears (see adapted_linear.h).
#include "cuda/adapted_linear.h"

#include "core/dropout_mask.h"
#include "cuda/model_kernels.h"
#include "cuda/quant_dequant.h"

namespace rwkv::cuda {
namespace {

// The bf16 weight the base GEMM reads: W's own copy, or (--quant) W dequantised into a scratch
// buffer pushed on the arena, which the caller pops right after that GEMM (stream order makes
// the reuse safe), so one frozen matrix at a time exists in bf16.
const bf16_t* base_weight(Context& ctx, const AdaptedLinear& L, Arena& ar) {
  if (L.W->q.type == QuantType::None) return L.W->w16;
  bf16_t* w = ar.get<bf16_t>(L.W->n);
  dequantize_bf16(L.W->q, w, ctx.stream());
  return w;
}

bool has_dropout(const AdaptedLinear& L, const AdapterRun& run) { return L.A && run.keep < 1.f; }

uint64_t mask_stream(const AdaptedLinear& L, const AdapterRun& run) {
  return dropout_stream(run.seed, run.optimizer_step, run.micro_batch, uint64_t(L.slot));
}

// The mask index of the pass's first element: a micro-batch split into passes drops exactly the
// elements the unsplit one drops.
uint64_t mask_first(const AdaptedLinear& L, const AdapterRun& run) { return uint64_t(run.first_row) * uint64_t(L.in); }

// LoRA's kept x A^T (x dropped out first when dropout is on).
void lora_down(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x, int M,
               LinearKept& kept, Arena& ar) {
  const int r = int(L.A->shape[0]);
  kept.xa = ar.get<bf16_t>(int64_t(M) * r);
  const size_t m0 = ar.mark();
  const bf16_t* xin = x;
  if (has_dropout(L, run)) {
    bf16_t* xd = ar.get<bf16_t>(int64_t(M) * L.in);
    dropout_forward(int64_t(M) * L.in, mask_stream(L, run), mask_first(L, run), run.keep, x, xd, ctx.stream());
    xin = xd;
  }
  ctx.gemm(false, true, M, r, L.in, xin, L.in, L.A->w16, L.in, kept.xa, r, GemmOut::BF16);
  ar.rewind(m0);
}

// LoRA: y += s (xd A^T) B^T with xd = dropout(x) (x itself without dropout).
void lora_forward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                  bf16_t* y, int M, LinearKept& kept, Arena& ar) {
  const int r = int(L.A->shape[0]);
  lora_down(ctx, L, run, x, M, kept, ar);
  ctx.gemm(false, true, M, L.out, r, kept.xa, r, L.Bm->w16, r, y, L.out, GemmOut::BF16, run.lora_scale, 1.f);
}

void lora_backward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                   const bf16_t* dy, bf16_t* dx, int M, const LinearKept& kept, Arena& ar) {
  const int r = int(L.A->shape[0]);
  const float sc = run.lora_scale;
  const size_t m0 = ar.mark();
  bf16_t* dxa = ar.get<bf16_t>(int64_t(M) * r);
  ctx.gemm(false, false, M, r, L.out, dy, L.out, L.Bm->w16, r, dxa, r, GemmOut::BF16, sc, 0.f);
  ctx.gemm(true, false, L.out, r, M, dy, L.out, kept.xa, r, L.Bm->grad, r, GemmOut::F32, sc, 1.f);
  if (!has_dropout(L, run)) {
    ctx.gemm(true, false, r, L.in, M, dxa, r, x, L.in, L.A->grad, L.in, GemmOut::F32, 1.f, 1.f);
    ctx.gemm(false, false, M, L.in, r, dxa, r, L.A->w16, L.in, dx, L.in, GemmOut::BF16, 1.f, 1.f);
  } else {
    const int64_t n = int64_t(M) * L.in;
    const uint64_t stream = mask_stream(L, run);
    bf16_t* xd = ar.get<bf16_t>(n);  // the forward's dropout(x), drawn again
    dropout_forward(n, stream, mask_first(L, run), run.keep, x, xd, ctx.stream());
    ctx.gemm(true, false, r, L.in, M, dxa, r, xd, L.in, L.A->grad, L.in, GemmOut::F32, 1.f, 1.f);
    bf16_t* dxd = xd;  // xd is no longer needed: its buffer takes d(xd)
    ctx.gemm(false, false, M, L.in, r, dxa, r, L.A->w16, L.in, dxd, L.in, GemmOut::BF16, 1.f, 0.f);
    dropout_backward_add(n, stream, mask_first(L, run), run.keep, dxd, dx, ctx.stream());
  }
  ar.rewind(m0);
}

// MiSS: y += fold_r(x) disha. The fold is cheap, so the backward recomputes it.
void miss_forward(Context& ctx, const AdaptedLinear& L, const bf16_t* x, bf16_t* y, int M, Arena& ar) {
  const int r = int(L.miss->shape[0]);
  const size_t m0 = ar.mark();
  bf16_t* xs = ar.get<bf16_t>(int64_t(M) * r);
  miss_fold(M, L.in, r, x, xs, ctx.stream());
  ctx.gemm(false, false, M, L.out, r, xs, r, L.miss->w16, L.out, y, L.out, GemmOut::BF16, 1.f, 1.f);
  ar.rewind(m0);
}

void miss_backward(Context& ctx, const AdaptedLinear& L, const bf16_t* x, const bf16_t* dy,
                   bf16_t* dx, int M, Arena& ar) {
  const int r = int(L.miss->shape[0]);
  const size_t m0 = ar.mark();
  bf16_t* xs = ar.get<bf16_t>(int64_t(M) * r);
  miss_fold(M, L.in, r, x, xs, ctx.stream());
  // d disha [r, out] += xs^T dy
  ctx.gemm(true, false, r, L.out, M, xs, r, dy, L.out, L.miss->grad, L.out, GemmOut::F32, 1.f, 1.f);
  // d xs [M, r] = dy disha^T, then spread back over the folded inputs
  bf16_t* dxs = xs;
  ctx.gemm(false, true, M, r, L.out, dy, L.out, L.miss->w16, L.out, dxs, r, GemmOut::BF16, 1.f, 0.f);
  miss_unfold_add(M, L.in, r, dxs, dx, ctx.stream());
  ar.rewind(m0);
}

}  // namespace

void linear_forward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                    bf16_t* y, int M, LinearKept& kept, Arena& ar) {
  const size_t m0 = ar.mark();
  ctx.gemm(false, true, M, L.out, L.in, x, L.in, base_weight(ctx, L, ar), L.in, y, L.out, GemmOut::BF16);
  ar.rewind(m0);
  if (L.A) lora_forward(ctx, L, run, x, y, M, kept, ar);
  if (L.miss) miss_forward(ctx, L, x, y, M, ar);
}

void linear_forward_kept(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                         int M, LinearKept& kept, Arena& ar) {
  if (L.A) lora_down(ctx, L, run, x, M, kept, ar);
}

void linear_backward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                     const bf16_t* dy, bf16_t* dx, bool accumulate, int M, const LinearKept& kept,
                     Arena& ar) {
  const size_t m0 = ar.mark();
  ctx.gemm(false, false, M, L.in, L.out, dy, L.out, base_weight(ctx, L, ar), L.in, dx, L.in, GemmOut::BF16, 1.f,
           accumulate ? 1.f : 0.f);
  ar.rewind(m0);
  if (L.W->trainable)
    ctx.gemm(true, false, L.out, L.in, M, dy, L.out, x, L.in, L.W->grad, L.in, GemmOut::F32, 1.f, 1.f);
  if (L.A) lora_backward(ctx, L, run, x, dy, dx, M, kept, ar);
  if (L.miss) miss_backward(ctx, L, x, dy, dx, M, ar);
}

}  // namespace rwkv::cuda
