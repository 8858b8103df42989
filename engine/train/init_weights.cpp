#include "train/init_weights.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "core/model_x060.h"

namespace rwkv {
namespace {

// torch.nn.init.orthogonal_: a random matrix with orthonormal rows (rows <= cols) or columns,
// times gain.
void orthogonal(std::vector<float>& m, int64_t rows, int64_t cols, double gain, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  const bool by_rows = rows <= cols;
  const int64_t nvec = by_rows ? rows : cols, len = by_rows ? cols : rows;
  std::vector<double> q(size_t(nvec * len));
  for (double& x : q) x = normal(gen);
  // Block Gram-Schmidt: vectors in panels of 32; each panel is first projected off every earlier
  // vector (one read of an earlier vector serves the whole panel, and both loops run in
  // parallel), then orthonormalised inside the panel. A tall Gaussian matrix is well
  // conditioned (cond ~ (1+sqrt(n/m))/(1-sqrt(n/m))), so one projection pass keeps
  // orthogonality near 1e-15; squarer shapes get a second pass. (The head of a 65536-token model
  // has C columns of length 65536: element-by-element Gram-Schmidt is memory-bound there.)
  const int64_t panel = 32, block = 1024;
  const int passes = len >= 4 * nvec ? 1 : 2;
  const int64_t nblocks = (len + block - 1) / block;
  std::vector<double> D;
  for (int64_t j0 = 0; j0 < nvec; j0 += panel) {
    const int64_t j1 = std::min(nvec, j0 + panel), w = j1 - j0;
    for (int pass = 0; pass < passes && j0 > 0; ++pass) {
      D.assign(size_t(j0 * w), 0.0);
#pragma omp parallel for schedule(static) if (j0 * w * len > (1 << 18))
      for (int64_t p = 0; p < j0; ++p) {
        const double* vp = &q[size_t(p * len)];
        double* dp = &D[size_t(p * w)];
        for (int64_t b = 0; b < nblocks; ++b) {  // a cached block of v_p meets the whole panel
          const int64_t i0 = b * block, i1 = std::min(len, i0 + block);
          for (int64_t c = 0; c < w; ++c) {
            const double* vc = &q[size_t((j0 + c) * len)];
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = i0; i < i1; ++i) s += vp[i] * vc[i];
            dp[c] += s;
          }
        }
      }
#pragma omp parallel for schedule(static) if (j0 * w * len > (1 << 18))
      for (int64_t b = 0; b < nblocks; ++b) {
        const int64_t i0 = b * block, i1 = std::min(len, i0 + block);
        for (int64_t p = 0; p < j0; ++p) {
          const double* vp = &q[size_t(p * len)];
          for (int64_t c = 0; c < w; ++c) {
            const double d = D[size_t(p * w + c)];
            double* vc = &q[size_t((j0 + c) * len)];
#pragma omp simd
            for (int64_t i = i0; i < i1; ++i) vc[i] -= d * vp[i];
          }
        }
      }
    }
    for (int64_t j = j0; j < j1; ++j) {  // modified Gram-Schmidt inside the panel, twice
      double* vj = &q[size_t(j * len)];
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t p = j0; p < j; ++p) {
          const double* vp = &q[size_t(p * len)];
          double d = 0;
#pragma omp simd reduction(+ : d)
          for (int64_t i = 0; i < len; ++i) d += vj[i] * vp[i];
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) vj[i] -= d * vp[i];
        }
      double n = 0;
      for (int64_t i = 0; i < len; ++i) n += vj[i] * vj[i];
      n = std::sqrt(n);
      for (int64_t i = 0; i < len; ++i) vj[i] /= n;
    }
  }
  m.assign(size_t(rows * cols), 0.0f);
  for (int64_t j = 0; j < nvec; ++j)
    for (int64_t i = 0; i < len; ++i) {
      const float v = float(gain * q[size_t(j * len + i)]);
      if (by_rows) m[size_t(j * cols + i)] = v;
      else m[size_t(i * cols + j)] = v;
    }
}

}  // namespace

