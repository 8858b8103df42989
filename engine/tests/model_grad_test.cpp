// Finite-difference check of the whole x070 model on the CPU backend (a tiny L2 C32 H2 model
// with every weight randomised so that no path is dead), for full fine-tuning and for each
// adapter method. The checked objective is the loss plus L2Wrap's implicit term
// (1e-4/(2M) * max(logits_row)^2 summed over rows), whose gradient the backend adds.
#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <random>
#include <string>

#include "core/backend.h"
#include "tests/check.h"
#include "train/init_weights.h"

using namespace rwkv;

static std::mt19937 gen(7);

static StateDict random_model(const ModelConfig& cfg) {
  StateDict w = init_x070_weights(cfg, 42);
  std::normal_distribution<float> noise(0.0f, 0.2f);
  for (auto& [name, t] : w) {
    std::vector<float> v = t.to_f32();
    for (float& x : v) x += noise(gen);
    t = HostTensor::from_f32(v, t.shape);
  }
  return w;
}

struct Data { std::vector<int32_t> in, tgt; std::vector<float> mask; Batch batch; };

static Data make_data(const ModelConfig& cfg, int B, int T) {
  Data d;
  std::uniform_int_distribution<int> tok(0, cfg.vocab_size - 1);
  for (int i = 0; i < B * T; ++i) { d.in.push_back(tok(gen)); d.tgt.push_back(tok(gen)); d.mask.push_back(i % 4 == 1 ? 0.0f : 1.0f); }
  d.batch = {B, T, d.in.data(), d.tgt.data(), d.mask.data()};
  return d;
}

static double objective(Backend& be, const Data& d) {
  const int M = d.batch.B * d.batch.T, V = be.config().vocab_size;
  std::vector<float> logits(size_t(M) * V);
  double loss = be.forward(d.batch, logits.data()).loss;
  for (int i = 0; i < M; ++i) {
    const float mx = *std::max_element(logits.begin() + size_t(i) * V, logits.begin() + size_t(i + 1) * V);
    loss += 1e-4 / (2.0 * M) * double(mx) * mx;
  }
  return loss;
}

static void check_method(const std::string& label, PeftConfig peft, int samples_per_tensor) {
  ModelConfig cfg = model_config_for_size(2, 32, 40, 16);
  auto be = make_cpu_backend(cfg, peft, random_model(cfg), BackendOptions{});
  // Adapters start at zero (lora_B, disha, time_state): randomise them so every grad is live.
  StateDict start = be->export_weights(ExportKind::AdapterOnly);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (auto& [name, t] : start) {
    std::vector<float> v = t.to_f32();
    for (float& x : v) x += noise(gen);
    t = HostTensor::from_f32(v, t.shape);
  }
  be->import_trainable(start);
  Data d = make_data(cfg, 2, 5);
  be->zero_grads();
  be->forward_backward(d.batch, 1.0f);
  StateDict grads = be->export_grads();
  CHECK(!grads.empty());
  double num = 0, den = 0;
  int checked = 0;
  for (size_t ti = 0; ti < grads.size(); ++ti) {
    const std::string& name = grads[ti].first;
    const std::vector<float> g = grads[ti].second.to_f32();
    std::vector<float> w = start[ti].second.to_f32();
    CHECK(start[ti].first == name);
    std::uniform_int_distribution<size_t> pick(0, w.size() - 1);
    double tnum = 0, tden = 0;
    for (int s = 0; s < samples_per_tensor; ++s) {
      const size_t e = pick(gen);
      const float orig = w[e];
      const float h = 1e-2f * std::max(1.0f, std::fabs(orig));
      double l[2];
      for (int side = 0; side < 2; ++side) {
        w[e] = orig + (side ? -h : h);
        be->import_trainable({{name, HostTensor::from_f32(w, start[ti].second.shape)}});
        l[side] = objective(*be, d);
      }
      w[e] = orig;
      be->import_trainable({{name, HostTensor::from_f32(w, start[ti].second.shape)}});
      const double fd = (l[0] - l[1]) / (2.0 * h);
      if (std::getenv("GRAD_DEBUG") && name.find(std::getenv("GRAD_DEBUG")) != std::string::npos) std::fprintf(stderr, "%s[%zu] fd %.6e analytic %.6e\n", name.c_str(), e, fd, g[e]);
      tnum += (fd - g[e]) * (fd - g[e]);
      tden += fd * fd;
      ++checked;
    }
    num += tnum;
    den += tden;
    // float32 forward noise (~1e-6 in the loss) gives FD an absolute error of ~3e-5 at this h,
    // so tiny gradients get that floor; a wrong formula is far outside it.
    if (std::sqrt(tnum) > 5e-2 * std::sqrt(tden) + 3e-5 * std::sqrt(double(samples_per_tensor)))
      rwkv_test::fail(__FILE__, __LINE__, label + ": " + name + " relative error " + std::to_string(std::sqrt(tnum / tden)));
  }
  const double rel = std::sqrt(num / std::max(den, 1e-30));
  std::fprintf(stderr, "%s: %zu tensors, %d elements, overall relative error %.2e\n", label.c_str(), grads.size(), checked, rel);
  CHECK(rel < 1e-2);
}

int main() {
  PeftConfig full;
  check_method("full", full, 3);
  PeftConfig lora;
  lora.method = PeftMethod::Lora;
  lora.r = 4;
  lora.lora_alpha = 8;
  lora.train_parts = {"ln"};
  check_method("lora", lora, 4);
  PeftConfig miss;
  miss.method = PeftMethod::Miss;
  miss.r = 8;
  check_method("miss", miss, 6);
  PeftConfig state;
  state.method = PeftMethod::State;
  check_method("state", state, 16);
  return rwkv_test::summary("model_grad_test");
}
