// Device test: every CUDA kernel against its CPU twin (cpu_twins.h; for --quant's dequantising
// kernel, core/quant.cpp itself; WKV6 also against cpu/x060_ops.cpp, the CPU backend's op) on
// random inputs, plus the
// cuBLASLt GEMM in each transposition, the allocator, and timings (WKV7 at training shapes,
// sequential and chunked, the bf16 GEMM rate that MFU is measured against). Prints one line
// per check:
//   CHECK <name> err=<max |gpu - cpu| / max |cpu|> tol=<tolerance> PASS|FAIL
// and exits non-zero if any check fails. Built and run on the GPU machine by run_device.sh.
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/quant.h"
#include "cpu/x060_ops.h"
#include "cuda/caching_allocator.h"
#include "cuda/cuda_context.h"
#include "cuda/kernels.h"
#include "cuda/model_kernels.h"
#include "cuda/quant_dequant.h"
#include "cuda/x060_kernels.h"
#include "core/dropout_mask.h"
#include "cpu_twins.h"

using namespace rwkv::cuda;
using twin::V;

namespace {
int g_failures = 0;
std::mt19937_64 rng(1234);

uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
double from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Random values already rounded to bf16, so the CPU twin sees exactly what the GPU sees.
V rand_bf16(size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  V v(n);
  for (auto& x : v) x = from_bf16(to_bf16((float)d(rng)));
  return v;
}
V rand_f32(size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  V v(n);
  for (auto& x : v) x = (float)d(rng);
  return v;
}

struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Dev(size_t b) : bytes(b) { check_cuda(cudaMalloc(&p, b), "cudaMalloc"); cudaMemset(p, 0, b); }
  ~Dev() { cudaFree(p); }
  uint16_t* h() { return static_cast<uint16_t*>(p); }
  float* f() { return static_cast<float*>(p); }
};
Dev* up_bf16(const V& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); i++) h[i] = to_bf16((float)v[i]);
  Dev* d = new Dev(h.size() * 2);
  cudaMemcpy(d->p, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  return d;
}
Dev* up_f32(const V& v) {
  std::vector<float> h(v.begin(), v.end());
  Dev* d = new Dev(h.size() * 4);
  cudaMemcpy(d->p, h.data(), h.size() * 4, cudaMemcpyHostToDevice);
  return d;
}
V down_bf16(const Dev* d, size_t n) {
  std::vector<uint16_t> h(n);
  cudaMemcpy(h.data(), d->p, n * 2, cudaMemcpyDeviceToHost);
  V v(n);
  for (size_t i = 0; i < n; i++) v[i] = from_bf16(h[i]);
  return v;
}
V down_f32(const Dev* d, size_t n) {
  std::vector<float> h(n);
  cudaMemcpy(h.data(), d->p, n * 4, cudaMemcpyDeviceToHost);
  return V(h.begin(), h.end());
}

void compare(const std::string& name, const V& gpu, const V& ref, double tol) {
  double maxref = 0, maxerr = 0;
  bool finite = gpu.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; i++) {
    if (!std::isfinite(gpu[i])) finite = false;
    maxref = std::fmax(maxref, std::fabs(ref[i]));
    maxerr = std::fmax(maxerr, std::fabs(gpu[i] - ref[i]));
  }
  const double err = finite ? maxerr / std::fmax(maxref, 1e-12) : INFINITY;
  const bool ok = err <= tol;
  if (!ok) g_failures++;
  std::printf("CHECK %-34s err=%.3e tol=%.1e max|ref|=%.3e %s\n", name.c_str(), err, tol, maxref,
              ok ? "PASS" : "FAIL");
}

// WKV7's a = -kk and b = kk * a_lr with kk a unit vector per head, as the model builds them.
void wkv7_ab(size_t n, int N, V& a, V& b) {
  a.assign(n, 0);
  b.assign(n, 0);
  V kk = rand_bf16(n, -1, 1), lr = rand_f32(n, 0, 1);
  for (size_t h0 = 0; h0 < n; h0 += N) {
    double s = 0;
    for (int i = 0; i < N; i++) s += kk[h0 + i] * kk[h0 + i];
    s = std::sqrt(s);
    for (int i = 0; i < N; i++) {
      a[h0 + i] = from_bf16(to_bf16((float)(-kk[h0 + i] / s)));
      b[h0 + i] = from_bf16(to_bf16((float)(kk[h0 + i] / s * lr[h0 + i])));
    }
  }
}

// ---------------------------------------------------------------------------------------------
void test_wkv7(Context& ctx, int B, int T, int H, const char* tag) {
  const int N = kWkvHeadSize;
  const size_t n = (size_t)B * T * H * N;
  V r = rand_bf16(n, -1, 1), k = rand_bf16(n, -1, 1), v = rand_bf16(n, -1, 1), dy = rand_bf16(n, -1, 1);
  V w = rand_bf16(n, -4.0, -0.5);  // log-log decay, as after the model's soft clamp
  V a, b;
  wkv7_ab(n, N, a, b);
  V y, dr, dw, dk, dv, da, db;
  twin::wkv7(B, T, H, N, r, w, k, v, a, b, dy, y, dr, dw, dk, dv, da, db);
  Dev *R = up_bf16(r), *W = up_bf16(w), *K = up_bf16(k), *Vv = up_bf16(v), *A = up_bf16(a),
      *Bb = up_bf16(b), *DY = up_bf16(dy);
  Dev Y(n * 2), DR(n * 2), DW(n * 2), DK(n * 2), DV(n * 2), DA(n * 2), DB(n * 2);
  Dev ck(wkv7_state_floats(B, T, H) * 4), sa(wkv7_sa_floats(B, T, H) * 4);
  wkv7_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y.h(), ck.f(), sa.f(), ctx.stream());
  wkv7_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), DY->h(), ck.f(), sa.f(), DR.h(),
                DW.h(), DK.h(), DV.h(), DA.h(), DB.h(), ctx.stream());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7 sync");
  const double tol = 1e-2;  // bf16 outputs (0.4% rounding) + fp32 accumulation over T steps
  std::string p = std::string("wkv7") + tag + ".";
  compare(p + "y", down_bf16(&Y, n), y, tol);
  compare(p + "dr", down_bf16(&DR, n), dr, tol);
  compare(p + "dw", down_bf16(&DW, n), dw, tol);
  compare(p + "dk", down_bf16(&DK, n), dk, tol);
  compare(p + "dv", down_bf16(&DV, n), dv, tol);
  compare(p + "da", down_bf16(&DA, n), da, tol);
  compare(p + "db", down_bf16(&DB, n), db, tol);
  for (Dev* d : {R, W, K, Vv, A, Bb, DY}) delete d;
}

