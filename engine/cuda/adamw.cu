// Fused multi-tensor AdamW (torch.optim.AdamW's update: decoupled weight decay, bias-corrected
// moments): one launch updates every trained tensor, writing the fp32 master weight, both
// moments, and the bf16 copy the next forward reads.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"

namespace rwkv::cuda {
namespace {

__global__ void adamw_kernel(const AdamTensor* __restrict__ tensors, AdamHyper h, float bc1, float bc2) {
  const AdamTensor t = tensors[blockIdx.y];
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < t.n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = t.grad[i] * h.grad_scale;
    const float m = h.beta1 * t.m[i] + (1.f - h.beta1) * g;
    const float v = h.beta2 * t.v[i] + (1.f - h.beta2) * g * g;
    t.m[i] = m;
    t.v[i] = v;
    float p = t.master[i] * (1.f - h.lr * h.weight_decay);
    p -= h.lr * (m / bc1) / (sqrtf(v / bc2) + h.eps);
    t.master[i] = p;
    if (t.model) st(t.model, i, p);
  }
}

}  // namespace

void adamw_multi_tensor(const AdamTensor* tensors, int count, const AdamHyper& h, cudaStream_t stream) {
  if (count == 0) return;
  int64_t largest = 0;
  for (int i = 0; i < count; i++) largest = std::max(largest, tensors[i].n);
  void* dev = nullptr;
  const size_t bytes = sizeof(AdamTensor) * count;
  check_cuda(cudaMallocAsync(&dev, bytes, stream), "cudaMallocAsync(adamw descriptors)");
  check_cuda(cudaMemcpyAsync(dev, tensors, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
  const float bc1 = 1.f - std::pow(h.beta1, (float)h.step);
  const float bc2 = 1.f - std::pow(h.beta2, (float)h.step);
  const unsigned gx = (unsigned)std::min<int64_t>((largest + 255) / 256, 1024);
  adamw_kernel<<<dim3(gx, count), 256, 0, stream>>>(static_cast<const AdamTensor*>(dev), h, bc1, bc2);
  check_cuda(cudaGetLastError(), "adamw_multi_tensor");
  // The host array may go away once the copy is done; the device copy is freed in stream order.
  check_cuda(cudaFreeAsync(dev, stream), "cudaFreeAsync(adamw descriptors)");
  check_cuda(cudaStreamSynchronize(stream), "adamw sync");
}

}  // namespace rwkv::cuda
