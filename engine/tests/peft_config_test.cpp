// The newest RWKV-PEFT's --peft_config (Hugging Face peft LoraConfig/MissConfig keywords) and
// the older forms, through the real flag parser and trainer:
// - defaults: peft_config takes peft's (r 8, lora_alpha 8, dropout 0) and trains the adapter
//   only, saved merged unless --merge 0; the older --lora_config keeps its defaults, trains
//   train_parts too and saves the adapter alone (it has no --merge);
// - target_modules picks which linears get adapters and gradients; use_rslora scales by
//   alpha / sqrt(r); init_lora_weights "pissa_niter_N" is peft's PiSSA (S divided by the scaling);
// - --merge 0 writes peft's adapter folder (proj_dir-adapter: adapter_model.safetensors with
//   base_model.model.*.lora_A.weight names, adapter_config.json) and rwkv-N.pth with the same
//   names; merge and --lora_config lora_load read both namings;
// - keys or values the engine cannot honour are errors, never ignored.
#include <cmath>
#include <fstream>
#include <iterator>

#include "core/safetensors.h"
#include "cpu/pissa.h"
#include "tests/check.h"
#include "tests/peft_test_util.h"
#include "train/adapter_files.h"
#include "train/adapter_merge.h"

using namespace rwkv;
using namespace peft_test;

namespace {

std::string code_of(const std::vector<std::string>& args) {
  try {
    options(args);
  } catch (const EngineError& e) {
    return e.code;
  }
  return "";
}

double relative_frobenius(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) { d += (a[i] - b[i]) * double(a[i] - b[i]); n += double(a[i]) * a[i]; }
  return std::sqrt(d / (n + 1e-30));
}

// A float32 merge against a bf16 checkpoint: the fraction of an adapted tensor's elements that
// round to another bf16 value, and the same fraction for the untouched base (which shows the
// adapter moved the weights, so agreement means it was applied).
struct Agreement { double merge_differs = 0, base_differs = 0; };
Agreement bf16_agreement(const StateDict& merged, const StateDict& run_bf16, const StateDict& base, const std::string& name) {
  const auto m = HostTensor::from_f32(find(merged, name)->to_f32(), find(merged, name)->shape, DType::BF16).to_f32();
  const auto r = find(run_bf16, name)->to_f32();
  const auto b = HostTensor::from_f32(find(base, name)->to_f32(), find(base, name)->shape, DType::BF16).to_f32();
  Agreement a;
  for (size_t i = 0; i < r.size(); ++i) { a.merge_differs += m[i] != r[i]; a.base_differs += b[i] != r[i]; }
  a.merge_differs /= double(r.size());
  a.base_differs /= double(r.size());
  return a;
}

double worst_relative(const StateDict& a, const StateDict& b) {
  double worst = 0;
  for (const auto& [n, t] : a) {
    const HostTensor* o = find(b, n);
    worst = std::fmax(worst, o ? relative_frobenius(t.to_f32(), o->to_f32()) : 1e30);
  }
  return worst;
}

}  // namespace

