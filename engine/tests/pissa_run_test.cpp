// PiSSA the way the older RWKV-PEFT runs it (--peft pissa --pissa_config '{...}'), end to end
// through the flag parser, the trainer and the merge:
// - the run writes proj_dir/init_pissa.pth: "model.<linear>.init_lora_A" [r, in] and
//   ".init_lora_B" [out, r], float32, for the six linears of every layer, and B A is the top-r
//   singular part of W (orthogonal factors, B^T B = A A^T = diag(S), the residual's largest
//   singular value below the smallest kept one);
// - its checkpoints hold the adapter alone with the older names (no --merge in that form);
// - merging base + init + trained adapter (merge.py --type pissa) gives the model the run
//   trained: the same logits as --merge 1's checkpoint, and (in float32) the same logits as
//   residual + adapter computed by the backend;
// - pissa_load + pissa_init continue from the trained adapter without a new SVD;
// - missing or mismatched files are E_* errors.
#include <cmath>

#include "cpu/pissa.h"
#include "tests/check.h"
#include "tests/peft_test_util.h"
#include "train/adapter_merge.h"

using namespace rwkv;
using namespace peft_test;

namespace {

StateDict bf16(StateDict sd) {
  for (auto& [n, t] : sd) t = HostTensor::from_f32(t.to_f32(), t.shape, DType::BF16);
  return sd;
}

const std::vector<int32_t> kTokens = {1, 4, 7, 10, 13, 16, 19, 22, 2, 3, 4, 5, 6, 7, 8, 9};

std::vector<double> matmul(const std::vector<float>& X, const std::vector<float>& Y, int n, int k, int m) {
  std::vector<double> Z(size_t(n) * m, 0.0);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < m; ++j) Z[size_t(i) * m + j] += double(X[size_t(i) * k + p]) * Y[size_t(p) * m + j];
  return Z;
}

// Largest singular value by power iteration on R^T R (independent of pissa.cpp's algorithm).
double top_singular(const std::vector<double>& R, int out, int in) {
  std::vector<double> v(in, 1.0), u(out);
  double s = 0;
  for (int it = 0; it < 300; ++it) {
    for (int o = 0; o < out; ++o) { u[o] = 0; for (int i = 0; i < in; ++i) u[o] += R[size_t(o) * in + i] * v[i]; }
    std::vector<double> w(in, 0.0);
    for (int o = 0; o < out; ++o) for (int i = 0; i < in; ++i) w[i] += R[size_t(o) * in + i] * u[o];
    double n = 0;
    for (double x : w) n += x * x;
    n = std::sqrt(n);
    s = std::sqrt(n);
    for (int i = 0; i < in; ++i) v[i] = w[i] / n;
  }
  return s;
}

void check_init_is_top_svd(const StateDict& base, const StateDict& init, int r) {
  const auto prefixes = adapted_linear_prefixes(tiny_config(), {"receptance", "key", "value", "output"});
  CHECK(prefixes.size() == 12);  // att.r/k/v/o + ffn.key/value, two layers
  CHECK(init.size() == 2 * prefixes.size());
  for (const auto& p : prefixes) {
    const HostTensor* A = find(init, "model." + p + ".init_lora_A");
    const HostTensor* B = find(init, "model." + p + ".init_lora_B");
    const HostTensor* W = find(base, p + ".weight");
    CHECK(A && B && W);
    if (!A || !B || !W) continue;
    const int out = int(W->shape[0]), in = int(W->shape[1]);
    CHECK(A->dtype == DType::F32 && B->dtype == DType::F32);
    CHECK((A->shape == std::vector<int64_t>{r, in}) && (B->shape == std::vector<int64_t>{out, r}));
    const auto a = A->to_f32(), b = B->to_f32(), w = W->to_f32();
    const auto ba = matmul(b, a, out, r, in);
    std::vector<double> resid(ba.size());
    for (size_t i = 0; i < ba.size(); ++i) resid[i] = w[i] - ba[i];
    // B^T B and A A^T are the same diagonal matrix diag(S)
    double off = 0, smin = 1e30;
    for (int x = 0; x < r; ++x)
      for (int y = 0; y < r; ++y) {
        double btb = 0, aat = 0;
        for (int o = 0; o < out; ++o) btb += double(b[size_t(o) * r + x]) * b[size_t(o) * r + y];
        for (int i = 0; i < in; ++i) aat += double(a[size_t(x) * in + i]) * a[size_t(y) * in + i];
        if (x != y) off = std::fmax(off, std::fmax(std::fabs(btb), std::fabs(aat)));
        else { CHECK_CLOSE(btb, aat, 1e-3); smin = std::fmin(smin, btb); }
      }
    CHECK(off < 1e-3 * smin);
    // every kept singular value is above everything left in the residual
    CHECK(top_singular(resid, out, in) < 0.999 * smin);
  }
}

}  // namespace

