// Randomized SVD for PiSSA (see pissa.h), in float64 for stability.
#include "cpu/pissa.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/errors.h"

namespace rwkv {
namespace {

using Mat = std::vector<double>;  // row-major

// Orthonormalises the q columns of Q [n, q] in place (modified Gram-Schmidt, twice).
void orthonormalize(Mat& Q, int n, int q) {
  for (int pass = 0; pass < 2; ++pass)
    for (int j = 0; j < q; ++j) {
      for (int p = 0; p < j; ++p) {
        double d = 0;
        for (int i = 0; i < n; ++i) d += Q[size_t(i) * q + j] * Q[size_t(i) * q + p];
        for (int i = 0; i < n; ++i) Q[size_t(i) * q + j] -= d * Q[size_t(i) * q + p];
      }
      double nrm = 0;
      for (int i = 0; i < n; ++i) nrm += Q[size_t(i) * q + j] * Q[size_t(i) * q + j];
      nrm = std::sqrt(nrm);
      for (int i = 0; i < n; ++i) Q[size_t(i) * q + j] = nrm > 1e-300 ? Q[size_t(i) * q + j] / nrm : 0;
    }
}

// Symmetric eigen-decomposition by cyclic Jacobi: A [n,n] -> eigenvalues, eigenvectors (columns).
void jacobi_eigen(Mat A, int n, std::vector<double>& evals, Mat& evecs) {
  evecs.assign(size_t(n) * n, 0);
  for (int i = 0; i < n; ++i) evecs[size_t(i) * n + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) off += A[size_t(i) * n + j] * A[size_t(i) * n + j];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = A[size_t(p) * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (A[size_t(q) * n + q] - A[size_t(p) * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {
          const double akp = A[size_t(k) * n + p], akq = A[size_t(k) * n + q];
          A[size_t(k) * n + p] = c * akp - s * akq;
          A[size_t(k) * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {
          const double apk = A[size_t(p) * n + k], aqk = A[size_t(q) * n + k];
          A[size_t(p) * n + k] = c * apk - s * aqk;
          A[size_t(q) * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = evecs[size_t(k) * n + p], vkq = evecs[size_t(k) * n + q];
          evecs[size_t(k) * n + p] = c * vkp - s * vkq;
          evecs[size_t(k) * n + q] = s * vkp + c * vkq;
        }
      }
  }
  evals.resize(n);
  for (int i = 0; i < n; ++i) evals[i] = A[size_t(i) * n + i];
}

}  // namespace

void subtract_product(float* W, int out, int in, int r, const float* B, const float* A, double scale) {
#pragma omp parallel
  {
    std::vector<double> row(static_cast<size_t>(in));
#pragma omp for schedule(static)
    for (int o = 0; o < out; ++o) {  // row o of B A as a sum of rows of A: contiguous reads
      std::fill(row.begin(), row.end(), 0.0);
      for (int c = 0; c < r; ++c) {
        const double b = B[size_t(o) * r + c];
        const float* a = A + size_t(c) * in;
        for (int i = 0; i < in; ++i) row[size_t(i)] += b * a[i];
      }
      float* w = W + size_t(o) * in;
      for (int i = 0; i < in; ++i) w[i] -= float(scale * row[size_t(i)]);
    }
  }
}

void pissa_init(float* W, int out, int in, int r, int niter, uint64_t seed, float* lora_A,
                float* lora_B, int oversample) {
  const int q = std::min({r + std::max(oversample, 0), out, in});
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  // Y = W R, R [in, q] Gaussian; Q = orth(Y) [out, q]
  Mat R(size_t(in) * q), Q(size_t(out) * q, 0), Z(size_t(in) * q, 0);
  for (double& x : R) x = normal(gen);
  // The two products with W dominate (a few GFLOP per linear of a 1.5B model): rows of W are
  // shared out between threads, each writing only its own rows (mul_W) or columns (mul_Wt) of
  // the result, so no reduction is needed.
  auto mul_W = [&](const Mat& X, Mat& Y) {  // Y[out,q] = W X[in,q]
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; ++o) {
      double* __restrict y = &Y[size_t(o) * q];
      std::fill(y, y + q, 0.0);
      const float* w = W + size_t(o) * in;
      for (int i = 0; i < in; ++i) {
        const double wi = w[i];
        const double* __restrict x = &X[size_t(i) * q];
        for (int j = 0; j < q; ++j) y[j] += wi * x[j];
      }
    }
  };
  auto mul_Wt = [&](const Mat& Y, Mat& X) {  // X[in,q] = W^T Y[out,q], by column blocks of W
    const int block = 256;
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < in; i0 += block) {
      const int i1 = std::min(in, i0 + block);
      std::fill(X.begin() + size_t(i0) * q, X.begin() + size_t(i1) * q, 0.0);
      for (int o = 0; o < out; ++o) {
        const float* w = W + size_t(o) * in;
        const double* __restrict y = &Y[size_t(o) * q];
        for (int i = i0; i < i1; ++i) {
          const double wi = w[i];
          double* __restrict x = &X[size_t(i) * q];
          for (int j = 0; j < q; ++j) x[j] += wi * y[j];
        }
      }
    }
  };
  mul_W(R, Q);
  orthonormalize(Q, out, q);
  for (int it = 0; it < niter; ++it) {
    mul_Wt(Q, Z);
    orthonormalize(Z, in, q);
    mul_W(Z, Q);
    orthonormalize(Q, out, q);
  }
  // Bt = W^T Q [in, q]  (B = Q^T W [q, in]); B B^T = Ub S^2 Ub^T
  Mat Bt(size_t(in) * q);
  mul_Wt(Q, Bt);
  Mat BBt(size_t(q) * q, 0);
  for (int i = 0; i < in; ++i) {  // row by row: Bt is read once, in order
    const double* row = &Bt[size_t(i) * q];
    for (int a = 0; a < q; ++a)
      for (int b = 0; b < q; ++b) BBt[size_t(a) * q + b] += row[a] * row[b];
  }
  std::vector<double> evals;
  Mat Ub;
  jacobi_eigen(BBt, q, evals, Ub);
  std::vector<int> order(q);
  for (int i = 0; i < q; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int x, int y) { return evals[x] > evals[y]; });
  std::fill(lora_A, lora_A + size_t(r) * in, 0.0f);
  std::fill(lora_B, lora_B + size_t(out) * r, 0.0f);
  for (int c = 0; c < std::min(q, r); ++c) {
    const int e = order[c];
    const double sigma = std::sqrt(std::max(evals[e], 0.0));
    if (sigma < 1e-12) continue;
    const double sq = std::sqrt(sigma);
    // u = Q Ub[:,e]; v = B^T Ub[:,e] / sigma
    for (int o = 0; o < out; ++o) {
      double u = 0;
      for (int j = 0; j < q; ++j) u += Q[size_t(o) * q + j] * Ub[size_t(j) * q + e];
      lora_B[size_t(o) * r + c] = float(u * sq);
    }
    for (int i = 0; i < in; ++i) {
      double v = 0;
      for (int j = 0; j < q; ++j) v += Bt[size_t(i) * q + j] * Ub[size_t(j) * q + e];
      lora_A[size_t(c) * in + i] = float(v / sigma * sq);
    }
  }
  subtract_product(W, out, in, r, lora_B, lora_A, 1.0);
}

}  // namespace rwkv

// ---- whole-model helpers ----

namespace rwkv {
namespace {

const HostTensor* find_tensor(const StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return &t;
  return nullptr;
}
HostTensor* find_tensor(StateDict& sd, const std::string& name) {
  for (auto& [n, t] : sd)
    if (n == name) return &t;
  return nullptr;
}

// init_pissa.pth of RWKV-PEFT 5b8aac9 prefixes "model." (its Lightning module's names); older
// merge_pissa.py files do not: accept both.
const HostTensor* init_tensor(const StateDict& init, const std::string& prefix, const char* which) {
  const std::string leaf = prefix + "." + which;
  if (const HostTensor* t = find_tensor(init, "model." + leaf)) return t;
  return find_tensor(init, leaf);
}

}  // namespace

std::vector<std::string> adapted_linear_prefixes(const ModelConfig& cfg,
                                                 const std::vector<std::string>& target_modules) {
  auto targeted = [&](const char* m) {
    return std::find(target_modules.begin(), target_modules.end(), m) != target_modules.end();
  };
  std::vector<std::string> out;
  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    if (cfg.version == "x060") {  // x060's block has att.gate and ffn.receptance too
      for (const char* m : {"receptance", "key", "value", "gate", "output"})
        if (targeted(m)) out.push_back(p + "att." + m);
      for (const char* m : {"key", "receptance", "value"})
        if (targeted(m)) out.push_back(p + "ffn." + m);
      continue;
    }
    for (const char* m : {"receptance", "key", "value", "output"})
      if (targeted(m)) out.push_back(p + "att." + m);
    for (const char* m : {"key", "value"})
      if (targeted(m)) out.push_back(p + "ffn." + m);
  }
  return out;
}

StateDict pissa_initial_adapters(const StateDict& weights, const std::vector<std::string>& prefixes,
                                 int r, int niter, int oversample, uint64_t seed, float scaling) {
  StateDict out;
  for (size_t k = 0; k < prefixes.size(); ++k) {
    const HostTensor* w = find_tensor(weights, prefixes[k] + ".weight");
    if (!w || w->shape.size() != 2)
      throw EngineError("E_PISSA_INIT", "the model has no linear " + prefixes[k] + ".weight", "");
    const int o = int(w->shape[0]), i = int(w->shape[1]);
    std::vector<float> W = w->to_f32(), A(size_t(r) * i), B(size_t(o) * r);
    pissa_init(W.data(), o, i, r, niter, seed * 1000003ull + k, A.data(), B.data(), oversample);
    // peft's PiSSA: S / s in both factors, so s * B A is the same principal part
    const float f = 1.0f / std::sqrt(scaling);
    for (float& x : A) x *= f;
    for (float& x : B) x *= f;
    out.push_back({"model." + prefixes[k] + ".init_lora_A", HostTensor::from_f32(A, {r, i})});
    out.push_back({"model." + prefixes[k] + ".init_lora_B", HostTensor::from_f32(B, {o, r})});
  }
  return out;
}

void check_pissa_init(const StateDict& init, const StateDict& weights,
                      const std::vector<std::string>& prefixes, int r, const std::string& path) {
  for (const auto& p : prefixes) {
    const HostTensor* w = find_tensor(weights, p + ".weight");
    const HostTensor* A = init_tensor(init, p, "init_lora_A");
    const HostTensor* B = init_tensor(init, p, "init_lora_B");
    if (!A || !B)
      throw EngineError("E_PISSA_INIT", path + " has no init_lora_A/init_lora_B for " + p,
                        "give the init_pissa.pth written by the run that trained this adapter "
                        "(same model and target modules)");
    if (!w) throw EngineError("E_PISSA_INIT", "the model has no linear " + p + ".weight", "");
    const std::vector<int64_t> wantA = {r, w->shape[1]}, wantB = {w->shape[0], r};
    if (A->shape != wantA || B->shape != wantB)
      throw EngineError("E_PISSA_INIT",
                        path + ": " + p + " init shapes do not fit this model and rank r " + std::to_string(r),
                        "use the pissa_r (r) the init was made with, and the same base model");
  }
}

void subtract_pissa_init(StateDict& weights, const StateDict& init,
                         const std::vector<std::string>& prefixes, float scaling) {
  for (const auto& p : prefixes) {
    HostTensor* w = find_tensor(weights, p + ".weight");
    const HostTensor* At = init_tensor(init, p, "init_lora_A");
    const HostTensor* Bt = init_tensor(init, p, "init_lora_B");
    if (!w || !At || !Bt) throw EngineError("E_PISSA_INIT", "no PiSSA init for " + p, "");
    const int o = int(w->shape[0]), i = int(w->shape[1]), r = int(At->shape[0]);
    std::vector<float> W = w->to_f32();
    const std::vector<float> A = At->to_f32(), B = Bt->to_f32();
    subtract_product(W.data(), o, i, r, B.data(), A.data(), scaling);
    *w = HostTensor::from_f32(W, w->shape);
  }
}

StateDict pissa_adapter_from_init(const StateDict& init, const std::vector<std::string>& prefixes) {
  StateDict out;
  for (const auto& p : prefixes) {
    const HostTensor* A = init_tensor(init, p, "init_lora_A");
    const HostTensor* B = init_tensor(init, p, "init_lora_B");
    if (!A || !B) throw EngineError("E_PISSA_INIT", "no PiSSA init for " + p, "");
    out.push_back({p + ".lora_A", HostTensor::from_f32(A->to_f32(), A->shape)});
    out.push_back({p + ".lora_B", HostTensor::from_f32(B->to_f32(), B->shape)});
  }
  return out;
}

}  // namespace rwkv