// The initial state (state tuning / infctx) and its gradient, and the final state infctx carries.
void test_wkv7_state(Context& ctx, int B, int T, int H) {
  const int N = kWkvHeadSize;
  const size_t n = (size_t)B * T * H * N, hnn = (size_t)H * N * N;
  V r = rand_bf16(n, -1, 1), k = rand_bf16(n, -1, 1), v = rand_bf16(n, -1, 1), dy = rand_bf16(n, -1, 1);
  V w = rand_bf16(n, -4.0, -0.5);
  V a, b;
  wkv7_ab(n, N, a, b);
  V s0 = rand_f32(hnn, -0.5, 0.5);
  V y, dr, dw, dk, dv, da, db, ds0, sfin;
  twin::wkv7(B, T, H, N, r, w, k, v, a, b, dy, y, dr, dw, dk, dv, da, db, &s0, &ds0, &sfin);
  Dev *R = up_bf16(r), *W = up_bf16(w), *K = up_bf16(k), *Vv = up_bf16(v), *A = up_bf16(a),
      *Bb = up_bf16(b), *DY = up_bf16(dy), *S0 = up_f32(s0);
  Dev Y(n * 2), DR(n * 2), DW(n * 2), DK(n * 2), DV(n * 2), DA(n * 2), DB(n * 2), DS0(hnn * 4), SF(B * hnn * 4);
  Dev ck(wkv7_state_floats(B, T, H) * 4), sa(wkv7_sa_floats(B, T, H) * 4);
  wkv7_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y.h(), ck.f(), sa.f(), ctx.stream(), S0->f(), 0);
  wkv7_final_state(B, T, H, ck.f(), SF.f(), ctx.stream());
  wkv7_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), DY->h(), ck.f(), sa.f(), DR.h(),
                DW.h(), DK.h(), DV.h(), DA.h(), DB.h(), ctx.stream(), DS0.f());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7 state sync");
  compare("wkv7_s0.y", down_bf16(&Y, n), y, 1e-2);
  compare("wkv7_s0.dk", down_bf16(&DK, n), dk, 1e-2);
  compare("wkv7_s0.dw", down_bf16(&DW, n), dw, 1e-2);
  compare("wkv7_s0.ds0 (summed over batch)", down_f32(&DS0, hnn), ds0, 1e-2);
  compare("wkv7_s0.final_state", down_f32(&SF, B * hnn), sfin, 1e-3);
  // the same initial state given per sequence (infctx's stride) gives the same outputs
  V s0b(B * hnn);
  for (int bb = 0; bb < B; bb++) std::copy(s0.begin(), s0.end(), s0b.begin() + bb * hnn);
  Dev* S0B = up_f32(s0b);
  wkv7_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y.h(), ck.f(), sa.f(), ctx.stream(),
               S0B->f(), (int64_t)hnn);
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7 state sync");
  compare("wkv7_s0.y (per-sequence state)", down_bf16(&Y, n), y, 1e-2);
  for (Dev* d : {R, W, K, Vv, A, Bb, DY, S0, S0B}) delete d;
}

// The chunked kernels (cuda/wkv7_chunked.cu) against the same double-precision twin, and
// against the sequential kernels: the chunked forward must save the checkpoints and sa that the
// sequential forward saves, since either backward reads either forward's buffers (the model
// switches the pair with RWKV_CUDA_WKV7_CHUNKED, and on GPUs without the chunked backward's
// shared memory the sequential backward runs on the chunked forward's buffers). w_lo..w_hi: the
// log-log decay's range; the model's soft clamp keeps it below -0.5. v_split: 0 the kernels'
// dispatch rule, 1, 2 or 4 forced on both (the split's math must give the same outputs).
void test_wkv7_chunked(Context& ctx, int B, int T, int H, double w_lo, double w_hi, bool with_s0, const char* tag,
                       int v_split = 0) {
  const int N = kWkvHeadSize;
  const size_t n = (size_t)B * T * H * N, hnn = (size_t)H * N * N;
  V r = rand_bf16(n, -1, 1), k = rand_bf16(n, -1, 1), v = rand_bf16(n, -1, 1), dy = rand_bf16(n, -1, 1);
  V w = rand_bf16(n, w_lo, w_hi);
  V a, b;
  wkv7_ab(n, N, a, b);
  V s0 = with_s0 ? rand_f32(hnn, -0.5, 0.5) : V();
  V y, dr, dw, dk, dv, da, db, ds0, sfin;
  twin::wkv7(B, T, H, N, r, w, k, v, a, b, dy, y, dr, dw, dk, dv, da, db, with_s0 ? &s0 : nullptr,
             with_s0 ? &ds0 : nullptr, &sfin);
  Dev *R = up_bf16(r), *W = up_bf16(w), *K = up_bf16(k), *Vv = up_bf16(v), *A = up_bf16(a),
      *Bb = up_bf16(b), *DY = up_bf16(dy), *S0 = up_f32(with_s0 ? s0 : V(1, 0.0));
  const float* s0p = with_s0 ? S0->f() : nullptr;
  const size_t ckn = wkv7_state_floats(B, T, H), san = wkv7_sa_floats(B, T, H);
  Dev Y(n * 2), DR(n * 2), DW(n * 2), DK(n * 2), DV(n * 2), DA(n * 2), DB(n * 2), DS0(hnn * 4), SF(B * hnn * 4);
  Dev ck(ckn * 4), sa(san * 4), ck_seq(ckn * 4), sa_seq(san * 4), Y_seq(n * 2);
  wkv7_chunked_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y.h(), ck.f(), sa.f(), ctx.stream(),
                       s0p, 0, v_split);
  wkv7_final_state(B, T, H, ck.f(), SF.f(), ctx.stream());
  wkv7_chunked_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), DY->h(), ck.f(), sa.f(), DR.h(),
                        DW.h(), DK.h(), DV.h(), DA.h(), DB.h(), ctx.stream(), s0p, 0, with_s0 ? DS0.f() : nullptr,
                        v_split);
  wkv7_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y_seq.h(), ck_seq.f(), sa_seq.f(),
               ctx.stream(), s0p, 0);
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7_chunked sync");
  // As the sequential kernels: bf16 outputs (0.4% rounding) over fp32 arithmetic; tf32 operands
  // add about 5e-4 (1e-3 on dw), as cpu/wkv7_chunked's emulation measures.
  const double tol = 1e-2;
  const std::string p = std::string("wkv7_chunked") + tag + ".";
  compare(p + "y", down_bf16(&Y, n), y, tol);
  compare(p + "dr", down_bf16(&DR, n), dr, tol);
  compare(p + "dw", down_bf16(&DW, n), dw, tol);
  compare(p + "dk", down_bf16(&DK, n), dk, tol);
  compare(p + "dv", down_bf16(&DV, n), dv, tol);
  compare(p + "da", down_bf16(&DA, n), da, tol);
  compare(p + "db", down_bf16(&DB, n), db, tol);
  if (with_s0) compare(p + "ds0 (summed over batch)", down_f32(&DS0, hnn), ds0, 2e-3);
  compare(p + "final_state", down_f32(&SF, B * hnn), sfin, 1e-3);
  compare(p + "checkpoints vs sequential", down_f32(&ck, ckn), down_f32(&ck_seq, ckn), 1e-3);
  compare(p + "sa vs sequential", down_f32(&sa, san), down_f32(&sa_seq, san), 2e-3);
  // The sequential backward on the chunked forward's buffers.
  wkv7_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), DY->h(), ck.f(), sa.f(), DR.h(), DW.h(),
                DK.h(), DV.h(), DA.h(), DB.h(), ctx.stream());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7 on chunked buffers sync");
  compare(p + "dk (sequential bwd, chunked fwd)", down_bf16(&DK, n), dk, tol);
  compare(p + "dw (sequential bwd, chunked fwd)", down_bf16(&DW, n), dw, tol);
  if (with_s0) {  // the same state given per sequence (infctx's stride), forward and backward
    V s0b(B * hnn);
    for (int bb = 0; bb < B; bb++) std::copy(s0.begin(), s0.end(), s0b.begin() + bb * hnn);
    Dev* S0B = up_f32(s0b);
    wkv7_chunked_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), Y.h(), ck.f(), sa.f(),
                         ctx.stream(), S0B->f(), (int64_t)hnn, v_split);
    wkv7_chunked_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), A->h(), Bb->h(), DY->h(), ck.f(), sa.f(), DR.h(),
                          DW.h(), DK.h(), DV.h(), DA.h(), DB.h(), ctx.stream(), S0B->f(), (int64_t)hnn, nullptr,
                          v_split);
    check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv7_chunked per-sequence state sync");
    compare(p + "y (per-sequence state)", down_bf16(&Y, n), y, tol);
    compare(p + "dk (per-sequence state)", down_bf16(&DK, n), dk, tol);
    compare(p + "da (per-sequence state)", down_bf16(&DA, n), da, tol);
    delete S0B;
  }
  for (Dev* d : {R, W, K, Vv, A, Bb, DY, S0}) delete d;
}

