// Shared by the PEFT run tests: a tiny x070 base model whose linears carry a clear rank-4
// structure (so a 4-step randomized SVD finds the true top-4 part), a learnable dataset, train.py
// flags run through the real flag parser and trainer, and reading what a run wrote.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/binidx.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/pth.h"
#include "train/init_weights.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace peft_test {

using namespace rwkv;

inline std::string temp_dir(const std::string& name) {
  std::string d = "/tmp/rwkv_peft_test_" + std::to_string(::getpid()) + "_" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}

inline ModelConfig tiny_config() { return model_config_for_size(2, 32, 24, 16); }

// Every 2-D linear gets sum_k s_k u_k v_k^T (s = 3, 2, 1.5, 1) on top of a small init.
inline StateDict low_rank_base(uint64_t seed) {
  StateDict w = init_x070_weights(tiny_config(), seed);
  std::mt19937 gen(unsigned(seed) + 1);
  std::normal_distribution<double> normal;
  for (auto& [n, t] : w) {
    const bool linear = n.find(".weight") != std::string::npos && t.shape.size() == 2 &&
                        (n.find("att.") != std::string::npos || n.find("ffn.") != std::string::npos);
    if (!linear) continue;
    const int out = int(t.shape[0]), in = int(t.shape[1]);
    std::vector<float> v = t.to_f32();
    for (float& x : v) x = float(0.02 * normal(gen));
    const double s[4] = {3, 2, 1.5, 1};
    for (int k = 0; k < 4; ++k) {
      std::vector<double> a(out), b(in);
      for (auto& x : a) x = normal(gen) / std::sqrt(double(out));
      for (auto& x : b) x = normal(gen) / std::sqrt(double(in));
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) v[size_t(o) * in + i] += float(s[k] * a[o] * b[i]);
    }
    t = HostTensor::from_f32(v, t.shape);
  }
  return w;
}

// Counting documents (tests/counting_data.h): learnable, so training visibly moves the adapter.
inline std::string pattern_data(const std::string& dir) { return rwkv_test::write_counting_data(dir, 60); }

// train.py flags for the tiny model; `extra` adds or overrides.
inline std::vector<std::string> tiny_flags(const std::string& base, const std::string& data, const std::string& proj,
                                           std::vector<std::string> extra) {
  std::vector<std::string> a = {"--load_model", base, "--proj_dir", proj, "--data_file", data, "--data_type", "binidx",
                                "--vocab_size", "24", "--head_size_a", "16",
                                "--ctx_len", "16", "--micro_bsz", "2", "--epoch_steps", "4", "--epoch_count", "2",
                                "--epoch_save", "1", "--lr_init", "2e-3", "--lr_final", "2e-3", "--warmup_steps", "0",
                                "--accelerator", "cpu", "--random_seed", "3", "--my_testing", "x070"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

inline TrainOptions options(const std::vector<std::string>& args) {
  TrainOptions o = train_options_from_flags(parse_flags(args));
  o.magic_prime = 0;
  return o;
}

// Runs training; returns "" on success, else the error event's code.
inline std::string train(const std::vector<std::string>& args) {
  TrainOptions o;
  try {
    o = options(args);
  } catch (const EngineError& e) {
    std::fprintf(stderr, "(flags refused: %s: %s)\n", e.code.c_str(), e.what());
    return e.code;
  }
  std::system(("mkdir -p '" + o.proj_dir + "'").c_str());
  {
    RunProtocol proto(o.proj_dir + "/metrics.jsonl");
    TrainHooks hooks;
    hooks.progress_bar = false;
    hooks.allow_resume = false;
    const int rc = run_training(o, proto, hooks);
    CHECK_PROTOCOL_FILE(o.proj_dir + "/metrics.jsonl");  // pissa_init, adapter, merged, state checkpoints
    if (rc == 0) return "";
  }
  std::ifstream in(o.proj_dir + "/metrics.jsonl");
  std::string line, code = "?";
  while (std::getline(in, line)) {
    const Json j = Json::parse(line);
    if (j.find("event")->as_string() == "error") code = j.find("code")->as_string();
  }
  return code;
}

inline const HostTensor* find(const StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return &t;
  return nullptr;
}

// Logits of a full (merged) model on fixed tokens.
inline std::vector<float> logits_of(const StateDict& weights, const std::vector<int32_t>& ids) {
  auto b = make_cpu_backend(tiny_config(), PeftConfig{}, weights, BackendOptions{});
  std::vector<int32_t> tgt(ids.begin() + 1, ids.end());
  tgt.push_back(ids[0]);
  std::vector<float> out(ids.size() * 24);
  b->forward(Batch{1, int(ids.size()), ids.data(), tgt.data(), nullptr}, out.data());
  return out;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0 : 1e30;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::fmax(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

}  // namespace peft_test