int main() {
  const std::string dir = temp_dir("pissa");
  const StateDict base = low_rank_base(5);
  save_pth(dir + "/base.pth", base);
  const std::string data = pattern_data(dir);
  const std::string cfg4 = R"({"pissa_load":"","pissa_init":"","pissa_r":4,"svd_niter":4})";

  // 1. A fresh PiSSA run: init_pissa.pth, adapter-only checkpoints with the older names.
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/run", {"--peft", "pissa", "--pissa_config", cfg4})) == "");
  const StateDict init = load_pth(dir + "/run/init_pissa.pth");
  check_init_is_top_svd(base, init, 4);
  const StateDict adapter = load_pth(dir + "/run/rwkv-1.pth");
  CHECK(find(adapter, "blocks.0.att.receptance.lora_A") && find(adapter, "blocks.1.ffn.value.lora_B"));
  CHECK(find(adapter, "blocks.0.ln1.weight") && find(adapter, "ln_out.bias"));  // train_parts "ln" (x070 has no time_*)
  CHECK(!find(adapter, "blocks.0.att.receptance.weight") && !find(adapter, "emb.weight"));
  {  // training moved the adapter away from its init
    const auto a0 = find(init, "model.blocks.0.att.key.init_lora_A")->to_f32();
    const auto a1 = find(adapter, "blocks.0.att.key.lora_A")->to_f32();
    CHECK(max_abs_diff(a0, a1) > 1e-3);
  }

  // 2. The same run with --merge 1: its merged checkpoint is what merge.py --type pissa gives.
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/merged_run",
                         {"--peft", "pissa", "--pissa_config", cfg4, "--merge", "1"})) == "");
  MergeRequest req;
  req.type = "pissa";
  req.init_path = dir + "/run/init_pissa.pth";
  const MergeResult merged = merge_adapter(base, dir + "/run/rwkv-1.pth", req);
  CHECK(merged.summary.find("scaling")->as_number() == 1.0);
  CHECK(merged.merged.size() == base.size());
  const auto logits_merge = logits_of(merged.merged, kTokens);
  // the checkpoints are bf16, as RWKV-PEFT's: compare with the merge rounded the same way
  const auto logits_merge_bf16 = logits_of(bf16(merged.merged), kTokens);
  double scale = 0;
  for (float x : logits_merge) scale = std::fmax(scale, std::fabs(x));
  {  // --merge 1 exported W_res + B A from the fp32 adapter in memory; the merge uses the
     // bf16-saved adapter, so the weights agree to bf16 precision of the principal part
    const StateDict run_merged = load_pth(dir + "/merged_run/rwkv-1.pth");
    double worst = 0;
    for (const auto& [n, t] : merged.merged) {
      const auto a = t.to_f32(), b = find(run_merged, n)->to_f32();
      double d = 0, nn = 0;
      for (size_t i = 0; i < a.size(); ++i) { d += (a[i] - b[i]) * double(a[i] - b[i]); nn += double(a[i]) * a[i]; }
      worst = std::fmax(worst, std::sqrt(d / (nn + 1e-30)));
    }
    std::fprintf(stderr, "pissa merge vs --merge 1 weights: worst relative difference %.2e\n", worst);
    CHECK(worst < 1e-2);
  }
  {  // float32: residual base + the saved adapter in the backend == the merged weights
    StateDict resid = base;
    const auto prefixes = adapted_linear_prefixes(tiny_config(), {"receptance", "key", "value", "output"});
    subtract_pissa_init(resid, init, prefixes, 1.0f);
    for (auto& [n, t] : resid)
      if (const HostTensor* trained = find(adapter, n)) t = *trained;  // train_parts
    PeftConfig lora;
    lora.method = PeftMethod::Lora;
    lora.r = 4;
    lora.lora_alpha = 4;  // scaling 1, as PiSSA
    auto b = make_cpu_backend(tiny_config(), lora, resid, BackendOptions{});
    StateDict adapters;
    for (const auto& [n, t] : adapter)
      if (n.find("lora_") != std::string::npos) adapters.push_back({n, t});
    b->import_trainable(adapters);
    std::vector<int32_t> tgt(kTokens.begin() + 1, kTokens.end());
    tgt.push_back(1);
    std::vector<float> lg(kTokens.size() * 24);
    b->forward(Batch{1, int(kTokens.size()), kTokens.data(), tgt.data(), nullptr}, lg.data());
    std::fprintf(stderr, "pissa merge vs residual+adapter logits (fp32): %.2e\n", max_abs_diff(logits_merge, lg));
    CHECK(max_abs_diff(logits_merge, lg) < 1e-4);
    // merging without the init subtraction would be a different model
    MergeRequest plain;
    plain.lora_alpha = 4;
    CHECK(max_abs_diff(logits_of(merge_adapter(base, dir + "/run/rwkv-1.pth", plain).merged, kTokens), lg) > 1e-2);
  }

  // 3. pissa_load + pissa_init continue from the trained adapter; the init is reused, not
  //    recomputed (another seed would give another randomized SVD), and copied to proj_dir.
  const std::string cont_cfg = R"({"pissa_load":")" + dir + R"(/run/rwkv-1.pth","pissa_init":")" + dir +
                               R"(/run/init_pissa.pth","pissa_r":4,"svd_niter":4})";
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/cont",
                         {"--peft", "pissa", "--pissa_config", cont_cfg, "--random_seed", "9", "--lr_init", "1e-9",
                          "--lr_final", "1e-9", "--epoch_count", "1", "--merge", "1"})) == "");
  {
    const StateDict init2 = load_pth(dir + "/cont/init_pissa.pth");
    double worst = 0;
    for (const auto& [n, t] : init) worst = std::fmax(worst, max_abs_diff(t.to_f32(), find(init2, n)->to_f32()));
    CHECK(worst == 0);
    // (a new SVD with that seed would differ, at least in signs)
    const auto fresh = pissa_initial_adapters(base, adapted_linear_prefixes(tiny_config(), {"receptance", "key", "value", "output"}),
                                              4, 4, 0, 9, 1.0f);
    double apart = 0;
    for (const auto& [n, t] : init) apart = std::fmax(apart, max_abs_diff(t.to_f32(), find(fresh, n)->to_f32()));
    CHECK(apart > 1e-2);
    // with a negligible learning rate the continued model is the trained one
    const auto lc = logits_of(load_pth(dir + "/cont/rwkv-0.pth"), kTokens);
    std::fprintf(stderr, "pissa_load continued vs merged trained adapter logits: %.2e\n", max_abs_diff(lc, logits_merge_bf16));
    CHECK(max_abs_diff(lc, logits_merge_bf16) < 1e-3 * scale);
    CHECK(max_abs_diff(logits_of(base, kTokens), logits_merge) > 0.05 * scale);  // training did change the model
  }

  // A proj_dir holding another init gets the one the run used (merge reads it from there).
  {
    std::system(("mkdir -p '" + dir + "/stale'").c_str());
    save_pth(dir + "/stale/init_pissa.pth",
             pissa_initial_adapters(base, adapted_linear_prefixes(tiny_config(), {"receptance", "key", "value", "output"}),
                                    4, 4, 0, 9, 1.0f));
    const std::string use_init = R"({"pissa_load":"","pissa_init":")" + dir + R"(/run/init_pissa.pth","pissa_r":4,"svd_niter":4})";
    CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/stale", {"--peft", "pissa", "--pissa_config", use_init,
                                                                      "--epoch_count", "1"})) == "");
    const StateDict now = load_pth(dir + "/stale/init_pissa.pth");
    double worst = 0;
    for (const auto& [n, t] : init) worst = std::fmax(worst, max_abs_diff(t.to_f32(), find(now, n)->to_f32()));
    CHECK(worst == 0);
  }

  // 4. Errors: E_* codes, never a crash.
  const std::string no_init = R"({"pissa_load":")" + dir + R"(/run/rwkv-1.pth","pissa_init":"","pissa_r":4,"svd_niter":4})";
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/e1", {"--peft", "pissa", "--pissa_config", no_init})) ==
        "E_PEFT_CONFIG");
  const std::string missing = R"({"pissa_load":"","pissa_init":")" + dir + R"(/nope.pth","pissa_r":4,"svd_niter":4})";
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/e2", {"--peft", "pissa", "--pissa_config", missing})) ==
        "E_PISSA_INIT");
  const std::string wrong_r = R"({"pissa_load":"","pissa_init":")" + dir + R"(/run/init_pissa.pth","pissa_r":8,"svd_niter":4})";
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/e3", {"--peft", "pissa", "--pissa_config", wrong_r})) ==
        "E_PISSA_INIT");
  const std::string gone = R"({"pissa_load":")" + dir + R"(/gone.pth","pissa_init":")" + dir +
                           R"(/run/init_pissa.pth","pissa_r":4,"svd_niter":4})";
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/e4", {"--peft", "pissa", "--pissa_config", gone})) ==
        "E_LOAD_MODEL");
  CHECK_THROWS_CODE(merge_adapter(base, dir + "/run/rwkv-1.pth", MergeRequest{"pissa", "", -1, -1}), "E_FLAG_VALUE");
  {
    StateDict other = init;
    other.pop_back();  // a truncated init: one linear has no init_lora_B
    save_pth(dir + "/short_init.pth", other);
    CHECK_THROWS_CODE(merge_adapter(base, dir + "/run/rwkv-1.pth", MergeRequest{"pissa", dir + "/short_init.pth", -1, -1}),
                      "E_PISSA_INIT");
  }
  if (!rwkv_test::failures()) std::system(("rm -rf '" + dir + "'").c_str());
  return rwkv_test::summary("pissa_run_test");
}
