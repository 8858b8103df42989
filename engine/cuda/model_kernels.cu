// Glue kernels of the assembled model (see model_kernels.h). Per-head kernels run one block
// of 64 threads per (row, head), one thread per channel; element-wise kernels grid-stride.
#include <cuda_runtime.h>

#include "cuda/bf16_util.cuh"
#include "cuda/cuda_context.h"
#include "cuda/model_kernels.h"
#include "core/dropout_mask.h"

namespace rwkv::cuda {
namespace {

constexpr int kN = kWkvHeadSize;

int grid_for(int64_t n) { return int(n / 256 + 1 < 65535 * 4 ? n / 256 + 1 : 65535 * 4); }

#define GRID_STRIDE(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void embedding_fwd_kernel(int M, int C, const int32_t* tok, const bf16_t* emb, bf16_t* x) {
  GRID_STRIDE(i, (int64_t)M * C) {
    const int64_t m = i / C, c = i % C;
    x[i] = emb[(int64_t)tok[m] * C + c];
  }
}
__global__ void embedding_bwd_kernel(int M, int C, const int32_t* tok, const bf16_t* dx, float* demb) {
  GRID_STRIDE(i, (int64_t)M * C) {
    const int64_t m = i / C, c = i % C;
    atomicAdd(demb + (int64_t)tok[m] * C + c, ld(dx, i));
  }
}

__global__ void kk_fwd_kernel(int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                              const float* k_a, bf16_t* kk, float* kk_norm, bf16_t* k2,
                              bf16_t* neg_kk, bf16_t* b) {
  const int64_t s = blockIdx.x;            // row * H + head
  const int c = int(s % H) * kN + threadIdx.x;  // channel
  const int64_t i = s * kN + threadIdx.x;
  const float kv = ld(k, i), av = ld(a, i);
  const float pre = kv * k_k[c];
  const float nrm = sqrtf(block_sum(pre * pre));
  const float kkv = pre / fmaxf(nrm, 1e-12f);
  if (threadIdx.x == 0) kk_norm[s] = nrm;
  st(kk, i, kkv);
  st(k2, i, kv * (1.f + (av - 1.f) * k_a[c]));
  st(neg_kk, i, -kkv);
  st(b, i, kkv * av);
}

__global__ void kk_bwd_kernel(int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                              const float* k_a, const bf16_t* kk, const float* kk_norm,
                              const bf16_t* dk2, const bf16_t* dneg_kk, const bf16_t* db,
                              bf16_t* dk, bf16_t* da, float* dk_k, float* dk_a) {
  const int64_t s = blockIdx.x;
  const int c = int(s % H) * kN + threadIdx.x;
  const int64_t i = s * kN + threadIdx.x;
  const float kv = ld(k, i), av = ld(a, i), kkv = ld(kk, i), dk2v = ld(dk2, i), dbv = ld(db, i);
  const float dkk = -ld(dneg_kk, i) + dbv * av;
  const float dav = dbv * kkv + dk2v * kv * k_a[c];
  float dkv = dk2v * (1.f + (av - 1.f) * k_a[c]);
  if (dk_a) atomicAdd(dk_a + c, dk2v * kv * (av - 1.f));
  const float nrm = kk_norm[s];
  float dpre;
  if (nrm <= 1e-12f) {
    dpre = dkk / 1e-12f;
  } else {
    const float dot = block_sum(kkv * dkk);
    dpre = (dkk - kkv * dot) / nrm;
  }
  dkv += dpre * k_k[c];
  if (dk_k) atomicAdd(dk_k + c, dpre * kv);
  st(dk, i, dkv);
  st(da, i, dav);
}

__global__ void bonus_gate_fwd_kernel(int H, const bf16_t* gn, const bf16_t* r, const bf16_t* k2,
                                      const bf16_t* v, const float* r_k, const bf16_t* g,
                                      bf16_t* o3, bf16_t* og) {
  const int64_t s = blockIdx.x;
  const int c = int(s % H) * kN + threadIdx.x;
  const int64_t i = s * kN + threadIdx.x;
  const float dot = block_sum(ld(r, i) * ld(k2, i) * r_k[c]);
  const float o = ld(gn, i) + dot * ld(v, i);
  st(o3, i, o);
  st(og, i, o * ld(g, i));
}

__global__ void gate_bwd_kernel(int64_t n, const bf16_t* dog, const bf16_t* g, const bf16_t* o3,
                                bf16_t* do3, bf16_t* dg) {
  GRID_STRIDE(i, n) {
    const float d = ld(dog, i);
    st(do3, i, d * ld(g, i));
    st(dg, i, d * ld(o3, i));
  }
}

__global__ void bonus_bwd_kernel(int H, const bf16_t* do3, const bf16_t* r, const bf16_t* k2,
                                 const bf16_t* v, const float* r_k, bf16_t* dr, bf16_t* dk2,
                                 bf16_t* dv, float* dr_k) {
  const int64_t s = blockIdx.x;
  const int c = int(s % H) * kN + threadIdx.x;
  const int64_t i = s * kN + threadIdx.x;
  const float rv = ld(r, i), kv = ld(k2, i), rk = r_k[c], d = ld(do3, i);
  const float dot = block_sum(rv * kv * rk);
  const float ddot = block_sum(d * ld(v, i));
  st(dv, i, ld(dv, i) + dot * d);
  st(dr, i, ld(dr, i) + ddot * kv * rk);
  st(dk2, i, ld(dk2, i) + ddot * rv * rk);
  if (dr_k) atomicAdd(dr_k + c, ddot * rv * kv);
}

__global__ void vres_fwd_kernel(int64_t n, const bf16_t* v_raw, const bf16_t* v_first,
                                const bf16_t* vg, bf16_t* v) {
  GRID_STRIDE(i, n) {
    const float vr = ld(v_raw, i);
    st(v, i, vr + (ld(v_first, i) - vr) * ld(vg, i));
  }
}
__global__ void vres_bwd_kernel(int64_t n, const bf16_t* dv, const bf16_t* v_raw,
                                const bf16_t* v_first, const bf16_t* vg, bf16_t* dv_raw,
                                float* dv_first, bf16_t* dvg) {
  GRID_STRIDE(i, n) {
    const float d = ld(dv, i), g = ld(vg, i);
    st(dv_raw, i, d * (1.f - g));
    dv_first[i] += d * g;
    st(dvg, i, d * (ld(v_first, i) - ld(v_raw, i)));
  }
}
__global__ void add_f32_kernel(int64_t n, bf16_t* a, const float* b) {
  GRID_STRIDE(i, n) st(a, i, ld(a, i) + b[i]);
}

__global__ void row_argmax_kernel(int V, const bf16_t* logits, int32_t* arg, float* mx) {
  const bf16_t* x = logits + (int64_t)blockIdx.x * V;
  float best = -INFINITY;
  int idx = 0x7fffffff;
  for (int c = threadIdx.x; c < V; c += blockDim.x) {
    const float v = ld(x, c);
    if (v > best) { best = v; idx = c; }  // first maximum per thread (ascending c)
  }
  __shared__ float sv[1024];
  __shared__ int si[1024];
  sv[threadIdx.x] = best;
  si[threadIdx.x] = idx;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (threadIdx.x < o) {
      const float v2 = sv[threadIdx.x + o];
      const int i2 = si[threadIdx.x + o];
      if (v2 > sv[threadIdx.x] || (v2 == sv[threadIdx.x] && i2 < si[threadIdx.x])) {
        sv[threadIdx.x] = v2;
        si[threadIdx.x] = i2;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) { arg[blockIdx.x] = si[0]; mx[blockIdx.x] = sv[0]; }
}
__global__ void l2wrap_kernel(int rows, int V, bf16_t* d, const int32_t* arg, const float* mx, float f) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  const int64_t i = (int64_t)row * V + arg[row];
  st(d, i, ld(d, i) + f * mx[row]);
}

__global__ void sum_squares_kernel(int64_t n, const float* x, double* out) {
  float acc = 0.f;
  GRID_STRIDE(i, n) acc += x[i] * x[i];
  const float total = block_sum(acc);
  if (threadIdx.x == 0) atomicAdd(out, (double)total);
}
__global__ void scale_f32_kernel(int64_t n, float* x, float f) { GRID_STRIDE(i, n) x[i] *= f; }
__global__ void scale_bf16_kernel(int64_t n, const bf16_t* x, float f, bf16_t* y) {
  GRID_STRIDE(i, n) st(y, i, ld(x, i) * f);
}

// One thread per (row, bucket): the strided sum over the row's i % r == j entries.
__global__ void miss_fold_kernel(int M, int in, int r, const bf16_t* x, bf16_t* xs) {
  GRID_STRIDE(e, (int64_t)M * r) {
    const int64_t m = e / r;
    const int j = int(e % r);
    float acc = 0.f;
    for (int i = j; i < in; i += r) acc += ld(x, m * in + i);
    st(xs, e, acc);
  }
}
__global__ void miss_unfold_kernel(int M, int in, int r, const bf16_t* dxs, bf16_t* dx) {
  GRID_STRIDE(e, (int64_t)M * in) {
    const int64_t m = e / in;
    const int i = int(e % in);
    st(dx, e, ld(dx, e) + ld(dxs, m * r + i % r));
  }
}
__global__ void dropout_fwd_kernel(int64_t n, uint64_t stream, uint64_t first, float keep, const bf16_t* x,
                                   bf16_t* xd) {
  const float inv = 1.f / keep;
  GRID_STRIDE(i, n) st(xd, i, dropout_keeps(stream, first + uint64_t(i), keep) ? ld(x, i) * inv : 0.f);
}
__global__ void dropout_bwd_kernel(int64_t n, uint64_t stream, uint64_t first, float keep, const bf16_t* dxd,
                                   bf16_t* dx) {
  const float inv = 1.f / keep;
  GRID_STRIDE(i, n) if (dropout_keeps(stream, first + uint64_t(i), keep)) st(dx, i, ld(dx, i) + ld(dxd, i) * inv);
}
__global__ void last_rows_kernel(int B, int T, int C, const bf16_t* x, float* out) {
  GRID_STRIDE(e, (int64_t)B * C) {
    const int64_t b = e / C, c = e % C;
    out[e] = ld(x, (b * T + T - 1) * C + c);
  }
}

}  // namespace

