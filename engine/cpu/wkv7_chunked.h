// The WKV7 recurrence evaluated chunk by chunk (the "generalized delta rule" in its chunked,
// WY form), in fp32 on the CPU: the same function as ops::wkv7_fwd / wkv7_bwd (cpu/ops.h, whose
// conventions it follows), computed the way the tensor-core kernels of cuda/wkv7_chunked.cu
// compute it, so that a CTest can prove the algorithm on a machine without a GPU and the device
// check has a CPU twin of the same steps.
//
// Per head, with S an [N(value) x N(key)] state:
//   S_t = S_{t-1} diag(w_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,  y_t = S_t r_t,  w_t = exp(-exp(w_raw_t)).
// Within a chunk of L steps that starts from S_0, with g_t = sum_{u<=t} log w_u the decay since
// the chunk start (per key channel, so every exp below is of a difference g_later - g_earlier <= 0
// and cannot overflow, whatever the decay):
//   sa    = T (A~ S_0^T + M_ak V)                          T = (I - M_ab)^-1  (lower unitriangular)
//   Y     = R~ S_0^T + M_rb sa + M_rk V
//   S_L   = S_0 diag(exp(g_L)) + sa^T B^ + V^T K^
// where A~_t = a_t exp(g_{t-1}), R~_t = r_t exp(g_t), B^_s = b_s exp(g_L - g_s), K^_s likewise, and
// the [L x L] pair matrices are M_xy[t][s] = sum_j x_t[j] y_s[j] exp(g'_t[j] - g_s[j]) (g' = g_{t-1}
// for x = a, strictly below the diagonal; g' = g_t for x = r, on and below it). The backward walks
// the chunks in reverse carrying dS (the gradient of the state at the chunk's end) and gets the
// decay's gradient without touching the states inside the chunk, from the identity
//   d log w_t = sum_i dS_L[i][.] S_L[i][.] + sum_{u>=t} (r du_r - b du_b - k du_k)_u + sum_{u>t} (a du_a)_u
// (u over the chunk's steps, du_x the complete gradient of input x at step u; the derivation is in
// wkv7_chunked.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rwkv::ops {

struct Wkv7ChunkOptions {
  int chunk_len = 16;  // the CUDA kernels use kWkvCheckpoint (16)
  // Evaluate as the CUDA kernels do, to estimate their error on the CPU: the pair matrices as a
  // product of factors decayed from the chunk start (x_t exp(g'_t)) and back to it (y_s exp(-g_s)),
  // exact only while exp(-g) stays finite (the model's soft clamp keeps log w >= -0.61 a step, so
  // g >= -9.7 over 16 steps), and every operand of a matrix product rounded to tf32 as the
  // tensor cores take it. Off: fp32 throughout, pair decays exp(g_t - g_s) taken directly
  // (stable for any decay).
  bool emulate_gpu_tf32 = false;
  // The backward's value split, as cuda/wkv7_chunked.cu runs it with V_SPLIT blocks a head:
  // the state's value rows in value_split slices, each slice's key-side gradients formed alone
  // and then summed. The same function; the test shows the sum is exact (to fp32 rounding).
  // N must be a multiple of it.
  int value_split = 1;
};

int wkv7_chunk_count(int T, int chunk_len);
// chunk_states: [B, H, chunks, N, N] fp32, row-major [i][j]: the state after each chunk (the last
// one, even when the chunk is partial, is the final state).
size_t wkv7_chunked_state_floats(int B, int T, int H, int N, int chunk_len);

// Inputs [B,T,H,N]; s0 / s0_batch_stride as ops::wkv7_fwd (null = zeros; stride 0 = one [H,N,N]
// state for the batch, H*N*N = one per sequence). Writes y, chunk_states and sa ([B,T,H,N]:
// S_{t-1} a_t at every step, what the backward reads instead of recomputing it). Any T >= 1: the
// last chunk may be shorter.
void wkv7_chunked_fwd(const float* r, const float* w, const float* k, const float* v, const float* a,
                      const float* b, const float* s0, float* y, float* chunk_states, float* sa, int B,
                      int T, int H, int N, int64_t s0_batch_stride = 0, const Wkv7ChunkOptions& opt = {});
// Gradients, ACCUMULATED (+=) like every backward in cpu/ops.h; ds0 (may be null) gets the
// gradient of a shared initial state [H,N,N] summed over the batch (a per-sequence state gets
// none: ds0 must then be null).
void wkv7_chunked_bwd(const float* r, const float* w, const float* k, const float* v, const float* a,
                      const float* b, const float* s0, const float* chunk_states, const float* sa,
                      const float* dy, float* dr, float* dw, float* dk, float* dv, float* da, float* db,
                      float* ds0, int B, int T, int H, int N, int64_t s0_batch_stride = 0,
                      const Wkv7ChunkOptions& opt = {});
// The state after the last step, [B,H,N,N] row-major, copied out of chunk_states.
void wkv7_chunked_final_state(const float* chunk_states, int B, int T, int H, int N, int chunk_len,
                              float* state);

}  // namespace rwkv::ops
