// The x060 block (see x060_layer.h), chained from cpu/ops.h and cpu/x060_ops.h.
#include "cpu/x060_layer.h"

#include <algorithm>

#include "cpu/ops.h"
#include "cpu/x060_ops.h"

namespace rwkv::x060 {
namespace {

// infctx's token shift: position 0 of each sequence sees the previous chunk's last input
// (xx = shifted - h, so the carried value is added there), and this chunk's last input is
// carried on. A constant of the chunk: the backward's token shift is unchanged.
void carry_shift(float* carried, const std::vector<float>& h, std::vector<float>& xx, int B, int T, int C) {
  for (int b = 0; b < B; ++b) {
    float* first = xx.data() + int64_t(b) * T * C;
    float* prev = carried + int64_t(b) * C;
    for (int i = 0; i < C; ++i) first[i] += prev[i];
    std::copy_n(h.data() + (int64_t(b) * T + T - 1) * C, C, prev);
  }
}

void release(std::vector<float>& v) { std::vector<float>().swap(v); }

}  // namespace

uint64_t LayerCache::bytes() const {
  uint64_t n = 0;
  for (const auto* v : {&x_in, &ln1_mean, &ln1_rstd, &h1, &xx, &xxx, &mix_h, &mix_m, &xw, &xk, &xv, &xr, &xg, &r, &k,
                        &v, &gate_pre, &g, &decay_t, &w, &wkv_init, &wkv, &states, &lnx_mean, &lnx_rstd, &gn, &og,
                        &x_mid, &ln2_mean, &ln2_rstd, &h2, &xx2, &fxk, &fxr, &fk, &fk_act, &kv, &fr})
    n += v->size() * sizeof(float);
  return n;
}

void layer_forward(const ModelConfig& cfg, const LayerWeights& w, LinearRunner& linears, int B, int T,
                   std::vector<float>& x, LayerCache& c, const LayerCarry* carry) {
  const int M = B * T, C = cfg.n_embd, H = cfg.n_head(), N = cfg.head_size, F = cfg.dim_ffn;
  const int Dm = cfg.d_mix_lora, Dd = cfg.d_decay_lora;
  const size_t MC = size_t(M) * C;
  // ---- time mix: x = x + att(ln1(x)) ----
  c.x_in = x;
  c.h1.resize(MC); c.ln1_mean.resize(M); c.ln1_rstd.resize(M);
  ops::layernorm_fwd(x.data(), w.ln1_w.w, w.ln1_b.w, c.h1.data(), c.ln1_mean.data(), c.ln1_rstd.data(), M, C);
  c.xx.resize(MC);
  ops::token_shift_fwd(c.h1.data(), c.xx.data(), B, T, C);
  if (carry) carry_shift(carry->att_shift, c.h1, c.xx, B, T, C);
  c.xxx.resize(MC); c.mix_h.resize(size_t(M) * ops::kX060Mixes * Dm); c.mix_m.resize(MC * ops::kX060Mixes);
  for (auto* m : {&c.xw, &c.xk, &c.xv, &c.xr, &c.xg}) m->resize(MC);
  const float* mu[ops::kX060Mixes] = {w.maa_w.w, w.maa_k.w, w.maa_v.w, w.maa_r.w, w.maa_g.w};
  float* mixes[ops::kX060Mixes] = {c.xw.data(), c.xk.data(), c.xv.data(), c.xr.data(), c.xg.data()};
  ops::ddlerp_fwd(c.h1.data(), c.xx.data(), w.maa_x.w, w.maa_w1.w, w.maa_w2.w, mu, mixes, c.xxx.data(), c.mix_h.data(),
                  c.mix_m.data(), M, C, Dm);
  for (auto* p : {&c.r, &c.k, &c.v, &c.gate_pre, &c.g, &c.w}) p->resize(MC);
  linears.forward(LinearRole::AttReceptance, c.xr.data(), c.r.data(), M);
  linears.forward(LinearRole::AttKey, c.xk.data(), c.k.data(), M);
  linears.forward(LinearRole::AttValue, c.xv.data(), c.v.data(), M);
  linears.forward(LinearRole::AttGate, c.xg.data(), c.gate_pre.data(), M);
  ops::silu_fwd(c.gate_pre.data(), c.g.data(), int64_t(MC));
  c.decay_t.resize(size_t(M) * Dd);
  ops::decay_lowrank_fwd(c.xw.data(), w.time_decay.w, w.decay_w1.w, w.decay_w2.w, c.decay_t.data(), c.w.data(), M, C, Dd);
  const int64_t HNN = int64_t(H) * N * N;
  c.carried = carry != nullptr;
  if (carry) c.wkv_init.assign(carry->wkv, carry->wkv + B * HNN);
  c.wkv.resize(MC); c.states.resize(MC * N);
  ops::wkv6_fwd(c.r.data(), c.w.data(), c.k.data(), c.v.data(), w.faaaa.w,
                carry ? c.wkv_init.data() : w.time_state.w, c.wkv.data(), c.states.data(), B, T, H, N,
                carry ? HNN : 0);
  if (carry)  // the state after each sequence's last token starts the next chunk
    for (int b = 0; b < B; ++b)
      std::copy_n(c.states.data() + (int64_t(b) * T + T - 1) * HNN, HNN, carry->wkv + int64_t(b) * HNN);
  c.gn.resize(MC); c.lnx_mean.resize(size_t(M) * H); c.lnx_rstd.resize(size_t(M) * H);
  ops::groupnorm_fwd(c.wkv.data(), w.lnx_w.w, w.lnx_b.w, c.gn.data(), c.lnx_mean.data(), c.lnx_rstd.data(), M, H, N,
                     cfg.ln_x_eps());
  c.og.resize(MC);
  for (size_t i = 0; i < MC; ++i) c.og[i] = c.gn[i] * c.g[i];
  std::vector<float> att(MC);
  linears.forward(LinearRole::AttOutput, c.og.data(), att.data(), M);
  for (size_t i = 0; i < MC; ++i) x[i] += att[i];
  // ---- channel mix: x = x + sigmoid(receptance(xr)) * value(relu(key(xk))^2) ----
  c.x_mid = x;
  c.h2.resize(MC); c.ln2_mean.resize(M); c.ln2_rstd.resize(M);
  ops::layernorm_fwd(x.data(), w.ln2_w.w, w.ln2_b.w, c.h2.data(), c.ln2_mean.data(), c.ln2_rstd.data(), M, C);
  c.xx2.resize(MC);
  ops::token_shift_fwd(c.h2.data(), c.xx2.data(), B, T, C);
  if (carry) carry_shift(carry->ffn_shift, c.h2, c.xx2, B, T, C);
  c.fxk.resize(MC); c.fxr.resize(MC);
  ops::mix_fwd(c.h2.data(), c.xx2.data(), w.ffn_maa_k.w, c.fxk.data(), M, C);
  ops::mix_fwd(c.h2.data(), c.xx2.data(), w.ffn_maa_r.w, c.fxr.data(), M, C);
  c.fk.resize(size_t(M) * F); c.fk_act.resize(size_t(M) * F); c.kv.resize(MC); c.fr.resize(MC);
  linears.forward(LinearRole::FfnKey, c.fxk.data(), c.fk.data(), M);
  ops::relu_sq_fwd(c.fk.data(), c.fk_act.data(), int64_t(M) * F);
  linears.forward(LinearRole::FfnValue, c.fk_act.data(), c.kv.data(), M);
  std::vector<float> fr_pre(MC);
  linears.forward(LinearRole::FfnReceptance, c.fxr.data(), fr_pre.data(), M);
  ops::sigmoid_fwd(fr_pre.data(), nullptr, c.fr.data(), M, C);
  for (size_t i = 0; i < MC; ++i) x[i] += c.fr[i] * c.kv[i];
}

void layer_backward(const ModelConfig& cfg, const LayerWeights& w, LinearRunner& linears, int B, int T,
                    LayerCache& c, std::vector<float>& dx) {
  const int M = B * T, C = cfg.n_embd, H = cfg.n_head(), N = cfg.head_size, F = cfg.dim_ffn;
  const int Dm = cfg.d_mix_lora, Dd = cfg.d_decay_lora;
  const size_t MC = size_t(M) * C;
  // ---- channel mix ---- dx holds d(out); the residual passes it on unchanged
  {
    std::vector<float> dkv(MC), dfr(MC), dfr_pre(MC, 0.0f), dfk_act(size_t(M) * F, 0.0f), dfk(size_t(M) * F, 0.0f);
    std::vector<float> dfxk(MC, 0.0f), dfxr(MC, 0.0f), dh2(MC, 0.0f), dxx2(MC, 0.0f);
    for (size_t i = 0; i < MC; ++i) { dkv[i] = dx[i] * c.fr[i]; dfr[i] = dx[i] * c.kv[i]; }
    ops::sigmoid_bwd(c.fr.data(), dfr.data(), dfr_pre.data(), nullptr, M, C);
    linears.backward(LinearRole::FfnReceptance, c.fxr.data(), dfr_pre.data(), dfxr.data(), M);
    linears.backward(LinearRole::FfnValue, c.fk_act.data(), dkv.data(), dfk_act.data(), M);
    ops::relu_sq_bwd(c.fk.data(), dfk_act.data(), dfk.data(), int64_t(M) * F);
    linears.backward(LinearRole::FfnKey, c.fxk.data(), dfk.data(), dfxk.data(), M);
    ops::mix_bwd(c.xx2.data(), w.ffn_maa_k.w, dfxk.data(), dh2.data(), dxx2.data(), w.ffn_maa_k.g, M, C);
    ops::mix_bwd(c.xx2.data(), w.ffn_maa_r.w, dfxr.data(), dh2.data(), dxx2.data(), w.ffn_maa_r.g, M, C);
    ops::token_shift_bwd(dxx2.data(), dh2.data(), B, T, C);
    ops::layernorm_bwd(c.x_mid.data(), w.ln2_w.w, c.ln2_mean.data(), c.ln2_rstd.data(), dh2.data(), dx.data(),
                       w.ln2_w.g, w.ln2_b.g, M, C);
  }
  // ---- time mix ----
  std::vector<float> dog(MC, 0.0f), dgn(MC), dg(MC), dgate_pre(MC, 0.0f), dwkv(MC, 0.0f);
  linears.backward(LinearRole::AttOutput, c.og.data(), dx.data(), dog.data(), M);
  for (size_t i = 0; i < MC; ++i) { dgn[i] = dog[i] * c.g[i]; dg[i] = dog[i] * c.gn[i]; }
  ops::silu_bwd(c.gate_pre.data(), dg.data(), dgate_pre.data(), int64_t(MC));
  ops::groupnorm_bwd(c.wkv.data(), w.lnx_w.w, c.lnx_mean.data(), c.lnx_rstd.data(), dgn.data(), dwkv.data(), w.lnx_w.g,
                     w.lnx_b.g, M, H, N);
  std::vector<float> dr(MC, 0.0f), dk(MC, 0.0f), dv(MC, 0.0f), dw(MC, 0.0f);
  const int64_t HNN = int64_t(H) * N * N;
  ops::wkv6_bwd(c.r.data(), c.w.data(), c.k.data(), c.v.data(), w.faaaa.w,
                c.carried ? c.wkv_init.data() : w.time_state.w, c.states.data(), dwkv.data(), dr.data(), dw.data(),
                dk.data(), dv.data(), w.faaaa.g, c.carried ? nullptr : w.time_state.g, B, T, H, N,
                c.carried ? HNN : 0);
  release(c.states);
  std::vector<float> dxw(MC, 0.0f), dxk(MC, 0.0f), dxv(MC, 0.0f), dxr(MC, 0.0f), dxg(MC, 0.0f);
  ops::decay_lowrank_bwd(c.xw.data(), w.decay_w1.w, w.decay_w2.w, c.decay_t.data(), dw.data(), dxw.data(),
                         w.time_decay.g, w.decay_w1.g, w.decay_w2.g, M, C, Dd);
  linears.backward(LinearRole::AttReceptance, c.xr.data(), dr.data(), dxr.data(), M);
  linears.backward(LinearRole::AttKey, c.xk.data(), dk.data(), dxk.data(), M);
  linears.backward(LinearRole::AttValue, c.xv.data(), dv.data(), dxv.data(), M);
  linears.backward(LinearRole::AttGate, c.xg.data(), dgate_pre.data(), dxg.data(), M);
  std::vector<float> dh1(MC, 0.0f), dxx(MC, 0.0f);
  const float* mu[ops::kX060Mixes] = {w.maa_w.w, w.maa_k.w, w.maa_v.w, w.maa_r.w, w.maa_g.w};
  float* dmu[ops::kX060Mixes] = {w.maa_w.g, w.maa_k.g, w.maa_v.g, w.maa_r.g, w.maa_g.g};
  const float* dmixes[ops::kX060Mixes] = {dxw.data(), dxk.data(), dxv.data(), dxr.data(), dxg.data()};
  ops::ddlerp_bwd(c.xx.data(), w.maa_x.w, w.maa_w1.w, w.maa_w2.w, mu, c.xxx.data(), c.mix_h.data(), c.mix_m.data(),
                  dmixes, dh1.data(), dxx.data(), w.maa_x.g, w.maa_w1.g, w.maa_w2.g, dmu, M, C, Dm);
  ops::token_shift_bwd(dxx.data(), dh1.data(), B, T, C);
  ops::layernorm_bwd(c.x_in.data(), w.ln1_w.w, c.ln1_mean.data(), c.ln1_rstd.data(), dh1.data(), dx.data(), w.ln1_w.g,
                     w.ln1_b.g, M, C);
}

}  // namespace rwkv::x060