// Each value split forced on both kernels, against the same twin (wkv7_chunked.cu: the split
// is the same math). Where the split backward cannot run (not sm_90) the case says so and skips.
void test_wkv7_chunked_splits(Context& ctx) {
  for (int split : {1, 2, 4}) {
    try {
      wkv7_chunked_value_split(true, 2, 2, split);
    } catch (const rwkv::EngineError& e) {
      std::printf("SKIP wkv7_chunked vsplit=%d: %s\n", split, e.what());
      continue;
    }
    const std::string s = std::to_string(split);
    test_wkv7_chunked(ctx, 2, 64, 2, -4.0, -0.5, true, ("[B2,T64,H2,s0,vsplit=" + s + "]").c_str(), split);
    test_wkv7_chunked(ctx, 3, 256, 3, -4.0, -0.5, true, ("[B3,T256,H3,s0,vsplit=" + s + "]").c_str(), split);
    test_wkv7_chunked(ctx, 2, 64, 2, -12.0, -6.0, false, ("[near-one decay,vsplit=" + s + "]").c_str(), split);
  }
}

// WKV6 (cuda/wkv6.cu) against the double-precision twin, with the initial state shared by the
// batch (state tuning: ds0 summed over it) or per sequence (infctx), the final state, and du.
// w_lo..w_hi: the raw decay's range (decay exp(-exp(w))): RWKV-6 has no clamp, so strong decay
// (w = 2.5: 5e-6 a step) and near-one decay (w = -10) are both real. T need not be a multiple of
// anything: the kernels do not chunk time.
void test_wkv6(Context& ctx, int B, int T, int H, double w_lo, double w_hi, bool with_s0, const char* tag) {
  const int N = kWkvHeadSize;
  const size_t n = (size_t)B * T * H * N, hnn = (size_t)H * N * N;
  V r = rand_bf16(n, -1, 1), k = rand_bf16(n, -1, 1), v = rand_bf16(n, -1, 1), dy = rand_bf16(n, -1, 1);
  V w = rand_bf16(n, w_lo, w_hi), u = rand_f32((size_t)H * N, -1, 1);
  V s0 = with_s0 ? rand_f32(hnn, -0.5, 0.5) : V();
  V y, dr, dw, dk, dv, du, ds0, sfin;
  twin::wkv6(B, T, H, N, r, w, k, v, u, dy, y, dr, dw, dk, dv, du, with_s0 ? &s0 : nullptr, 0,
             with_s0 ? &ds0 : nullptr, &sfin);
  Dev *R = up_bf16(r), *W = up_bf16(w), *K = up_bf16(k), *Vv = up_bf16(v), *U = up_f32(u), *DY = up_bf16(dy),
      *S0 = up_f32(with_s0 ? s0 : V(1, 0.0));
  const float* s0p = with_s0 ? S0->f() : nullptr;
  Dev Y(n * 2), DR(n * 2), DW(n * 2), DK(n * 2), DV(n * 2), DU((size_t)H * N * 4), DS0(hnn * 4), SF(B * hnn * 4);
  Dev scratch(wkv6_backward_scratch_floats(B, T, H) * 4);
  wkv6_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), Y.h(), ctx.stream(), s0p, 0, SF.f());
  wkv6_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), DY->h(), scratch.f(), DR.h(), DW.h(), DK.h(), DV.h(),
                DU.f(), ctx.stream(), s0p, 0, with_s0 ? DS0.f() : nullptr);
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv6 sync");
  const double tol = 1e-2;  // bf16 outputs (0.4% rounding) + fp32 accumulation over T steps
  const std::string p = std::string("wkv6") + tag + ".";
  compare(p + "y", down_bf16(&Y, n), y, tol);
  compare(p + "dr", down_bf16(&DR, n), dr, tol);
  compare(p + "dw", down_bf16(&DW, n), dw, tol);
  compare(p + "dk", down_bf16(&DK, n), dk, tol);
  compare(p + "dv", down_bf16(&DV, n), dv, tol);
  compare(p + "du (summed over batch)", down_f32(&DU, (size_t)H * N), du, 2e-3);
  if (with_s0) compare(p + "ds0 (summed over batch)", down_f32(&DS0, hnn), ds0, 2e-3);
  compare(p + "final_state", down_f32(&SF, B * hnn), sfin, 1e-3);
  if (with_s0) {  // the same state given per sequence (infctx's stride): the same outputs
    V s0b(B * hnn);
    for (int bb = 0; bb < B; bb++) std::copy(s0.begin(), s0.end(), s0b.begin() + bb * hnn);
    Dev* S0B = up_f32(s0b);
    wkv6_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), Y.h(), ctx.stream(), S0B->f(), (int64_t)hnn);
    wkv6_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), DY->h(), scratch.f(), DR.h(), DW.h(), DK.h(),
                  DV.h(), nullptr, ctx.stream(), S0B->f(), (int64_t)hnn, nullptr);
    check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv6 per-sequence state sync");
    compare(p + "y (per-sequence state)", down_bf16(&Y, n), y, tol);
    compare(p + "dr (per-sequence state)", down_bf16(&DR, n), dr, tol);
    compare(p + "dw (per-sequence state)", down_bf16(&DW, n), dw, tol);
    delete S0B;
  }
  for (Dev* d : {R, W, K, Vv, U, DY, S0}) delete d;
}

// The same kernels against the CPU backend's own op (cpu/x060_ops.h wkv6_fwd / wkv6_bwd, float32,
// what the CPU backend trains x060 with): the convention the two backends share.
void test_wkv6_vs_cpu_op(Context& ctx) {
  const int B = 2, T = 45, H = 2, N = kWkvHeadSize;
  const size_t n = (size_t)B * T * H * N, hnn = (size_t)H * N * N;
  V r = rand_bf16(n, -1, 1), k = rand_bf16(n, -1, 1), v = rand_bf16(n, -1, 1), dy = rand_bf16(n, -1, 1);
  V w = rand_bf16(n, -6, 1), u = rand_f32((size_t)H * N, -1, 1), s0 = rand_f32(hnn, -0.5, 0.5);
  auto f = [](const V& x) { return std::vector<float>(x.begin(), x.end()); };
  const std::vector<float> rf = f(r), wf = f(w), kf = f(k), vf = f(v), uf = f(u), dyf = f(dy), s0f = f(s0);
  std::vector<float> y(n), states(n * N), dr(n), dw(n), dk(n), dv(n), du((size_t)H * N), ds0(hnn);
  rwkv::ops::wkv6_fwd(rf.data(), wf.data(), kf.data(), vf.data(), uf.data(), s0f.data(), y.data(), states.data(), B, T,
                      H, N, 0);
  rwkv::ops::wkv6_bwd(rf.data(), wf.data(), kf.data(), vf.data(), uf.data(), s0f.data(), states.data(), dyf.data(),
                      dr.data(), dw.data(), dk.data(), dv.data(), du.data(), ds0.data(), B, T, H, N, 0);
  Dev *R = up_bf16(r), *W = up_bf16(w), *K = up_bf16(k), *Vv = up_bf16(v), *U = up_f32(u), *DY = up_bf16(dy),
      *S0 = up_f32(s0);
  Dev Y(n * 2), DR(n * 2), DW(n * 2), DK(n * 2), DV(n * 2), DU((size_t)H * N * 4), DS0(hnn * 4);
  Dev scratch(wkv6_backward_scratch_floats(B, T, H) * 4);
  wkv6_forward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), Y.h(), ctx.stream(), S0->f(), 0);
  wkv6_backward(B, T, H, R->h(), W->h(), K->h(), Vv->h(), U->f(), DY->h(), scratch.f(), DR.h(), DW.h(), DK.h(), DV.h(),
                DU.f(), ctx.stream(), S0->f(), 0, DS0.f());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "wkv6 vs cpu op sync");
  auto d = [](const std::vector<float>& x) { return V(x.begin(), x.end()); };
  compare("wkv6 vs cpu/x060_ops.y", down_bf16(&Y, n), d(y), 1e-2);
  compare("wkv6 vs cpu/x060_ops.dr", down_bf16(&DR, n), d(dr), 1e-2);
  compare("wkv6 vs cpu/x060_ops.dw", down_bf16(&DW, n), d(dw), 1e-2);
  compare("wkv6 vs cpu/x060_ops.dk", down_bf16(&DK, n), d(dk), 1e-2);
  compare("wkv6 vs cpu/x060_ops.dv", down_bf16(&DV, n), d(dv), 1e-2);
  compare("wkv6 vs cpu/x060_ops.du", down_f32(&DU, (size_t)H * N), d(du), 2e-3);
  compare("wkv6 vs cpu/x060_ops.ds0", down_f32(&DS0, hnn), d(ds0), 2e-3);
  for (Dev* p : {R, W, K, Vv, U, DY, S0}) delete p;
}

