// PiSSA initialisation: lora_B lora_A captures the top-r singular subspace of W and the base
// keeps the residual (W = residual + B A), so a PiSSA model computes exactly what the base did.
#include <cmath>
#include <random>
#include <vector>

#include "core/backend.h"
#include "cpu/pissa.h"
#include "tests/check.h"
#include "train/init_weights.h"

using namespace rwkv;

int main() {
  std::mt19937 gen(11);
  std::normal_distribution<double> normal;
  const int out = 40, in = 30, r = 4;
  // W = sum_k s_k u_k v_k^T (rank r, s = 8, 4, 2, 1) + small noise
  std::vector<double> W(size_t(out) * in, 0.0), noise(W.size());
  const double s[r] = {8, 4, 2, 1};
  for (int k = 0; k < r; ++k) {
    std::vector<double> u(out), v(in);
    for (auto& x : u) x = normal(gen) / std::sqrt(double(out));
    for (auto& x : v) x = normal(gen) / std::sqrt(double(in));
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) W[size_t(o) * in + i] += s[k] * u[o] * v[i];
  }
  double noise_energy = 0;
  for (size_t e = 0; e < W.size(); ++e) { noise[e] = 1e-3 * normal(gen); noise_energy += noise[e] * noise[e]; W[e] += noise[e]; }
  std::vector<float> Wf(W.begin(), W.end()), A(size_t(r) * in), B(size_t(out) * r);
  pissa_init(Wf.data(), out, in, r, 4, 1, A.data(), B.data());
  double recon = 0, resid = 0;
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      double ba = 0;
      for (int k = 0; k < r; ++k) ba += double(B[size_t(o) * r + k]) * A[size_t(k) * in + i];
      const double e = Wf[size_t(o) * in + i] + ba - W[size_t(o) * in + i];
      recon = std::fmax(recon, std::fabs(e));
      resid += double(Wf[size_t(o) * in + i]) * Wf[size_t(o) * in + i];
    }
  CHECK(recon < 1e-5);                                   // residual + B A == W
  CHECK(std::sqrt(resid) < 1.5 * std::sqrt(noise_energy)); // the residual is (about) the noise only
  // A PiSSA model at initialisation computes the same loss as the base model.
  const ModelConfig cfg = model_config_for_size(2, 32, 30, 16);
  StateDict w = init_x070_weights(cfg, 5);
  for (auto& [n, t] : w) {  // make every linear non-zero (output/ffn.value start at zero)
    auto v = t.to_f32();
    for (auto& x : v) x += float(0.05 * normal(gen));
    t = HostTensor::from_f32(v, t.shape);
  }
  PeftConfig full, pissa;
  pissa.method = PeftMethod::Pissa;
  pissa.r = 4;
  pissa.train_parts = {};
  auto a = make_cpu_backend(cfg, full, w, BackendOptions{});
  auto b = make_cpu_backend(cfg, pissa, w, BackendOptions{});
  std::vector<int32_t> in_ids, tgt;
  for (int i = 0; i < 12; ++i) { in_ids.push_back(int(gen() % 30)); tgt.push_back(int(gen() % 30)); }
  Batch batch{2, 6, in_ids.data(), tgt.data(), nullptr};
  CHECK_CLOSE(a->forward(batch, nullptr).loss, b->forward(batch, nullptr).loss, 1e-5);
  // and its merged export is the base model again
  const StateDict merged = b->export_weights(ExportKind::Merged);
  double worst = 0;
  for (size_t i = 0; i < merged.size(); ++i) {
    const auto x = merged[i].second.to_f32(), y = w[i].second.to_f32();
    CHECK(merged[i].first == w[i].first);
    for (size_t k = 0; k < x.size(); ++k) worst = std::fmax(worst, std::fabs(x[k] - y[k]));
  }
  CHECK(worst < 1e-5);
  return rwkv_test::summary("pissa_test");
}
