#include "train/adapter_start.h"

#include <sys/stat.h>

#include <random>

#include "core/errors.h"
#include "core/paths.h"
#include "cpu/pissa.h"
#include "train/adapter_files.h"

namespace rwkv {
namespace {


bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

uint64_t run_seed(const TrainOptions& o) { return uint64_t(o.seed < 0 ? 0 : o.seed); }

StateDict prepare_pissa(const TrainOptions& o, const ModelConfig& cfg, StateDict& weights, bool resuming,
                        AdapterStart& out) {
  const auto prefixes = adapted_linear_prefixes(cfg, o.peft.target_modules);
  const float scaling = o.peft.method == PeftMethod::Pissa ? 1.0f : o.peft.lora_scaling();
  const std::string proj_init = o.proj_dir + "/init_pissa.pth";
  StateDict init;
  if (!o.pissa_init.empty()) {
    if (!path_exists(o.pissa_init))
      throw EngineError("E_PISSA_INIT", "pissa_init " + o.pissa_init + " does not exist",
                        "give the init_pissa.pth that the PiSSA run wrote into its proj_dir, or \"\" to compute one");
    init = load_pth(o.pissa_init);
  } else if (path_exists(proj_init)) {
    init = load_pth(proj_init);
    if (!resuming)
      out.warnings.push_back({"W_PISSA_INIT_REUSED", proj_init + " exists: PiSSA starts from it instead of a new SVD "
                                                                 "(delete it, or use a new --proj_dir, for a fresh one)"});
  } else {
    init = pissa_initial_adapters(weights, prefixes, o.peft.r, o.peft.svd_niter, o.pissa_oversample, run_seed(o), scaling);
  }
  check_pissa_init(init, weights, prefixes, o.peft.r, o.pissa_init.empty() ? proj_init : o.pissa_init);
  // merge needs the init beside the checkpoints, as RWKV-PEFT keeps it there
  if (!path_exists(proj_init) || (!o.pissa_init.empty() && !same_file(o.pissa_init, proj_init))) {
    save_pth(proj_init, init);
    out.written.push_back(proj_init);
  }
  subtract_pissa_init(weights, init, prefixes, scaling);
  return pissa_adapter_from_init(init, prefixes);
}

StateDict gaussian_lora_init(const TrainOptions& o, const ModelConfig& cfg) {
  std::mt19937_64 gen(run_seed(o) ^ 0x6A055ull);
  std::normal_distribution<float> normal(0.0f, 1.0f / float(o.peft.r));
  const int r = o.peft.r;
  StateDict out;
  for (const auto& p : adapted_linear_prefixes(cfg, o.peft.target_modules)) {
    const bool ffn_key = p.find("ffn.key") != std::string::npos, ffn_value = p.find("ffn.value") != std::string::npos;
    const int in = ffn_value ? cfg.dim_ffn : cfg.n_embd, out_dim = ffn_key ? cfg.dim_ffn : cfg.n_embd;
    std::vector<float> A(size_t(r) * in);
    for (float& x : A) x = normal(gen);
    out.push_back({p + ".lora_A", HostTensor::from_f32(A, {r, in})});
    out.push_back({p + ".lora_B", HostTensor::from_f32(std::vector<float>(size_t(out_dim) * r, 0.0f), {out_dim, r})});
  }
  return out;
}

}  // namespace

AdapterStart prepare_adapter_start(const TrainOptions& o, const ModelConfig& cfg, StateDict& weights, bool resuming) {
  AdapterStart out;
  out.backend_peft = o.peft;
  if (o.pissa) {
    out.initial = prepare_pissa(o, cfg, weights, resuming, out);
    if (out.backend_peft.method == PeftMethod::Pissa) {
      // the older PiSSA computes W_res x + B A x: LoRA with scaling 1 and no dropout
      out.backend_peft.method = PeftMethod::Lora;
      out.backend_peft.lora_alpha = float(out.backend_peft.r);
      out.backend_peft.use_rslora = false;
      out.backend_peft.lora_dropout = 0;
    }
  } else if (o.init_lora_weights == "gaussian") {
    out.initial = gaussian_lora_init(o, cfg);
  }
  const std::string from = !o.pissa_load.empty() ? o.pissa_load : o.lora_load;
  if (from.empty()) return out;
  if (!path_exists(from))
    throw EngineError("E_LOAD_MODEL", (o.pissa_load.empty() ? "lora_load " : "pissa_load ") + from + " does not exist",
                      "give an adapter checkpoint (rwkv-N.pth of a --merge 0 run, or a peft adapter folder)");
  for (auto& [n, t] : load_adapter(from).tensors) {
    bool base = false;
    for (auto& [wn, wt] : weights)
      if (wn == n) {
        if (wt.shape != t.shape)
          throw EngineError("E_ADAPTER", from + ": " + n + " has another shape than the model's",
                            "continue with the base model the adapter was trained on");
        wt = t;
        base = true;
      }
    if (!base) out.continued.push_back({n, std::move(t)});
  }
  return out;
}

}  // namespace rwkv