int main() {
  const std::string dir = temp_dir("peftcfg");
  const StateDict base = low_rank_base(8);
  save_pth(dir + "/base.pth", base);
  const std::string data = pattern_data(dir);
  const std::string B = dir + "/base.pth";
  auto flags = [&](const std::string& proj, std::vector<std::string> extra) { return tiny_flags(B, data, dir + "/" + proj, extra); };

  // 1. Defaults of each form.
  {
    const TrainOptions n = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4})"}));
    CHECK(n.peft_new_form && n.peft.r == 4 && n.peft.lora_alpha == 8 && n.peft.lora_dropout == 0);
    CHECK(n.peft.train_parts.empty() && n.merge);
    CHECK((n.peft.target_modules == std::vector<std::string>{"receptance", "key", "value", "output"}));
    const TrainOptions o = options(flags("x", {"--peft", "lora", "--lora_config", R"({"lora_load":"","lora_r":16,"lora_alpha":32,"lora_dropout":0.01})"}));
    CHECK(!o.peft_new_form && o.peft.r == 16 && o.peft.lora_alpha == 32 && !o.merge);
    CHECK((o.peft.train_parts == std::vector<std::string>{"time", "ln"}));
    const TrainOptions tp = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4})", "--train_parts", "ln"}));
    CHECK(tp.peft.train_parts.empty() && tp.warnings.size() == 1);  // ignored as there, but said so
    const TrainOptions rs = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4,"lora_alpha":8,"use_rslora":true})"}));
    CHECK_CLOSE(rs.peft.lora_scaling(), 8 / std::sqrt(4.0), 1e-7);
    CHECK(options(flags("x", {"--peft", "lora", "--peft_config", R"({"target_modules":"all-linear"})"})).peft.target_modules.size() == 4);
    // peft's exact-SVD PiSSA: a converged randomized SVD (r extra columns, 16 iterations)
    const TrainOptions ex = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4,"init_lora_weights":"pissa"})"}));
    CHECK(ex.pissa && ex.pissa_oversample == 4 && ex.peft.svd_niter == 16);
    const TrainOptions ni = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4,"init_lora_weights":"pissa_niter_7"})"}));
    CHECK(ni.pissa && ni.pissa_oversample == 0 && ni.peft.svd_niter == 7);
  }

  // 2. Refused, never ignored.
  auto refused = [&](const std::string& method, const std::string& cfg) {
    return code_of(flags("x", {"--peft", method, "--peft_config", cfg}));
  };
  CHECK(refused("lora", R"({"r":4,"use_dora":true})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"init_lora_weights":"olora"})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"init_lora_weights":false})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"target_modules":["head"]})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"target_modules":".*att.*"})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"bias":"all"})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"layers_to_transform":[0]})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"modules_to_save":["head"]})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"rank_pattern":{"key":16}})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"loftq_config":{"loftq_bits":4}})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"layer_replication":null,"megatron_config":null})") == "");
  CHECK(refused("miss", R"({"init_weights":"bat"})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("miss", R"({"miss_dropout":0.1})") == "E_FLAG_UNSUPPORTED");
  CHECK(refused("lora", R"({"alpha":32})") == "E_PEFT_CONFIG");  // not a LoraConfig keyword
  CHECK(refused("lora", R"({"init_lora_weights":"pissa_niter_"})") == "E_PEFT_CONFIG");
  CHECK(refused("lora", R"({"r":0})") == "E_PEFT_CONFIG");
  CHECK(refused("lora", R"({"bias":"none","use_dora":false,"task_type":"CAUSAL_LM"})") == "");  // defaults are fine
  CHECK(code_of(flags("x", {"--peft", "bone", "--disha_config", R"({"mode":"bat","load":"","r":8})"})) == "E_FLAG_UNSUPPORTED");
  CHECK(code_of(flags("x", {"--peft", "lora", "--lora_config", R"({"lora_r":8,"rank":4})"})) == "E_PEFT_CONFIG");

  // 3. target_modules: which tensors exist and get gradients.
  {
    const TrainOptions o = options(flags("x", {"--peft", "lora", "--peft_config", R"({"r":4,"target_modules":["receptance","value"]})"}));
    auto b = make_cpu_backend(tiny_config(), o.peft, base, BackendOptions{});
    std::vector<std::string> names;
    for (const auto& p : b->trainable_params()) names.push_back(p.name);
    CHECK(names.size() == 12);  // (att.receptance, att.value, ffn.value) x (A, B) x 2 layers
    for (const auto& n : names)
      CHECK(n.find(".lora_") != std::string::npos &&
            (n.find("att.receptance") != std::string::npos || n.find("value") != std::string::npos));
    // lora_B starts at zero, so only lora_B gets a gradient at step 0: give B a value first
    StateDict nonzero;
    for (const auto& p : b->trainable_params()) {
      int64_t k = 1;
      for (auto d : p.shape) k *= d;
      nonzero.push_back({p.name, HostTensor::from_f32(std::vector<float>(size_t(k), 0.05f), p.shape)});
    }
    b->import_trainable(nonzero);
    const std::vector<int32_t> in = {1, 2, 3, 4, 5, 6, 7, 8}, tgt = {2, 3, 4, 5, 6, 7, 8, 9};
    b->forward_backward(Batch{1, 8, in.data(), tgt.data(), nullptr}, 1.0f);
    for (const auto& [n, g] : b->export_grads()) {
      double s = 0;
      for (float x : g.to_f32()) s += std::fabs(x);
      if (!(s > 0)) rwkv_test::fail(__FILE__, __LINE__, "no gradient for " + n);
    }
  }

  // 4. --merge 0 in the newest form: peft's names and folder; merge reads both.
  const std::string cfg = R"({"r":4,"lora_alpha":8,"lora_dropout":0.05,"target_modules":["receptance","value"],"use_rslora":true})";
  CHECK(train(flags("hf", {"--peft", "lora", "--peft_config", cfg, "--merge", "0"})) == "");
  CHECK(train(flags("hf_merged", {"--peft", "lora", "--peft_config", cfg})) == "");
  {
    const StateDict ckpt = load_pth(dir + "/hf/rwkv-1.pth");
    CHECK(ckpt.size() == 12);
    for (const auto& [n, t] : ckpt) {
      CHECK(n.rfind("base_model.model.blocks.", 0) == 0);
      CHECK(n.size() > 14 && (n.compare(n.size() - 14, 14, ".lora_A.weight") == 0 || n.compare(n.size() - 14, 14, ".lora_B.weight") == 0));
    }
    const HostTensor* a = find(ckpt, "base_model.model.blocks.1.ffn.value.lora_A.weight");
    const HostTensor* b = find(ckpt, "base_model.model.blocks.1.ffn.value.lora_B.weight");
    CHECK(a && b && (a->shape == std::vector<int64_t>{4, 128}) && (b->shape == std::vector<int64_t>{32, 4}));
    const StateDict st = load_safetensors(dir + "/hf-adapter/adapter_model.safetensors");
    CHECK(st.size() == ckpt.size());
    for (const auto& [n, t] : ckpt) CHECK(find(st, n) && find(st, n)->bytes == t.bytes);
    std::ifstream cj(dir + "/hf-adapter/adapter_config.json");
    const Json c = Json::parse(std::string(std::istreambuf_iterator<char>(cj), {}));
    CHECK(c.find("peft_type")->as_string() == "LORA" && c.find("r")->as_number() == 4);
    CHECK(c.find("lora_alpha")->as_number() == 8 && c.find("use_rslora")->as_bool());
    CHECK(c.find("target_modules")->items().size() == 2);
    // merge of the folder (alpha and rslora from adapter_config.json) == the --merge 1 run
    const StateDict run_merged = load_pth(dir + "/hf_merged/rwkv-1.pth");
    const MergeResult m = merge_adapter(base, dir + "/hf-adapter", MergeRequest{});
    CHECK_CLOSE(m.summary.find("scaling")->as_number(), 8 / std::sqrt(4.0), 1e-6);
    CHECK(m.summary.find("adapter_names")->as_string() == "peft");
    const Agreement ag = bf16_agreement(m.merged, run_merged, base, "blocks.1.att.value.weight");
    std::fprintf(stderr, "peft folder merge vs --merge 1: %.1f%% of bf16 values differ (base: %.1f%%)\n",
                 100 * ag.merge_differs, 100 * ag.base_differs);
    CHECK(ag.merge_differs < 0.15 && ag.base_differs > 0.5);
    // the .pth with peft names, alpha and rslora given as merge.py flags, merges the same
    const MergeResult m2 = merge_adapter(base, dir + "/hf/rwkv-1.pth", MergeRequest{"lora", "", 8, 1});
    CHECK(worst_relative(m2.merged, m.merged) < 1e-6);
    // merged - base == alpha / sqrt(r) * B A on an adapted linear
    const auto A = load_adapter(dir + "/hf/rwkv-1.pth");
    const auto Av = find(A.tensors, "blocks.0.att.receptance.lora_A")->to_f32(), Bv = find(A.tensors, "blocks.0.att.receptance.lora_B")->to_f32();
    const auto W0 = find(base, "blocks.0.att.receptance.weight")->to_f32(), W1 = find(m.merged, "blocks.0.att.receptance.weight")->to_f32();
    double worst = 0;
    for (int o = 0; o < 32; ++o)
      for (int i = 0; i < 32; ++i) {
        double ba = 0;
        for (int k = 0; k < 4; ++k) ba += double(Bv[size_t(o) * 4 + k]) * Av[size_t(k) * 32 + i];
        worst = std::fmax(worst, std::fabs(W1[size_t(o) * 32 + i] - W0[size_t(o) * 32 + i] - 4.0 * ba));
      }
    CHECK(worst < 1e-5);
    CHECK(max_abs_diff(find(base, "blocks.0.att.key.weight")->to_f32(), find(m.merged, "blocks.0.att.key.weight")->to_f32()) == 0);
  }

  // 5. The older --lora_config lora_load reads a peft-named adapter (file and folder).
  for (const std::string from : {dir + "/hf/rwkv-1.pth", dir + "/hf-adapter"}) {
    const std::string lc = R"({"lora_load":")" + from + R"(","lora_r":4,"lora_alpha":8,"lora_dropout":0})";
    CHECK(train(flags("load", {"--peft", "lora", "--lora_config", lc, "--lr_init", "1e-9", "--lr_final", "1e-9",
                               "--epoch_count", "1"})) == "");
    const StateDict out = load_pth(dir + "/load/rwkv-0.pth");  // older names, adapter only
    const auto want = find(load_pth(dir + "/hf/rwkv-1.pth"), "base_model.model.blocks.0.att.value.lora_B.weight")->to_f32();
    const HostTensor* got = find(out, "blocks.0.att.value.lora_B");
    CHECK(got && max_abs_diff(got->to_f32(), want) < 1e-4);
    std::system(("rm -rf '" + dir + "/load'").c_str());
  }

  // 6. peft's PiSSA (init_lora_weights "pissa_niter_4"): s * init_B init_A is the principal part;
  //    a PiSSA adapter folder merges with --type pissa and the run's init, not as plain LoRA.
  const std::string pcfg = R"({"r":4,"lora_alpha":8,"init_lora_weights":"pissa_niter_4"})";
  CHECK(train(flags("hfp", {"--peft", "lora", "--peft_config", pcfg, "--merge", "0"})) == "");
  CHECK(train(flags("hfp_merged", {"--peft", "lora", "--peft_config", pcfg})) == "");
  {
    const StateDict init = load_pth(dir + "/hfp/init_pissa.pth");
    const auto A = find(init, "model.blocks.0.att.key.init_lora_A")->to_f32(), Bv = find(init, "model.blocks.0.att.key.init_lora_B")->to_f32();
    const auto W = find(base, "blocks.0.att.key.weight")->to_f32();
    std::vector<float> resid(W);
    for (int o = 0; o < 32; ++o)
      for (int i = 0; i < 32; ++i) {
        double ba = 0;
        for (int k = 0; k < 4; ++k) ba += double(Bv[size_t(o) * 4 + k]) * A[size_t(k) * 32 + i];
        resid[size_t(o) * 32 + i] -= float(2.0 * ba);  // s = lora_alpha / r = 2
      }
    CHECK(relative_frobenius(W, resid) > 0.9);  // s * B A is most of W
    double rn = 0, wn = 0;
    for (size_t i = 0; i < W.size(); ++i) { rn += double(resid[i]) * resid[i]; wn += double(W[i]) * W[i]; }
    CHECK(std::sqrt(rn / wn) < 0.2);  // only the small noise is left
    CHECK_THROWS_CODE(merge_adapter(base, dir + "/hfp-adapter", MergeRequest{}), "E_ADAPTER");
    const MergeResult m = merge_adapter(base, dir + "/hfp-adapter", MergeRequest{"pissa", dir + "/hfp/init_pissa.pth", -1, -1});
    CHECK_CLOSE(m.summary.find("scaling")->as_number(), 2.0, 1e-6);
    const double d = worst_relative(m.merged, load_pth(dir + "/hfp_merged/rwkv-1.pth"));
    std::fprintf(stderr, "peft PiSSA merge vs --merge 1: worst relative difference %.2e\n", d);
    CHECK(d < 1e-2);
  }

  // peft's init_lora_weights "gaussian": lora_A ~ N(0, 1/r), lora_B = 0.
  CHECK(train(flags("gauss", {"--peft", "lora", "--peft_config", R"({"r":4,"init_lora_weights":"gaussian"})", "--merge", "0",
                              "--lr_init", "1e-9", "--lr_final", "1e-9", "--epoch_count", "1"})) == "");
  {
    const StateDict ckpt = load_pth(dir + "/gauss/rwkv-0.pth");
    double ss = 0, n = 0, bmax = 0;
    for (const auto& [name, t] : ckpt) {
      const auto v = t.to_f32();
      if (name.find("lora_A") != std::string::npos) for (float x : v) { ss += double(x) * x; n += 1; }
      else for (float x : v) bmax = std::fmax(bmax, std::fabs(x));
    }
    std::fprintf(stderr, "gaussian init: std of lora_A %.4f (1/r = 0.25), max |lora_B| %.1e\n", std::sqrt(ss / n), bmax);
    CHECK(std::fabs(std::sqrt(ss / n) - 0.25) < 0.02 && bmax < 1e-5);
  }

  // 7. MiSS in the newest form: peft's miss_block name and shape, merged from the folder.
  CHECK(train(flags("miss", {"--peft", "miss", "--peft_config", R"({"r":8})", "--merge", "0"})) == "");
  CHECK(train(flags("miss_merged", {"--peft", "miss", "--peft_config", R"({"r":8})"})) == "");
  {
    const StateDict ckpt = load_pth(dir + "/miss/rwkv-1.pth");
    const HostTensor* blk = find(ckpt, "base_model.model.blocks.0.ffn.key.miss_block");
    CHECK(blk && (blk->shape == std::vector<int64_t>{8, 128}));
    CHECK(ckpt.size() == 12);
    const MergeResult m = merge_adapter(base, dir + "/miss-adapter", MergeRequest{"miss", "", -1, -1});
    const Agreement ag = bf16_agreement(m.merged, load_pth(dir + "/miss_merged/rwkv-1.pth"), base, "blocks.0.ffn.key.weight");
    std::fprintf(stderr, "MiSS folder merge vs --merge 1: %.1f%% of bf16 values differ (base: %.1f%%)\n",
                 100 * ag.merge_differs, 100 * ag.base_differs);
    CHECK(ag.merge_differs < 0.15 && ag.base_differs > 0.5);
  }
  if (!rwkv_test::failures()) std::system(("rm -rf '" + dir + "'").c_str());
  return rwkv_test::summary("peft_config_test");
}
