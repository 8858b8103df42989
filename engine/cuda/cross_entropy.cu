// Cross-entropy over a chunk of rows of bf16 logits, forward and backward in one kernel: one
// block per row reads the row once for an online max / sum-of-exponentials, then once more to
// write the gradient in place. No fp32 copy of the logits is ever made.
#include <cuda_runtime.h>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"

namespace rwkv::cuda {
namespace {

constexpr int kThreads = 1024;

__global__ void __launch_bounds__(kThreads) cross_entropy_kernel(int V, bf16_t* __restrict__ logits,
    const int32_t* __restrict__ targets, float grad_scale, float* __restrict__ loss_sum) {
  const int row = blockIdx.x;
  bf16_t* x = logits + (int64_t)row * V;
  const int target = targets[row];
  if (target < 0) {  // ignored row (padding): zero gradient, no loss
    for (int c = threadIdx.x; c < V; c += kThreads) st(x, c, 0.f);
    return;
  }
  // Online softmax statistics per thread: m = running max, s = sum exp(x - m).
  float m = -INFINITY, s = 0.f;
  for (int c = threadIdx.x; c < V; c += kThreads) {
    const float v = ld(x, c);
    if (v > m) { s = s * __expf(m - v) + 1.f; m = v; }
    else s += __expf(v - m);
  }
  const float M = block_max(m);
  const float S = block_sum(m == -INFINITY ? 0.f : s * __expf(m - M));
  const float lse = M + logf(S);
  const float xt = ld(x, target);
  __syncthreads();  // every thread has read x[target] before anyone overwrites it
  if (threadIdx.x == 0) atomicAdd(loss_sum, lse - xt);
  const float inv = 1.f / S;
  for (int c = threadIdx.x; c < V; c += kThreads) {
    const float p = __expf(ld(x, c) - M) * inv;
    st(x, c, (p - (c == target ? 1.f : 0.f)) * grad_scale);
  }
}

}  // namespace

void cross_entropy_fused(int rows, int V, bf16_t* logits, const int32_t* targets, float grad_scale,
                         float* loss_sum, cudaStream_t stream) {
  if (rows == 0) return;
  cross_entropy_kernel<<<rows, kThreads, 0, stream>>>(V, logits, targets, grad_scale, loss_sum);
  check_cuda(cudaGetLastError(), "cross_entropy_fused");
}

}  // namespace rwkv::cuda