void embedding_forward(int M, int C, const int32_t* tok, const bf16_t* emb, bf16_t* x, cudaStream_t s) {
  embedding_fwd_kernel<<<grid_for(int64_t(M) * C), 256, 0, s>>>(M, C, tok, emb, x);
  check_cuda(cudaGetLastError(), "embedding_forward");
}
void embedding_backward(int M, int C, const int32_t* tok, const bf16_t* dx, float* demb, cudaStream_t s) {
  embedding_bwd_kernel<<<grid_for(int64_t(M) * C), 256, 0, s>>>(M, C, tok, dx, demb);
  check_cuda(cudaGetLastError(), "embedding_backward");
}
void kk_prepare_forward(int M, int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                        const float* k_a, bf16_t* kk, float* kk_norm, bf16_t* k2, bf16_t* neg_kk,
                        bf16_t* b, cudaStream_t s) {
  kk_fwd_kernel<<<M * H, kN, 0, s>>>(H, k, a, k_k, k_a, kk, kk_norm, k2, neg_kk, b);
  check_cuda(cudaGetLastError(), "kk_prepare_forward");
}
void kk_prepare_backward(int M, int H, const bf16_t* k, const bf16_t* a, const float* k_k,
                         const float* k_a, const bf16_t* kk, const float* kk_norm,
                         const bf16_t* dk2, const bf16_t* dneg_kk, const bf16_t* db, bf16_t* dk,
                         bf16_t* da, float* dk_k, float* dk_a, cudaStream_t s) {
  kk_bwd_kernel<<<M * H, kN, 0, s>>>(H, k, a, k_k, k_a, kk, kk_norm, dk2, dneg_kk, db, dk, da, dk_k, dk_a);
  check_cuda(cudaGetLastError(), "kk_prepare_backward");
}
void bonus_gate_forward(int M, int H, const bf16_t* gn, const bf16_t* r, const bf16_t* k2,
                        const bf16_t* v, const float* r_k, const bf16_t* g, bf16_t* o3,
                        bf16_t* og, cudaStream_t s) {
  bonus_gate_fwd_kernel<<<M * H, kN, 0, s>>>(H, gn, r, k2, v, r_k, g, o3, og);
  check_cuda(cudaGetLastError(), "bonus_gate_forward");
}
void gate_backward(int64_t n, const bf16_t* dog, const bf16_t* g, const bf16_t* o3, bf16_t* do3,
                   bf16_t* dg, cudaStream_t s) {
  gate_bwd_kernel<<<grid_for(n), 256, 0, s>>>(n, dog, g, o3, do3, dg);
  check_cuda(cudaGetLastError(), "gate_backward");
}
void bonus_backward(int M, int H, const bf16_t* do3, const bf16_t* r, const bf16_t* k2,
                    const bf16_t* v, const float* r_k, bf16_t* dr, bf16_t* dk2, bf16_t* dv,
                    float* dr_k, cudaStream_t s) {
  bonus_bwd_kernel<<<M * H, kN, 0, s>>>(H, do3, r, k2, v, r_k, dr, dk2, dv, dr_k);
  check_cuda(cudaGetLastError(), "bonus_backward");
}
void value_residual_forward(int64_t n, const bf16_t* v_raw, const bf16_t* v_first,
                            const bf16_t* vg, bf16_t* v, cudaStream_t s) {
  vres_fwd_kernel<<<grid_for(n), 256, 0, s>>>(n, v_raw, v_first, vg, v);
  check_cuda(cudaGetLastError(), "value_residual_forward");
}
void value_residual_backward(int64_t n, const bf16_t* dv, const bf16_t* v_raw,
                             const bf16_t* v_first, const bf16_t* vg, bf16_t* dv_raw,
                             float* dv_first, bf16_t* dvg, cudaStream_t s) {
  vres_bwd_kernel<<<grid_for(n), 256, 0, s>>>(n, dv, v_raw, v_first, vg, dv_raw, dv_first, dvg);
  check_cuda(cudaGetLastError(), "value_residual_backward");
}
void add_f32_into_bf16(int64_t n, bf16_t* a, const float* b, cudaStream_t s) {
  add_f32_kernel<<<grid_for(n), 256, 0, s>>>(n, a, b);
  check_cuda(cudaGetLastError(), "add_f32_into_bf16");
}
void row_argmax(int rows, int V, const bf16_t* logits, int32_t* arg, float* mx, cudaStream_t s) {
  if (rows == 0) return;
  row_argmax_kernel<<<rows, 1024, 0, s>>>(V, logits, arg, mx);
  check_cuda(cudaGetLastError(), "row_argmax");
}
void l2wrap_apply(int rows, int V, bf16_t* dlogits, const int32_t* arg, const float* mx,
                  float factor, cudaStream_t s) {
  if (rows == 0) return;
  l2wrap_kernel<<<(rows + 255) / 256, 256, 0, s>>>(rows, V, dlogits, arg, mx, factor);
  check_cuda(cudaGetLastError(), "l2wrap_apply");
}
void sum_squares(int64_t n, const float* x, double* out, cudaStream_t s) {
  if (n == 0) return;
  sum_squares_kernel<<<grid_for(n) < 1024 ? grid_for(n) : 1024, 256, 0, s>>>(n, x, out);
  check_cuda(cudaGetLastError(), "sum_squares");
}
void scale_f32(int64_t n, float* x, float factor, cudaStream_t s) {
  if (n == 0) return;
  scale_f32_kernel<<<grid_for(n), 256, 0, s>>>(n, x, factor);
  check_cuda(cudaGetLastError(), "scale_f32");
}
void scale_bf16(int64_t n, const bf16_t* x, float alpha, bf16_t* y, cudaStream_t s) {
  if (n == 0) return;
  scale_bf16_kernel<<<grid_for(n), 256, 0, s>>>(n, x, alpha, y);
  check_cuda(cudaGetLastError(), "scale_bf16");
}

