// Randomized SVD for PiSSA (see pissa.h), in float64 for stability.
#include "cpu/pissa.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

void pissa_init(float* W, int out, int in, int r, int niter, uint64_t seed, float* lora_A,
                float* lora_B) {
  const int q = std::min({r, out, in});
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  // Y = W R, R [in, q] Gaussian; Q = orth(Y) [out, q]
  Mat R(size_t(in) * q), Q(size_t(out) * q, 0), Z(size_t(in) * q, 0);
  for (double& x : R) x = normal(gen);
  auto mul_W = [&](const Mat& X, Mat& Y) {  // Y[out,q] = W X[in,q]
    std::fill(Y.begin(), Y.end(), 0);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) {
        const double w = W[size_t(o) * in + i];
        for (int j = 0; j < q; ++j) Y[size_t(o) * q + j] += w * X[size_t(i) * q + j];
      }
  };
  auto mul_Wt = [&](const Mat& Y, Mat& X) {  // X[in,q] = W^T Y[out,q]
    std::fill(X.begin(), X.end(), 0);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) {
        const double w = W[size_t(o) * in + i];
        for (int j = 0; j < q; ++j) X[size_t(i) * q + j] += w * Y[size_t(o) * q + j];
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
  for (int a = 0; a < q; ++a)
    for (int b = 0; b < q; ++b) {
      double s = 0;
      for (int i = 0; i < in; ++i) s += Bt[size_t(i) * q + a] * Bt[size_t(i) * q + b];
      BBt[size_t(a) * q + b] = s;
    }
  std::vector<double> evals;
  Mat Ub;
  jacobi_eigen(BBt, q, evals, Ub);
  std::vector<int> order(q);
  for (int i = 0; i < q; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int x, int y) { return evals[x] > evals[y]; });
  std::fill(lora_A, lora_A + size_t(r) * in, 0.0f);
  std::fill(lora_B, lora_B + size_t(out) * r, 0.0f);
  for (int c = 0; c < q; ++c) {
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
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int c = 0; c < r; ++c) s += double(lora_B[size_t(o) * r + c]) * lora_A[size_t(c) * in + i];
      W[size_t(o) * in + i] -= float(s);
    }
}

}  // namespace rwkv