// WKV6 forward and backward at a training shape (the line engine.bench reads beside TIME wkv7).
void time_wkv6(Context& ctx, int B, int T, int H) {
  const size_t n = (size_t)B * T * H * kWkvHeadSize;
  Dev r(n * 2), w(n * 2), k(n * 2), v(n * 2), y(n * 2), dy(n * 2), u((size_t)H * kWkvHeadSize * 4);
  Dev g1(n * 2), g2(n * 2), g3(n * 2), g4(n * 2), du((size_t)H * kWkvHeadSize * 4);
  Dev scratch(wkv6_backward_scratch_floats(B, T, H) * 4);
  std::vector<uint16_t> wh(n, 0xC080);  // w_raw = -4 in bf16: decay 0.98, a typical RWKV-6 channel
  cudaMemcpy(w.p, wh.data(), n * 2, cudaMemcpyHostToDevice);
  cudaEvent_t e0, e1, e2;
  cudaEventCreate(&e0); cudaEventCreate(&e1); cudaEventCreate(&e2);
  for (int it = 0; it < 2; it++) {  // the second pass is the one timed
    cudaEventRecord(e0, ctx.stream());
    wkv6_forward(B, T, H, r.h(), w.h(), k.h(), v.h(), u.f(), y.h(), ctx.stream());
    cudaEventRecord(e1, ctx.stream());
    wkv6_backward(B, T, H, r.h(), w.h(), k.h(), v.h(), u.f(), dy.h(), scratch.f(), g1.h(), g2.h(), g3.h(), g4.h(), du.f(),
                  ctx.stream());
    cudaEventRecord(e2, ctx.stream());
  }
  cudaEventSynchronize(e2);
  check_cuda(cudaGetLastError(), "wkv6 timing");
  float f = 0, bw = 0;
  cudaEventElapsedTime(&f, e0, e1);
  cudaEventElapsedTime(&bw, e1, e2);
  std::printf("TIME wkv6 B=%d T=%d H=%d forward_ms=%.3f backward_ms=%.3f\n", B, T, H, f, bw);
  cudaEventDestroy(e0); cudaEventDestroy(e1); cudaEventDestroy(e2);
}

// x060's ddlerp_combine (cuda/x060_kernels.cu) with and without infctx's carried row, and
// mul_add (the gates), against their twins.
void test_ddlerp_combine(Context& ctx, bool carried) {
  const int B = 2, T = 13, C = 192, K = kX060Mixes;
  const size_t n = (size_t)B * T * C;
  V x = rand_bf16(n, -2, 2), mu = rand_f32((size_t)K * C, 0, 1), m = rand_bf16(K * n, -0.5, 0.5);
  V dout = rand_bf16(K * n, -1, 1), prev = rand_f32((size_t)B * C, -2, 2);
  V out, dx, dm, dmu;
  twin::ddlerp_combine(B, T, C, x, mu, m, dout, out, dx, dm, dmu, carried ? &prev : nullptr);
  Dev *X = up_bf16(x), *MU = up_f32(mu), *Mm = up_bf16(m), *DO = up_bf16(dout), *P = up_f32(prev);
  Dev O(K * n * 2), DX(n * 2), DM(K * n * 2), DMU((size_t)K * C * 4);
  X060MixVectors mv;
  X060MixGrads mg;
  for (int j = 0; j < K; j++) { mv.mu[j] = MU->f() + j * C; mg.dmu[j] = DMU.f() + j * C; }
  const float* pp = carried ? P->f() : nullptr;
  ddlerp_combine_forward(B, T, C, X->h(), mv, Mm->h(), O.h(), ctx.stream(), pp);
  ddlerp_combine_backward(B, T, C, X->h(), mv, Mm->h(), DO->h(), DX.h(), DM.h(), mg, ctx.stream(), pp);
  check_cuda(cudaStreamSynchronize(ctx.stream()), "ddlerp sync");
  const std::string p = carried ? "ddlerp_combine_carried." : "ddlerp_combine.";
  compare(p + "out", down_bf16(&O, K * n), out, 8e-3);
  compare(p + "dx", down_bf16(&DX, n), dx, 8e-3);
  compare(p + "dm", down_bf16(&DM, K * n), dm, 8e-3);
  compare(p + "dmu", down_f32(&DMU, (size_t)K * C), dmu, 1e-4);
  for (Dev* d : {X, MU, Mm, DO, P}) delete d;
}

void test_mul_add(Context& ctx) {
  const int64_t n = 10007;
  V a = rand_bf16(n, -2, 2), b = rand_bf16(n, -2, 2), res = rand_bf16(n, -2, 2), prod(n), sum(n);
  for (int64_t i = 0; i < n; i++) { prod[i] = a[i] * b[i]; sum[i] = res[i] + a[i] * b[i]; }
  Dev *A = up_bf16(a), *Bd = up_bf16(b), *R = up_bf16(res);
  Dev O(n * 2);
  mul_add_forward(n, A->h(), Bd->h(), nullptr, O.h(), ctx.stream());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "mul_add sync");
  compare("mul_add (no residual)", down_bf16(&O, n), prod, 8e-3);
  mul_add_forward(n, A->h(), Bd->h(), R->h(), R->h(), ctx.stream());  // in place, as the block adds its residual
  check_cuda(cudaStreamSynchronize(ctx.stream()), "mul_add sync");
  compare("mul_add (residual, in place)", down_bf16(R, n), sum, 8e-3);
  for (Dev* d : {A, Bd, R}) delete d;
}