void miss_fold(int M, int in, int r, const bf16_t* x, bf16_t* xs, cudaStream_t s) {
  if (M == 0) return;
  miss_fold_kernel<<<grid_for(int64_t(M) * r), 256, 0, s>>>(M, in, r, x, xs);
  check_cuda(cudaGetLastError(), "miss_fold");
}
void miss_unfold_add(int M, int in, int r, const bf16_t* dxs, bf16_t* dx, cudaStream_t s) {
  if (M == 0) return;
  miss_unfold_kernel<<<grid_for(int64_t(M) * in), 256, 0, s>>>(M, in, r, dxs, dx);
  check_cuda(cudaGetLastError(), "miss_unfold_add");
}
void dropout_forward(int64_t n, uint64_t mask_stream, uint64_t first, float keep, const bf16_t* x,
                     bf16_t* xd, cudaStream_t s) {
  if (n == 0) return;
  dropout_fwd_kernel<<<grid_for(n), 256, 0, s>>>(n, mask_stream, first, keep, x, xd);
  check_cuda(cudaGetLastError(), "dropout_forward");
}
void dropout_backward_add(int64_t n, uint64_t mask_stream, uint64_t first, float keep,
                          const bf16_t* dxd, bf16_t* dx, cudaStream_t s) {
  if (n == 0) return;
  dropout_bwd_kernel<<<grid_for(n), 256, 0, s>>>(n, mask_stream, first, keep, dxd, dx);
  check_cuda(cudaGetLastError(), "dropout_backward_add");
}
void last_rows_f32(int B, int T, int C, const bf16_t* x, float* out, cudaStream_t s) {
  last_rows_kernel<<<grid_for(int64_t(B) * C), 256, 0, s>>>(B, T, C, x, out);
  check_cuda(cudaGetLastError(), "last_rows_f32");
}

}  // namespace rwkv::cuda
