// Parity harness, our side: loads a checkpoint written by torch.save (base x070 or x060 weights,
// plus lora_A/lora_B when --lora R ALPHA is given, or att.time_state with --state), runs the CPU backend's forward and backward on
// the tokens in TOKENS.pth ("inputs", "targets": int64 [B, T]) and writes OUT.pth with
// "logits" [B, T, V], "loss" and "grad.<name>" for every trainable tensor, through our own
// .pth writer (parity.py reads it with torch.load(weights_only=True)).
// `--bench STEPS` instead times STEPS training steps (forward, backward, AdamW) and prints
// tokens/s as JSON. `--infctx CHUNK` trains the rows chunk by chunk as --train_type infctx does
// (train/infctx.h) and writes "loss" and the gradients (no logits).
// Built by run_parity.sh against the engine's libraries; not part of the shipped CLI.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/errors.h"
#include "core/model_shapes.h"
#include "core/model_version.h"
#include "core/pth.h"
#include "train/infctx.h"

using namespace rwkv;

static std::vector<int32_t> ids(const HostTensor& t) {
  std::vector<int32_t> out(size_t(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t v;
    std::memcpy(&v, t.bytes.data() + i * 8, 8);
    out[i] = int32_t(v);
  }
  return out;
}

int main(int argc, char** argv) {
  try {
    if (argc < 4) {
      std::fprintf(stderr, "usage: parity_dump MODEL.pth TOKENS.pth OUT.pth [--lora R ALPHA | --state] [--bench STEPS | --infctx CHUNK]\n");
      return 2;
    }
    PeftConfig peft;
    int bench = 0, infctx_chunk = 0;
    for (int i = 4; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--lora") && i + 2 < argc) {
        peft.method = PeftMethod::Lora;
        peft.r = std::atoi(argv[++i]);
        peft.lora_alpha = float(std::atof(argv[++i]));
        peft.lora_dropout = 0;
        peft.train_parts = {};
      } else if (!std::strcmp(argv[i], "--state")) {
        peft.method = PeftMethod::State;  // the checkpoint's att.time_state tensors are the start
      } else if (!std::strcmp(argv[i], "--bench") && i + 1 < argc) {
        bench = std::atoi(argv[++i]);
      } else if (!std::strcmp(argv[i], "--infctx") && i + 1 < argc) {
        infctx_chunk = std::atoi(argv[++i]);
      }
    }
    StateDict all = load_pth(argv[1]), base, adapter;
    for (auto& [n, t] : all) {
      if (n.find("lora_") != std::string::npos) adapter.push_back({n, t.to_f32().empty() ? t : HostTensor::from_f32(t.to_f32(), t.shape)});
      else base.push_back({n, t});
    }
    std::vector<TensorInfo> header;
    for (const auto& [n, t] : base) header.push_back({n, t.dtype, t.shape});
    const std::string version = detect_model_version(header) == "x060" ? "x060" : "x070";
    const ModelConfig cfg = model_config_from_checkpoint(version, base);
    // RWKV-PEFT wraps every linear of the block: x060's att.gate too
    if (version == "x060") peft.target_modules = {"receptance", "key", "value", "gate", "output"};
    auto be = make_cpu_backend(cfg, peft, base, BackendOptions{});
    if (!adapter.empty()) be->import_trainable(adapter);
    StateDict tok = load_pth(argv[2]);
    HostTensor in_t, tgt_t;
    for (auto& [n, t] : tok) {
      if (n == "inputs") in_t = t;
      if (n == "targets") tgt_t = t;
    }
    const int B = int(in_t.shape.at(0)), T = int(in_t.shape.at(1));
    std::vector<int32_t> inputs = ids(in_t), targets = ids(tgt_t);
    Batch batch{B, T, inputs.data(), targets.data(), nullptr};
    if (bench > 0) {
      AdamWParams hp;
      hp.lr = 1e-4f;
      be->forward_backward(batch, 1.0f);  // warm-up
      be->optimizer_step(hp);
      const auto t0 = std::chrono::steady_clock::now();
      for (int s = 0; s < bench; ++s) {
        be->forward_backward(batch, 1.0f);
        be->optimizer_step(hp);
      }
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("{\"engine\":\"rwkv-studio cpu\",\"steps\":%d,\"tokens_per_s\":%.1f}\n", bench, double(B) * T * bench / dt);
      return 0;
    }
    if (infctx_chunk > 0) {
      be->zero_grads();
      const double loss = infctx_forward_backward(*be, cfg, B, T, infctx_chunk, inputs.data(), targets.data(), nullptr, 1.0f);
      StateDict out;
      out.push_back({"loss", HostTensor::from_f32({float(loss)}, {})});
      for (auto& [n, g] : be->export_grads()) out.push_back({"grad." + n, g});
      save_pth(argv[3], out);
      std::printf("{\"loss\":%.8f,\"tensors\":%zu}\n", loss, out.size());
      return 0;
    }
    std::vector<float> logits(size_t(B) * T * cfg.vocab_size);
    const LossResult fwd = be->forward(batch, logits.data());
    be->zero_grads();
    const LossResult res = be->forward_backward(batch, 1.0f);
    StateDict out;
    out.push_back({"logits", HostTensor::from_f32(logits, {B, T, cfg.vocab_size})});
    out.push_back({"loss", HostTensor::from_f32({float(res.loss)}, {})});
    for (auto& [n, g] : be->export_grads()) out.push_back({"grad." + n, g});
    save_pth(argv[3], out);
    std::printf("{\"loss\":%.8f,\"forward_loss\":%.8f,\"tensors\":%zu}\n", res.loss, fwd.loss, out.size());
    return 0;
  } catch (const EngineError& e) {
    std::fprintf(stderr, "parity_dump: %s: %s\n", e.code.c_str(), e.what());
    return 1;
  }
}
