// `init` weights follow RWKV-LM's x070 initialisation: every tensor of the model with its shape,
// orthogonal head (gain 0.5*sqrt(V/C)) and low-rank maps (gain 0.1*sqrt(rows/cols) when tall),
// tiny embedding, zero output/ffn.value/w1, ln_x scaled by layer, deterministic per seed.
#include <cmath>
#include <map>

#include "core/model_config.h"
#include "tests/check.h"
#include "train/init_weights.h"

using namespace rwkv;

// max |G - gain^2 I| over the Gram matrix of the rows (rows <= cols) or columns.
static double orthogonality_error(const std::vector<float>& m, int64_t rows, int64_t cols, double gain) {
  const bool by_rows = rows <= cols;
  const int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  double worst = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a; b < n; ++b) {
      double s = 0;
      for (int64_t i = 0; i < len; ++i)
        s += by_rows ? double(m[a * cols + i]) * m[b * cols + i] : double(m[i * cols + a]) * m[i * cols + b];
      worst = std::fmax(worst, std::fabs(s - (a == b ? gain * gain : 0.0)));
    }
  return worst;
}

int main() {
  const ModelConfig cfg = model_config_for_size(3, 128, 1000);
  const StateDict w = init_x070_weights(cfg, 9);
  validate_x070_weights(cfg, w);
  CHECK(w.size() == x070_tensor_shapes(cfg).size());
  std::map<std::string, std::vector<float>> v;
  for (const auto& [n, t] : w) v[n] = t.to_f32();
  CHECK(orthogonality_error(v["head.weight"], 1000, 128, 0.5 * std::sqrt(1000.0 / 128)) < 1e-4);
  CHECK(orthogonality_error(v["blocks.1.att.w2"], cfg.d_decay_lora, 128, 0.1) < 1e-5);
  CHECK(orthogonality_error(v["blocks.2.att.g2"], cfg.d_gate_lora, 128, 0.1) < 1e-5);
  double emb_max = 0;
  for (float x : v["emb.weight"]) emb_max = std::fmax(emb_max, std::fabs(x));
  CHECK(emb_max <= 1e-4 && emb_max > 5e-5);
  for (const char* zero : {"blocks.0.att.output.weight", "blocks.1.ffn.value.weight", "blocks.2.att.w1", "blocks.0.att.a1"})
    for (float x : v[zero]) if (x != 0) { rwkv_test::fail(__FILE__, __LINE__, std::string(zero) + " is not zero"); break; }
  CHECK_CLOSE(v["blocks.0.att.ln_x.weight"][5], std::pow(1.0 / 3, 0.7), 1e-6);
  CHECK_CLOSE(v["blocks.2.att.ln_x.weight"][5], 1.0, 1e-6);
  CHECK_CLOSE(v["blocks.0.att.k_a"][0], 1.02, 1e-6);
  CHECK_CLOSE(v["blocks.0.att.x_r"][0], 1.0, 1e-6);  // 1 - 0^p
  // same seed, same weights; another seed, other weights
  const StateDict again = init_x070_weights(cfg, 9), other = init_x070_weights(cfg, 10);
  CHECK(again[0].second.bytes == w[0].second.bytes);
  CHECK(other[0].second.bytes != w[0].second.bytes);
  return rwkv_test::summary("init_test");
}