void test_shift_lerp_carried(Context& ctx) {
  const int B = 2, T = 8, C = 96, K = 6;
  const size_t n = (size_t)B * T * C;
  V x = rand_bf16(n, -2, 2), mu = rand_f32((size_t)K * C, 0, 1), dout = rand_bf16(K * n, -1, 1);
  V prev = rand_f32((size_t)B * C, -2, 2);
  V out, dx, dmu;
  twin::shift_lerp(B, T, C, K, x, mu, dout, out, dx, dmu, &prev);
  Dev *X = up_bf16(x), *MU = up_f32(mu), *DO = up_bf16(dout), *P = up_f32(prev);
  Dev O(K * n * 2), DX(n * 2), DMU((size_t)K * C * 4);
  shift_lerp_forward(B, T, C, K, X->h(), MU->f(), O.h(), ctx.stream(), P->f());
  shift_lerp_backward(B, T, C, K, X->h(), MU->f(), DO->h(), DX.h(), DMU.f(), ctx.stream(), P->f());
  V last(B * C);
  Dev LAST(B * C * 4);
  last_rows_f32(B, T, C, X->h(), LAST.f(), ctx.stream());
  for (int bb = 0; bb < B; bb++)
    for (int c = 0; c < C; c++) last[bb * C + c] = x[((size_t)bb * T + T - 1) * C + c];
  check_cuda(cudaStreamSynchronize(ctx.stream()), "shift carried sync");
  compare("shift_lerp_carried.out", down_bf16(&O, K * n), out, 8e-3);
  compare("shift_lerp_carried.dx", down_bf16(&DX, n), dx, 8e-3);
  compare("shift_lerp_carried.dmu", down_f32(&DMU, (size_t)K * C), dmu, 1e-4);
  compare("last_rows_f32", down_f32(&LAST, B * C), last, 0);
  for (Dev* d : {X, MU, DO, P}) delete d;
}

void test_miss_fold(Context& ctx) {
  const int M = 37, in = 192, r = 64;
  V x = rand_bf16((size_t)M * in, -1, 1), dxs = rand_bf16((size_t)M * r, -1, 1), dx0 = rand_bf16((size_t)M * in, -1, 1);
  V xs, dx = dx0;
  twin::miss_fold(M, in, r, x, xs);
  twin::miss_unfold_add(M, in, r, dxs, dx);
  Dev *X = up_bf16(x), *DXS = up_bf16(dxs), *DX = up_bf16(dx0);
  Dev XS((size_t)M * r * 2);
  miss_fold(M, in, r, X->h(), XS.h(), ctx.stream());
  miss_unfold_add(M, in, r, DXS->h(), DX->h(), ctx.stream());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "miss sync");
  compare("miss_fold", down_bf16(&XS, (size_t)M * r), xs, 8e-3);
  compare("miss_unfold_add", down_bf16(DX, (size_t)M * in), dx, 8e-3);
  for (Dev* d : {X, DXS, DX}) delete d;
}

// The kernel drops what core/dropout_mask.h says (the CPU backend's loop reads the same
// function), scales the rest by 1/keep, and its backward routes gradients through the same mask.
// The elements start at `first` of the mask, as a pass of a split micro-batch does.
void test_dropout(Context& ctx) {
  const int64_t n = 100003;
  const uint64_t first = 7 * 100003;
  const float keep = 0.9f;
  const uint64_t stream = rwkv::dropout_stream(99, 3, 1, 17);
  V x = rand_bf16(n, -1, 1), dxd = rand_bf16(n, -1, 1), dx0 = rand_bf16(n, -1, 1);
  V xd(n), dx = dx0;
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    const bool k = rwkv::dropout_keeps(stream, first + uint64_t(i), keep);
    kept += k;
    xd[i] = k ? x[i] / keep : 0.0;
    if (k) dx[i] += dxd[i] / keep;
  }
  Dev *X = up_bf16(x), *DXD = up_bf16(dxd), *DX = up_bf16(dx0);
  Dev XD(n * 2);
  dropout_forward(n, stream, first, keep, X->h(), XD.h(), ctx.stream());
  dropout_backward_add(n, stream, first, keep, DXD->h(), DX->h(), ctx.stream());
  check_cuda(cudaStreamSynchronize(ctx.stream()), "dropout sync");
  compare("dropout_forward", down_bf16(&XD, n), xd, 8e-3);
  compare("dropout_backward_add", down_bf16(DX, n), dx, 8e-3);
  const double frac = double(kept) / n;
  const bool ok = std::fabs(frac - keep) < 0.005;
  g_failures += !ok;
  std::printf("CHECK %-34s kept=%.4f want=%.2f %s\n", "dropout keep rate", frac, keep, ok ? "PASS" : "FAIL");
  for (Dev* d : {X, DXD, DX}) delete d;
}

// WKV7 forward and backward at a training shape: the sequential kernels (TIME wkv7) and the
// chunked ones (TIME wkv7_chunked, with its speed-up over the line before) on the same buffers.
void time_wkv7(Context& ctx, int B, int T, int H) {
  const size_t n = (size_t)B * T * H * kWkvHeadSize;
  Dev r(n * 2), w(n * 2), k(n * 2), v(n * 2), a(n * 2), b(n * 2), y(n * 2), dy(n * 2);
  Dev g1(n * 2), g2(n * 2), g3(n * 2), g4(n * 2), g5(n * 2), g6(n * 2);
  Dev ck(wkv7_state_floats(B, T, H) * 4), sa(wkv7_sa_floats(B, T, H) * 4);
  // w_raw = -0.5 in bf16 (0xBF00) keeps the decay in range; zeros elsewhere are fine for timing.
  std::vector<uint16_t> wh(n, 0xBF00);
  cudaMemcpy(w.p, wh.data(), n * 2, cudaMemcpyHostToDevice);
  cudaEvent_t e0, e1, e2;
  cudaEventCreate(&e0); cudaEventCreate(&e1); cudaEventCreate(&e2);
  auto time_pair = [&](auto&& forward, auto&& backward, float& f, float& bw) {
    for (int it = 0; it < 2; it++) {  // the second pass is the one timed
      cudaEventRecord(e0, ctx.stream());
      forward();
      cudaEventRecord(e1, ctx.stream());
      backward();
      cudaEventRecord(e2, ctx.stream());
    }
    cudaEventSynchronize(e2);
    cudaEventElapsedTime(&f, e0, e1);
    cudaEventElapsedTime(&bw, e1, e2);
  };
  float f = 0, bw = 0, cf = 0, cbw = 0;
  time_pair([&] { wkv7_forward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), y.h(), ck.f(), sa.f(), ctx.stream()); },
            [&] { wkv7_backward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), dy.h(), ck.f(), sa.f(), g1.h(), g2.h(),
                                g3.h(), g4.h(), g5.h(), g6.h(), ctx.stream()); },
            f, bw);
  std::printf("TIME wkv7 B=%d T=%d H=%d forward_ms=%.3f backward_ms=%.3f\n", B, T, H, f, bw);
  time_pair([&] { wkv7_chunked_forward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), y.h(), ck.f(), sa.f(),
                                       ctx.stream()); },
            [&] { wkv7_chunked_backward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), dy.h(), ck.f(), sa.f(), g1.h(),
                                        g2.h(), g3.h(), g4.h(), g5.h(), g6.h(), ctx.stream(), nullptr, 0); },
            cf, cbw);
  check_cuda(cudaGetLastError(), "wkv7 timing");
  std::printf("TIME wkv7_chunked B=%d T=%d H=%d forward_ms=%.3f backward_ms=%.3f speedup_forward=%.2f speedup_backward=%.2f"
              " vsplit_forward=%d vsplit_backward=%d\n",
              B, T, H, cf, cbw, f / cf, bw / cbw, wkv7_chunked_value_split(false, B, H),
              wkv7_chunked_value_split(true, B, H));
  // Each value split forced (the line above is the dispatch rule's pick), to tune the rule.
  for (int split : {1, 2, 4}) {
    try {
      wkv7_chunked_value_split(true, B, H, split);
    } catch (const rwkv::EngineError&) {
      continue;  // the split backward needs sm_90
    }
    float sf = 0, sb = 0;
    time_pair([&] { wkv7_chunked_forward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), y.h(), ck.f(), sa.f(),
                                         ctx.stream(), nullptr, 0, split); },
              [&] { wkv7_chunked_backward(B, T, H, r.h(), w.h(), k.h(), v.h(), a.h(), b.h(), dy.h(), ck.f(), sa.f(),
                                          g1.h(), g2.h(), g3.h(), g4.h(), g5.h(), g6.h(), ctx.stream(), nullptr, 0,
                                          nullptr, split); },
              sf, sb);
    check_cuda(cudaGetLastError(), "wkv7 split timing");
    std::printf("TIME wkv7_chunked_split B=%d T=%d H=%d vsplit=%d forward_ms=%.3f backward_ms=%.3f\n", B, T, H, split,
                sf, sb);
  }
  cudaEventDestroy(e0); cudaEventDestroy(e1); cudaEventDestroy(e2);
}

