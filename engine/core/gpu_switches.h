// Switches for CUDA-backend behaviour. What is written but has not yet run on a GPU is off
// unless its environment variable is "1"; once a device run has verified it, its default flips
// here to on, and "0" turns it off (to measure against the old path). A test proves each
// default (engine/tests/allocator_test.cpp, quant_train_test.cpp). The memory planner reads the
// same switch as the backend, so the plan follows what the backend will do.
#pragma once
#include <cstdlib>
#include <cstring>

namespace rwkv {

inline bool env_switch_on(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "1") == 0;
}
// A verified switch: on unless its variable is "0".
inline bool env_switch_not_off(const char* name) {
  const char* v = std::getenv(name);
  return !(v && std::strcmp(v, "0") == 0);
}

// Every long-lived CUDA tensor in one allocation (cuda/param_slab.h) instead of a block each.
// Verified on an H100 (results/cli_rows_h100_quant_slab.md): lora-2.9b 9.03 -> 8.33 GiB, the
// same losses step for step.
inline bool cuda_param_slab_enabled() { return env_switch_not_off("RWKV_CUDA_PARAM_SLAB"); }
// The CUDA optimizer applies the trainer's parameter groups (RWKV-LM's 2x lr on att.w0 and its
// .weight-only decay); off, it uses the backend's default groups and the trainer warns.
// Verified on an H100 (results/model_check_h100_quant_lrgroups.txt: one AdamW step against the
// CPU backend's, att.w0 within 1.84 of its own 2x lr, every other tensor within tolerance).
inline bool cuda_lr_groups_enabled() { return env_switch_not_off("RWKV_CUDA_LR_GROUPS"); }
// The GPU's quantised path (cuda/quant_dequant.cu, the dequantising linears of
// cuda/adapted_linear.cu): off, the GPU refuses --quant (train/gpu_support.cpp). Verified on an
// H100: kernel_check's dequant cases, model_check's whole steps and 200-step curves (int8 LoRA
// 0.58%, nf4 MiSS 0.26%, nf4 state 0.01% worst) and the tutorials' int8/nf4 rows
// (results/cli_rows_h100_quant_slab.md), every one under its bar.
inline bool cuda_quant_switch_on() { return env_switch_not_off("RWKV_CUDA_QUANT"); }
// The chunked WKV7 kernels (cuda/wkv7_chunked.cu: 16 steps at a time on the tensor cores) in
// place of the sequential ones (cuda/wkv7.cu). They save the same buffers, so the memory plan
// (core/planner.cpp) is the same either way and does not read this switch.
inline bool cuda_wkv7_chunked_enabled() { return env_switch_on("RWKV_CUDA_WKV7_CHUNKED"); }
// RWKV-6 (x060) on the GPU: the WKV6 kernels (cuda/wkv6.cu), the x060 block
// (cuda/x060_block.cu) and the backend's x060 path in cuda/cuda_model.cu. Compiled and checked
// against the CPU twins' math here, but it has NOT yet run on a GPU, so it is off unless
// RWKV_CUDA_X060 is "1": off, the trainer refuses x060 on the GPU as before
// (train/gpu_support.cpp) and the backend checks again. What flips it: kernel_check's wkv6 /
// ddlerp cases and model_check's x060 case (run with RWKV_CUDA_X060=1) passing on a device.
// tests/x060_model_test.cpp checks the default.
inline bool cuda_x060_enabled() { return env_switch_on("RWKV_CUDA_X060"); }

}  // namespace rwkv
