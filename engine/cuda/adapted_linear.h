// A linear layer y = x W^T with the adapter a PEFT method puts on it, forward and backward on
// the GPU: one interface, one function pair per method, each the twin of the CPU backend's
// Linear (engine/cpu/cpu_backend.cpp lin_fwd / lin_bwd):
//   LoRA / PiSSA:  y += s * (dropout(x) A^T) B^T   (PiSSA: s = 1, no dropout; W is the residual)
//   MiSS (disha):  y += fold_r(x) · disha,  fold_r(x)[j] = sum over i % r == j of x[i]
// A --quant base W (DParam::q) is dequantised to bf16 into an arena scratch right before each
// GEMM that reads it (cuda/quant_dequant.h) and popped after it.
// LoRA dropout's masks are counter-based (core/dropout_mask.h): the backward regenerates the
// forward's mask from the same stream instead of keeping it, and so does a recomputed forward.
#pragma once
#include <cstdint>

#include "cuda/arena.h"
#include "cuda/cuda_context.h"
#include "cuda/device_param.h"

namespace rwkv::cuda {

struct AdaptedLinear {
  DParam* W = nullptr;
  DParam* A = nullptr;     // lora_A [r, in]
  DParam* Bm = nullptr;    // lora_B [out, r]
  DParam* miss = nullptr;  // disha [r, out]
  int in = 0, out = 0;
  int slot = 0;            // layer * 8 + position: names this linear's dropout stream
};

// What a linear's forward keeps for its backward (LoRA's x A^T, M x r).
struct LinearKept {
  bf16_t* xa = nullptr;
};

struct AdapterRun {
  float lora_scale = 1.f;
  float keep = 1.f;          // 1 - lora_dropout
  uint64_t seed = 0;
  int64_t optimizer_step = 0;
  uint64_t micro_batch = 0;  // within the optimizer step
  int64_t first_row = 0;     // the pass's first row within the micro-batch (its mask elements)
};

// y[M, out] = x W^T + adapter(x) (written).
void linear_forward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                    bf16_t* y, int M, LinearKept& kept, Arena& ar);
// Only what linear_backward reads from the forward (LoRA's x A^T), without y: the last linear of
// a layer recomputed for its backward, whose output nothing reads.
void linear_forward_kept(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                         int M, LinearKept& kept, Arena& ar);
// dx (written, or accumulated when `accumulate`) = dy W + adapter's dx; W's (when trained) and
// the adapter's gradients accumulated.
void linear_backward(Context& ctx, const AdaptedLinear& L, const AdapterRun& run, const bf16_t* x,
                     const bf16_t* dy, bf16_t* dx, bool accumulate, int M, const LinearKept& kept,
                     Arena& ar);

}  // namespace rwkv::cuda