void test_gemm(Context& ctx) {
  const int M = 96, N = 160, K = 224;
  for (int mode = 0; mode < 4; mode++) {
    const bool ta = mode & 1, tb = mode & 2;
    V A = rand_bf16((size_t)M * K, -1, 1), Bm = rand_bf16((size_t)K * N, -1, 1), C;
    twin::gemm(ta, tb, M, N, K, A, Bm, C);
    Dev *dA = up_bf16(A), *dB = up_bf16(Bm);
    Dev dC((size_t)M * N * 4), dCb((size_t)M * N * 2);
    ctx.gemm(ta, tb, M, N, K, dA->p, ta ? M : K, dB->p, tb ? K : N, dC.p, N, GemmOut::F32);
    ctx.gemm(ta, tb, M, N, K, dA->p, ta ? M : K, dB->p, tb ? K : N, dCb.p, N, GemmOut::BF16);
    cudaStreamSynchronize(ctx.stream());
    std::string name = std::string("gemm.") + (ta ? "T" : "N") + (tb ? "T" : "N");
    compare(name + ".f32", down_f32(&dC, (size_t)M * N), C, 1e-5);
    compare(name + ".bf16", down_bf16(&dCb, (size_t)M * N), C, 8e-3);
    delete dA; delete dB;
  }
  // beta = 1 accumulates (used for gradient accumulation).
  V A = rand_bf16((size_t)M * K, -1, 1), Bm = rand_bf16((size_t)K * N, -1, 1), C;
  twin::gemm(false, false, M, N, K, A, Bm, C);
  Dev *dA = up_bf16(A), *dB = up_bf16(Bm);
  Dev dC((size_t)M * N * 4);
  ctx.gemm(false, false, M, N, K, dA->p, K, dB->p, N, dC.p, N, GemmOut::F32);
  ctx.gemm(false, false, M, N, K, dA->p, K, dB->p, N, dC.p, N, GemmOut::F32, 1.f, 1.f);
  cudaStreamSynchronize(ctx.stream());
  for (auto& x : C) x *= 2;
  compare("gemm.NN.accumulate", down_f32(&dC, (size_t)M * N), C, 1e-5);
  delete dA; delete dB;
}

double time_gemm(Context& ctx, int M, int N, int K) {
  Dev A((size_t)M * K * 2), Bm((size_t)K * N * 2), C((size_t)M * N * 2);
  for (int i = 0; i < 3; i++) ctx.gemm(false, true, M, N, K, A.p, K, Bm.p, K, C.p, N, GemmOut::BF16);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0); cudaEventCreate(&e1);
  const int iters = 20;
  cudaEventRecord(e0, ctx.stream());
  for (int i = 0; i < iters; i++) ctx.gemm(false, true, M, N, K, A.p, K, Bm.p, K, C.p, N, GemmOut::BF16);
  cudaEventRecord(e1, ctx.stream());
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  const double tflops = 2.0 * M * N * K * iters / (ms * 1e-3) / 1e12;
  std::printf("TIME gemm_bf16 M=%d N=%d K=%d tflops=%.1f\n", M, N, K, tflops);
  return tflops;
}

// Host cost of one small GEMM call (a LoRA-sized product), with the cuBLASLt plan cached.
void time_gemm_call(Context& ctx) {
  const int M = 64, N = 64, K = 64, iters = 2000;
  Dev A((size_t)M * K * 2), Bm((size_t)K * N * 2), C((size_t)M * N * 2);
  ctx.gemm(false, true, M, N, K, A.p, K, Bm.p, K, C.p, N, GemmOut::BF16);
  cudaStreamSynchronize(ctx.stream());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; i++) ctx.gemm(false, true, M, N, K, A.p, K, Bm.p, K, C.p, N, GemmOut::BF16);
  const double host_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
  cudaStreamSynchronize(ctx.stream());
  const double total_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
  std::printf("TIME gemm_small_call M=%d N=%d K=%d host_us_per_call=%.2f wall_us_per_call=%.2f\n", M, N, K,
              host_us, total_us);
}

void test_norm(Context& ctx, int rows, int C, int group, const char* name) {
  const size_t n = (size_t)rows * C;
  V x = rand_bf16(n, -2, 2), dy = rand_bf16(n, -1, 1), wt = rand_f32(C, 0.5, 1.5), bs = rand_f32(C, -0.5, 0.5);
  for (size_t i = 0; i < n; i++) x[i] = from_bf16(to_bf16((float)(x[i] + (i / group % 7) * 0.3)));  // group offsets
  V y, dx, dwt, dbs;
  const double eps = 1e-5 * 64;
  twin::norm(rows, C, group, eps, x, wt, bs, dy, y, dx, dwt, dbs);
  Dev *X = up_bf16(x), *DY = up_bf16(dy), *Wt = up_f32(wt), *Bs = up_f32(bs);
  const size_t groups = n / group;
  Dev Y(n * 2), DX(n * 2), mean(groups * 4), rstd(groups * 4), DW(C * 4), DB(C * 4);
  norm_forward(rows, C, group, (float)eps, X->h(), Wt->f(), Bs->f(), Y.h(), mean.f(), rstd.f(), ctx.stream());
  norm_backward(rows, C, group, X->h(), Wt->f(), mean.f(), rstd.f(), DY->h(), DX.h(), DW.f(), DB.f(), ctx.stream());
  cudaStreamSynchronize(ctx.stream());
  std::string p = std::string(name) + ".";
  compare(p + "y", down_bf16(&Y, n), y, 8e-3);
  compare(p + "dx", down_bf16(&DX, n), dx, 8e-3);
  compare(p + "dweight", down_f32(&DW, C), dwt, 1e-4);
  compare(p + "dbias", down_f32(&DB, C), dbs, 1e-4);
  for (Dev* d : {X, DY, Wt, Bs}) delete d;
}

void test_shift_lerp(Context& ctx) {
  const int B = 2, T = 32, C = 256, K = 6;
  const size_t n = (size_t)B * T * C;
  V x = rand_bf16(n, -1, 1), mu = rand_f32((size_t)K * C, 0, 1), dout = rand_bf16(K * n, -1, 1);
  V out, dx, dmu;
  twin::shift_lerp(B, T, C, K, x, mu, dout, out, dx, dmu);
  Dev *X = up_bf16(x), *MU = up_f32(mu), *DO = up_bf16(dout);
  Dev O(K * n * 2), DX(n * 2), DMU((size_t)K * C * 4);
  shift_lerp_forward(B, T, C, K, X->h(), MU->f(), O.h(), ctx.stream());
  shift_lerp_backward(B, T, C, K, X->h(), MU->f(), DO->h(), DX.h(), DMU.f(), ctx.stream());
  cudaStreamSynchronize(ctx.stream());
  compare("shift_lerp.out", down_bf16(&O, K * n), out, 8e-3);
  compare("shift_lerp.dx", down_bf16(&DX, n), dx, 8e-3);
  compare("shift_lerp.dmu", down_f32(&DMU, (size_t)K * C), dmu, 1e-4);
  for (Dev* d : {X, MU, DO}) delete d;
}