StateDict init_x070_weights(const ModelConfig& cfg, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const int C = cfg.n_embd, N = cfg.head_size, L = cfg.n_layer;
  auto uniform = [&](std::vector<float>& v, double bound) {
    std::uniform_real_distribution<double> u(-bound, bound);
    for (float& x : v) x = float(u(gen));
  };
  StateDict out;
  for (const auto& [name, shape] : x070_tensor_shapes(cfg)) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> w(size_t(n), 0.0f);
    const auto ends = [&](const char* s) {
      const std::string t(s);
      return name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0;
    };
    int layer = 0;
    if (name.rfind("blocks.", 0) == 0) layer = std::stoi(name.substr(7));
    const double r01 = L > 1 ? double(layer) / (L - 1) : 0.0;   // ratio_0_to_1
    const double r10 = 1.0 - double(layer) / L;                 // ratio_1_to_almost0
    auto curve = [&](double power) {  // 1 - (i/C)^power
      for (int i = 0; i < C; ++i) w[i] = float(1.0 - std::pow(double(i) / C, power));
    };
    auto linear = [&](int i) { return double(i) / (C - 1) - 0.5; };
    auto zigzag = [&](int i) {
      double z = ((i % N) - (N - 1) / 2.0) / ((N - 1) / 2.0);
      return z * std::fabs(z);
    };
    if (name == "emb.weight") {
      uniform(w, 1e-4);
    } else if (name == "head.weight") {
      const double gain = cfg.vocab_size > C ? 0.5 * std::sqrt(double(cfg.vocab_size) / C) : 0.5;
      orthogonal(w, shape[0], shape[1], gain, gen);
    } else if (ends("ln_x.weight")) {
      for (float& x : w) x = float(std::pow(double(layer + 1) / L, 0.7));
    } else if (ends(".weight") && (name.find(".ln") != std::string::npos || name.rfind("ln_", 0) == 0)) {
      for (float& x : w) x = 1.0f;
    } else if (ends("att.x_r") || ends("att.x_g")) { curve(0.2 * r10);
    } else if (ends("att.x_w") || ends("att.x_a")) { curve(0.9 * r10);
    } else if (ends("att.x_k") || ends("att.x_v")) { curve(0.7 * r10);
    } else if (ends("ffn.x_k")) { curve(std::pow(r10, 4));
    } else if (ends("att.w0")) {
      for (int i = 0; i < C; ++i)
        w[i] = float(-6 + 6 * std::pow(double(i) / (C - 1), 1 + std::pow(r01, 0.3)) + 0.5 + zigzag(i) * 2.5);
    } else if (ends("att.a0")) {
      for (int i = 0; i < C; ++i) w[i] = float(-0.19 + zigzag(i) * 0.3 + linear(i) * 0.4);
    } else if (ends("att.v0")) {
      for (int i = 0; i < C; ++i) w[i] = float(0.73 - linear(i) * 0.4);
    } else if (ends("att.k_k")) {
      for (int i = 0; i < C; ++i) w[i] = float(0.71 - linear(i) * 0.1);
    } else if (ends("att.k_a")) {
      for (float& x : w) x = 1.02f;
    } else if (ends("att.r_k")) {
      for (float& x : w) x = -0.04f;
    } else if (ends("att.w2") || ends("att.a2") || ends("att.v2") || ends("att.g2")) {
      const double gain = shape[0] > shape[1] ? std::sqrt(double(shape[0]) / shape[1]) : 1.0;
      orthogonal(w, shape[0], shape[1], gain * 0.1, gen);
    } else if (ends("att.receptance.weight") || ends("att.value.weight")) {
      uniform(w, 0.5 / std::sqrt(double(C)));
    } else if (ends("att.key.weight")) {
      uniform(w, 0.05 / std::sqrt(double(C)));
    } else if (ends("ffn.key.weight")) {
      uniform(w, 0.5 / std::sqrt(double(C)));
    }
    // zeros: biases, w1/a1/v1/g1, att.output, ffn.value (RWKV-LM's init)
    out.push_back({name, HostTensor::from_f32(w, shape)});
  }
  return out;
}

