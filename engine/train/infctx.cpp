#include "train/infctx.h"

#include <algorithm>
#include <vector>

namespace rwkv {

double infctx_forward_backward(Backend& backend, const ModelConfig& cfg, int B, int T, int chunk_ctx,
                               const int32_t* inputs, const int32_t* targets, const float* mask,
                               float loss_scale, int world_size) {
  // data-parallel ranks' gradients are summed: L2Wrap's unscaled term is spread over the world
  if (chunk_ctx >= T) {  // one chunk: normal training, with the chunk-length L2Wrap
    Batch batch{B, T, inputs, targets, mask};
    batch.l2wrap_rows = int64_t(T) * world_size;
    return backend.forward_backward(batch, loss_scale).loss;
  }
  CarriedState carry;
  carry.reset(cfg, B);
  double loss = 0;
  std::vector<int32_t> cin, ctgt;
  std::vector<float> cmask;
  for (int t0 = 0; t0 < T; t0 += chunk_ctx) {
    const int Tc = std::min(chunk_ctx, T - t0);
    cin.resize(size_t(B) * Tc);
    ctgt.resize(cin.size());
    cmask.assign(cin.size(), 1.0f);
    for (int b = 0; b < B; ++b) {
      const size_t from = size_t(b) * T + t0, to = size_t(b) * Tc;
      std::copy_n(inputs + from, Tc, cin.begin() + to);
      std::copy_n(targets + from, Tc, ctgt.begin() + to);
      if (mask) std::copy_n(mask + from, Tc, cmask.begin() + to);
    }
    Batch chunk{B, Tc, cin.data(), ctgt.data(), cmask.data(), &carry, int64_t(Tc) * world_size};
    const double weight = double(Tc) / T;
    loss += weight * backend.forward_backward(chunk, float(weight) * loss_scale).loss;
  }
  return loss;
}

}  // namespace rwkv