void test_acts(Context& ctx) {
  const int rows = 64, C = 128;
  const size_t n = (size_t)rows * C;
  const char* names[] = {"tanh", "sigmoid", "decay_clamp", "relu_square", "bias_add", "silu"};
  for (int kind = 0; kind < 6; kind++) {
    V x = rand_bf16(n, -3, 3), dy = rand_bf16(n, -1, 1), bias = rand_f32(C, -1, 1);
    V y(n), dx(n), dbias(C, 0.0);
    for (size_t i = 0; i < n; i++) {
      y[i] = twin::act(kind, x[i], bias[i % C]);
      // The kernel's dx is rounded to bf16 before the bias gradient sums it; so is the twin's.
      dx[i] = dy[i] * twin::act_grad(kind, x[i], bias[i % C]);
      dbias[i % C] += from_bf16(to_bf16((float)dx[i]));
    }
    Dev *X = up_bf16(x), *DY = up_bf16(dy), *Bs = up_f32(bias);
    Dev Y(n * 2), DX(n * 2), DB(C * 4);
    act_forward(static_cast<Act>(kind), n, C, X->h(), Bs->f(), Y.h(), ctx.stream());
    act_backward(static_cast<Act>(kind), n, C, X->h(), Bs->f(), DY->h(), DX.h(), DB.f(), ctx.stream());
    cudaStreamSynchronize(ctx.stream());
    std::string p = std::string("act.") + names[kind] + ".";
    compare(p + "y", down_bf16(&Y, n), y, 8e-3);
    const V gdx = down_bf16(&DX, n);
    compare(p + "dx", gdx, dx, 8e-3);
    // The bias gradient sums the bf16 dx the kernel wrote; an element whose fp32 dx lands on the
    // other side of a bf16 rounding boundary than the double twin's moves the sum by a whole bf16
    // step, so the reduction is checked against the kernel's own dx (and dx against the twin).
    V dbias_of_gpu_dx(C, 0.0);
    for (size_t i = 0; i < n; i++) dbias_of_gpu_dx[i % C] += gdx[i];
    compare(p + "dbias", down_f32(&DB, C), dbias_of_gpu_dx, 1e-4);
    compare(p + "dbias vs twin (bf16 steps)", down_f32(&DB, C), dbias, 2e-3);
    for (Dev* d : {X, DY, Bs}) delete d;
  }
  V a = rand_bf16(n, -1, 1), b = rand_bf16(n, -1, 1), s(n);
  for (size_t i = 0; i < n; i++) s[i] = a[i] + b[i];
  Dev *A = up_bf16(a), *Bd = up_bf16(b);
  Dev S(n * 2);
  add_forward(n, A->h(), Bd->h(), S.h(), ctx.stream());
  cudaStreamSynchronize(ctx.stream());
  compare("residual_add", down_bf16(&S, n), s, 8e-3);
  delete A; delete Bd;
}

void test_cross_entropy(Context& ctx) {
  const int rows = 12, Vn = 65536;
  V logits = rand_bf16((size_t)rows * Vn, -4, 4);
  std::vector<int32_t> tgt(rows);
  std::uniform_int_distribution<int> d(0, Vn - 1);
  for (auto& t : tgt) t = d(rng);
  tgt[5] = -1;  // an ignored (padding) row
  for (int r = 0; r < rows; r++)  // make some rows confident so the softmax is far from uniform
    if (r % 3 == 0 && tgt[r] >= 0) logits[(size_t)r * Vn + tgt[r]] = 12.0;
  V grad;
  const double scale = 1.0 / (rows - 1);
  const double loss = twin::cross_entropy(rows, Vn, logits, tgt, scale, grad);
  Dev* L = up_bf16(logits);
  Dev T(rows * 4), LS(4);
  cudaMemcpy(T.p, tgt.data(), rows * 4, cudaMemcpyHostToDevice);
  cross_entropy_fused(rows, Vn, L->h(), static_cast<int32_t*>(T.p), (float)scale, LS.f(), ctx.stream());
  cudaStreamSynchronize(ctx.stream());
  compare("cross_entropy.loss", down_f32(&LS, 1), V{loss}, 1e-5);
  compare("cross_entropy.dlogits", down_bf16(L, (size_t)rows * Vn), grad, 8e-3);
  delete L;
}

void test_adamw(Context& ctx) {
  const int64_t sizes[3] = {1000, 77777, 4096};
  std::vector<V> p(3), g(3), m(3), v(3);
  std::vector<Dev*> dp, dg, dm, dv, db;
  std::vector<AdamTensor> ts;
  for (int i = 0; i < 3; i++) {
    p[i] = rand_f32(sizes[i], -1, 1);
    m[i].assign(sizes[i], 0.0);
    v[i].assign(sizes[i], 0.0);
    dp.push_back(up_f32(p[i])); dm.push_back(up_f32(m[i])); dv.push_back(up_f32(v[i]));
    dg.push_back(new Dev(sizes[i] * 4)); db.push_back(new Dev(sizes[i] * 2));
    ts.push_back({dp[i]->f(), dg[i]->f(), dm[i]->f(), dv[i]->f(), db[i]->h(), sizes[i]});
  }
  for (int step = 1; step <= 3; step++) {
    for (int i = 0; i < 3; i++) {
      g[i] = rand_f32(sizes[i], -1, 1);
      std::vector<float> h(g[i].begin(), g[i].end());
      cudaMemcpy(dg[i]->p, h.data(), h.size() * 4, cudaMemcpyHostToDevice);
      twin::adamw(p[i], g[i], m[i], v[i], 1e-3, 0.9, 0.99, 1e-8, 0.01, step);
    }
    AdamHyper hp{1e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, 1.0f, step};
    adamw_multi_tensor(ts.data(), 3, hp, ctx.stream());
  }
  for (int i = 0; i < 3; i++) {
    compare("adamw.master[" + std::to_string(i) + "]", down_f32(dp[i], sizes[i]), p[i], 1e-5);
    compare("adamw.m[" + std::to_string(i) + "]", down_f32(dm[i], sizes[i]), m[i], 1e-5);
    compare("adamw.v[" + std::to_string(i) + "]", down_f32(dv[i], sizes[i]), v[i], 1e-5);
    compare("adamw.bf16_copy[" + std::to_string(i) + "]", down_bf16(db[i], sizes[i]), p[i], 8e-3);
  }
  for (auto* vecs : {&dp, &dg, &dm, &dv, &db})
    for (Dev* d : *vecs) delete d;
}