StateDict init_x060_weights(const ModelConfig& cfg, uint64_t seed, double emb_bound) {
  std::mt19937_64 gen(seed);
  const int C = cfg.n_embd, L = cfg.n_layer;
  auto uniform = [&](std::vector<float>& v, double bound) {
    std::uniform_real_distribution<double> u(-bound, bound);
    for (float& x : v) x = float(u(gen));
  };
  StateDict out;
  for (const auto& [name, shape] : x060_tensor_shapes(cfg)) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> w(size_t(n), 0.0f);
    const auto ends = [&](const char* s) {
      const std::string t(s);
      return name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0;
    };
    int layer = 0;
    if (name.rfind("blocks.", 0) == 0) layer = std::stoi(name.substr(7));
    const double r01 = L > 1 ? double(layer) / (L - 1) : 0.0;  // ratio_0_to_1
    const double r10 = 1.0 - double(layer) / L;                // ratio_1_to_almost0
    // 1 - (i/C)^power - offset, the "fancy time_mix" curves
    auto curve = [&](double power, double offset) {
      for (int i = 0; i < C; ++i) w[i] = float(1.0 - (std::pow(double(i) / C, power) + offset));
    };
    // generate_init_weight: the 2-D non-"time_" tensors are orthogonal with gain sqrt(rows/cols)
    // for tall ones, times a per-name scale (0: zeros)
    auto orthogonal_scaled = [&](double scale) {
      const double gain = shape[0] > shape[1] ? std::sqrt(double(shape[0]) / shape[1]) : 1.0;
      orthogonal(w, shape[0], shape[1], gain * scale, gen);
    };
    if (name == "emb.weight") {
      uniform(w, emb_bound);
    } else if (name == "head.weight") {
      orthogonal_scaled(0.5);
    } else if (ends("ln_x.weight")) {
      for (float& x : w) x = float(std::pow(double(layer + 1) / L, 0.7));
    } else if (ends(".weight") && (name.find(".ln") != std::string::npos || name.rfind("ln_", 0) == 0)) {
      for (float& x : w) x = 1.0f;
    } else if (ends("att.time_maa_x") || ends("att.time_maa_w") || ends("att.time_maa_k") || ends("ffn.time_maa_k") ||
               ends("ffn.time_maa_r")) {
      curve(r10, 0.0);
    } else if (ends("att.time_maa_v")) {
      curve(r10, 0.3 * r01);
    } else if (ends("att.time_maa_r") || ends("att.time_maa_g")) {
      curve(0.5 * r10, 0.0);
    } else if (ends("att.time_maa_w1") || ends("att.time_maa_w2") || ends("att.time_decay_w1") ||
               ends("att.time_decay_w2")) {
      uniform(w, 1e-4);
    } else if (ends("att.time_decay")) {
      for (int i = 0; i < C; ++i) w[i] = float(-6 + 5 * std::pow(double(i) / (C - 1), 0.7 + 1.3 * r01));
    } else if (ends("att.time_faaaa")) {
      for (int i = 0; i < C; ++i) w[i] = float(r01 * (1 - double(i) / (C - 1)) + ((i + 1) % 3 - 1) * 0.1);
    } else if (ends("att.output.weight") || ends("ffn.value.weight") || ends("ffn.receptance.weight")) {
      // zeros: each block starts as the identity
    } else if (ends(".weight") && shape.size() == 2) {
      orthogonal_scaled(1.0);  // att.receptance/key/value/gate, ffn.key
    }
    // zeros: the biases
    out.push_back({name, HostTensor::from_f32(w, shape)});
  }
  return out;
}

StateDict init_model_weights(const ModelConfig& cfg, uint64_t seed, double x060_emb_bound) {
  return cfg.version == "x060" ? init_x060_weights(cfg, seed, x060_emb_bound) : init_x070_weights(cfg, seed);
}

}  // namespace rwkv