void test_allocator() {
  CachingAllocator alloc;
  void* a = alloc.allocate(3 << 20);
  void* b = alloc.allocate(1000);
  const size_t peak = alloc.peak_in_use();
  alloc.release(a);
  void* c = alloc.allocate((3 << 20) - 100);  // same rounded size: must reuse a's block
  const bool reused = (c == a);
  const bool sizes_ok = peak == CachingAllocator::round_size(3 << 20) + CachingAllocator::round_size(1000);
  alloc.release(b);
  alloc.release(c);
  const bool none_in_use = alloc.in_use() == 0;
  bool oom_code = false;
  try {
    alloc.allocate((size_t)1 << 50);
  } catch (const rwkv::EngineError& e) {
    oom_code = e.code == "E_CUDA_OOM";
  }
  const bool ok = reused && sizes_ok && none_in_use && oom_code;
  if (!ok) g_failures++;
  std::printf("CHECK %-34s reused=%d peak_ok=%d freed=%d oom_code=%d %s\n", "caching_allocator", reused,
              sizes_ok, none_in_use, oom_code, ok ? "PASS" : "FAIL");
}
// --quant: the dequantising kernel against its CPU twin, core/quant.cpp's dequantize (what the CPU
// backend multiplies with), on a weight-like matrix (normal values, a few outliers, an all-zero
// nf4 block, 12610 elements so the last nf4 block is partial). The same fp32 product and the
// same round-to-nearest-even: bit-exact, tolerance 0.
struct DeviceQuantBuffers {
  Dev codes, absmax, code;
  DeviceQuant dq;
  DeviceQuantBuffers(const rwkv::QuantTensor& q)
      : codes(q.codes.size()), absmax(q.absmax.size() * 4), code(size_t(rwkv::quant_code_size(q.type)) * 4) {
    cudaMemcpy(codes.p, q.codes.data(), q.codes.size(), cudaMemcpyHostToDevice);
    cudaMemcpy(absmax.p, q.absmax.data(), q.absmax.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(code.p, rwkv::quant_code(q.type), code.bytes, cudaMemcpyHostToDevice);
    dq = DeviceQuant{q.type, q.n, q.block, static_cast<const uint8_t*>(codes.p), absmax.f(), code.f()};
  }
};

void test_dequant(Context& ctx) {
  using rwkv::QuantType;
  const int64_t rows = 97, cols = 130, n = rows * cols;
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> w(n);
  for (auto& x : w) x = normal(rng);
  for (int64_t i = 0; i < n; i += 1999) w[i] = 0.4f * (i % 2 ? 1.f : -1.f);  // outliers
  for (int64_t i = 64 * 10; i < 64 * 11; ++i) w[i] = 0.f;                   // one all-zero nf4 block
  for (QuantType t : {QuantType::Int8, QuantType::Nf4}) {
    const rwkv::QuantTensor q = rwkv::quantize(t, w.data(), {rows, cols});
    const std::vector<float> ref = rwkv::dequantize(q);
    DeviceQuantBuffers dev(q);
    Dev out(n * 2);
    dequantize_bf16(dev.dq, out.h(), ctx.stream());
    check_cuda(cudaStreamSynchronize(ctx.stream()), "dequantize");
    compare(std::string("dequantize ") + rwkv::quant_type_name(t) + " (vs core/quant)", down_bf16(&out, n),
            V(ref.begin(), ref.end()), 0.0);
  }
}

// What dequantising costs before each frozen GEMM: a C x F matrix (1.5B: 2048 x 8192; 2.9B:
// 2560 x 10240) per call, next to the bf16 GEMM of 1024 tokens it feeds.
void time_dequant(Context& ctx, int C, int F) {
  using rwkv::QuantType;
  std::vector<float> w(size_t(C) * F);
  std::normal_distribution<float> normal(0.f, 0.02f);
  for (auto& x : w) x = normal(rng);
  for (QuantType t : {QuantType::Int8, QuantType::Nf4}) {
    const rwkv::QuantTensor q = rwkv::quantize(t, w.data(), {F, C});
    DeviceQuantBuffers dev(q);
    Dev out(w.size() * 2);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; ++i) dequantize_bf16(dev.dq, out.h(), ctx.stream());
    const int reps = 20;
    cudaEventRecord(a, ctx.stream());
    for (int i = 0; i < reps; ++i) dequantize_bf16(dev.dq, out.h(), ctx.stream());
    cudaEventRecord(b, ctx.stream());
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    const double us = 1000.0 * ms / reps, bytes = double(q.bytes()) + 2.0 * double(w.size());
    std::printf("TIME dequantize %s %dx%d: %.1f us (%.0f GB/s)\n", rwkv::quant_type_name(t), F, C, us,
                bytes / (us * 1e3));
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    Context ctx(0);
    std::printf("DEVICE %s sm_%d%d sms=%d mem_MiB=%zu cublasLt=%s\n", ctx.device().name.c_str(),
                ctx.device().major, ctx.device().minor, ctx.device().sm_count,
                ctx.device().total_memory >> 20, ctx.cublaslt_path().c_str());
    test_gemm(ctx);
    test_wkv7(ctx, 2, 32, 2, "[B2,T32,H2]");
    test_wkv7(ctx, 1, 512, 1, "[B1,T512,H1]");
    test_norm(ctx, 64, 768, 768, "layer_norm");
    test_norm(ctx, 64, 512, 64, "group_norm");
    test_shift_lerp(ctx);
    test_wkv7_state(ctx, 2, 32, 2);
    test_wkv7_chunked(ctx, 2, 32, 2, -4.0, -0.5, false, "[B2,T32,H2]");
    test_wkv7_chunked(ctx, 1, 512, 1, -4.0, -0.5, false, "[B1,T512,H1]");
    test_wkv7_chunked(ctx, 2, 64, 2, -4.0, -0.5, true, "[B2,T64,H2,s0]");
    test_wkv7_chunked(ctx, 4, 1024, 2, -4.0, -0.5, true, "[B4,T1024,H2,s0]");
    test_wkv7_chunked(ctx, 2, 64, 2, -0.6, -0.5, true, "[strongest decay]");  // the clamp's edge
    test_wkv7_chunked(ctx, 2, 64, 2, -12.0, -6.0, true, "[near-one decay]");
    test_wkv7_chunked_splits(ctx);
    test_wkv6(ctx, 2, 37, 2, -6.0, 1.0, false, "[B2,T37,H2]");
    test_wkv6(ctx, 1, 300, 1, -6.0, 1.0, true, "[B1,T300,H1,s0]");
    test_wkv6(ctx, 3, 64, 3, 0.5, 2.5, true, "[B3,T64,H3,strong decay,s0]");
    test_wkv6(ctx, 2, 129, 2, -10.0, -7.0, true, "[B2,T129,H2,near-one decay,s0]");
    test_wkv6_vs_cpu_op(ctx);
    test_ddlerp_combine(ctx, false);
    test_ddlerp_combine(ctx, true);
    test_mul_add(ctx);
    test_shift_lerp_carried(ctx);
    test_miss_fold(ctx);
    test_dropout(ctx);
    test_acts(ctx);
    test_cross_entropy(ctx);
    test_adamw(ctx);
    test_allocator();
    test_dequant(ctx);
    if (!quick) {
      time_dequant(ctx, 2048, 8192);
      time_dequant(ctx, 2560, 10240);
      time_wkv7(ctx, 8, 1024, 12);   // 0.1B, ctx 1024, bsz 8
      time_wkv7(ctx, 8, 1024, 32);   // 1.5B, ctx 1024, bsz 8
      time_wkv6(ctx, 8, 1024, 32);   // RWKV-6 1.6B (n_embd 2048), ctx 1024, bsz 8
      time_wkv7(ctx, 1, 4096, 32);   // 1.5B, ctx 4096, bsz 1
      time_wkv7(ctx, 8, 4096, 12);   // 0.1B, ctx 4096, bsz 8
      time_gemm_call(ctx);
      time_gemm(ctx, 8192, 8192, 8192);
      time_gemm(ctx, 8192, 2048, 2048);
    }
  } catch (const rwkv::EngineError& e) {
    std::printf("ERROR %s: %s (%s)\n", e.code.c_str(), e.what(), e.hint.c_str());
    return 2;
  }
  std::printf("SUMMARY %s (%d failed)\n", g_failures ? "FAIL" : "PASS", g_failures);
  return g_failures ? 1 : 0;
}
