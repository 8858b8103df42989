// RWKV-LM train_temp's pretraining rules (train.py, dataset.py, trainer.py, model.py's
// configure_optimizers), each against the values its code computes for the flags of its
// demo-training-prepare.sh / demo-training-run.sh: which flags make RWKV-LM the target, the
// forced mini-epoch (40320 samples) and its assertion, magic_prime's checks, adam_eps, the
// checkpoint that stage 3 continues from (and the fallback when it is corrupt), stage 1
// writing only rwkv-init.pth, the parameter groups (2x lr on att.w0, decay on >=2-D .weight).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/binidx.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/protocol.h"
#include "tests/check.h"
#include "tests/test_files.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "train/init_weights.h"
#include "train/lm_pretrain.h"
#include "train/lr_schedule.h"
#include "train/train_options.h"
#include "train/trainer.h"

using namespace rwkv;

static std::string temp_dir(const std::string& name) { return rwkv_test::fresh_dir("rwkv_lm_pretrain_test", name); }

static void touch(const std::string& path, const std::string& text = "x") { std::ofstream(path) << text; }

// demo-training-run.sh's flags (train_temp), with a model and data small enough for a test.
static std::vector<std::string> run_flags(const std::string& proj, const std::string& data, const std::string& m_bsz,
                                          int64_t magic_prime, int64_t exit_tokens) {
  return {"--load_model", "0", "--wandb", "Test", "--proj_dir", proj, "--my_testing", "x070", "--ctx_len", "4",
          "--train_stage", "3", "--epoch_count", "999999", "--epoch_begin", "0", "--data_file", data,
          "--my_exit_tokens", std::to_string(exit_tokens), "--magic_prime", std::to_string(magic_prime),
          "--num_nodes", "1", "--micro_bsz", m_bsz, "--n_layer", "1", "--n_embd", "64", "--kernel", "@rwkv3",
          "--lr_init", "6e-4", "--lr_final", "6e-5", "--warmup_steps", "10", "--beta1", "0.9", "--beta2", "0.99",
          "--adam_eps", "1e-18", "--data_type", "binidx", "--vocab_size", "24", "--weight_decay", "0.001",
          "--epoch_save", "10", "--head_size", "64", "--head_chunk", "0", "--accelerator", "cpu", "--devices", "1",
          "--precision", "bf16", "--strategy", "deepspeed_stage_2", "--grad_cp", "1", "--enable_progress_bar", "True"};
}

static std::vector<std::string> with(std::vector<std::string> f, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < f.size(); ++i)
    if (f[i] == "--" + flag) { f[i + 1] = value; return f; }
  f.push_back("--" + flag);
  f.push_back(value);
  return f;
}

static std::vector<std::string> without(std::vector<std::string> f, const std::string& flag) {
  for (size_t i = 0; i + 1 < f.size(); ++i)
    if (f[i] == "--" + flag) { f.erase(f.begin() + long(i), f.begin() + long(i) + 2); break; }
  return f;
}

static std::string error_code(const std::vector<std::string>& f) {
  try { train_options_from_flags(parse_flags(f)); } catch (const EngineError& e) { return e.code; }
  return "";
}

static std::vector<Json> events(const std::string& metrics) {
  std::vector<Json> out;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) out.push_back(Json::parse(line));
  return out;
}

static const Json* first(const std::vector<Json>& ev, const std::string& kind) {
  for (const auto& e : ev) if (e.find("event")->as_string() == kind) return &e;
  return nullptr;
}

int main() {
  const std::string dir = temp_dir("main");
  const std::string data = rwkv_test::write_counting_data(dir, 400);  // 16000 tokens
  BinIdxDataset ds(data);
  const int64_t prime = int64_t(magic_prime_for(ds.num_tokens(), 4));  // 3989
  CHECK(prime == 3989);
  const auto flags = run_flags(dir + "/out", data, "4032", prime, int64_t(ds.num_tokens()));

  {  // RWKV-LM is the target: its train.py forces epoch_steps / epoch_count
    const TrainOptions o = train_options_from_flags(parse_flags(flags));
    CHECK(o.lm_v7 && o.train_stage == 3 && o.continue_newest);
    CHECK(o.real_bsz() == 4032 && o.epoch_steps == 10);  // 40320 // real_bsz
    CHECK(o.epoch_count == 0);                            // magic_prime // 40320
    CHECK(o.adam_eps == 1e-18f);
    CHECK(train_options_from_flags(parse_flags(without(flags, "adam_eps"))).adam_eps == 1e-18f);  // its default
    CHECK(train_options_from_flags(parse_flags(with(flags, "adam_eps", "1e-8"))).adam_eps == 1e-8f);
    CHECK(train_options_from_flags(parse_flags(with(flags, "magic_prime", "81082817"))).epoch_count == 2010);  // the Pile demo: 81082817 // 40320
    CHECK(train_options_from_flags(parse_flags(with(flags, "micro_bsz", "16"))).epoch_steps == 2520);
  }
  // train.py: assert epoch_steps * real_bsz == 40320 (the demo's M_BSZ 256 stops at start-up)
  CHECK(error_code(with(flags, "micro_bsz", "256")) == "E_LM_EPOCH_STEPS");
  CHECK(error_code(with(flags, "micro_bsz", "48")).empty());
  // real_bsz counts devices and nodes: 16 x 2 divides 40320, so only the one-device limit stops it
  CHECK(error_code(with(flags, "devices", "3")) == "E_LM_EPOCH_STEPS");  // 4032 x 3 does not divide 40320
  CHECK(error_code(with(with(flags, "micro_bsz", "16"), "devices", "2")) == "E_FLAG_UNSUPPORTED");
  CHECK(error_code(with(with(flags, "micro_bsz", "16"), "num_nodes", "3")) == "E_FLAG_UNSUPPORTED");
  CHECK(error_code(with(with(flags, "micro_bsz", "16"), "num_nodes", "11")) == "E_LM_EPOCH_STEPS");  // 176 does not
  // dataset.py: magic_prime prime, % 3 == 2
  CHECK(error_code(with(flags, "magic_prime", "3015")) == "E_LM_MAGIC_PRIME");
  CHECK(error_code(with(flags, "magic_prime", "3019")) == "E_LM_MAGIC_PRIME");  // prime, 1 mod 3
  CHECK(error_code(without(flags, "magic_prime")) == "E_LM_MAGIC_PRIME");      // is_prime(0) fails
  CHECK(error_code(with(flags, "data_type", "jsonl")) == "E_FLAG_UNSUPPORTED");
  // stage 1 combining weights from --load_model is not implemented; stage 3 does not read it
  CHECK(error_code(with(with(flags, "train_stage", "1"), "load_model", "x.pth")) == "E_FLAG_UNSUPPORTED");
  {
    const TrainOptions o = train_options_from_flags(parse_flags(with(flags, "load_model", "x.pth")));
    bool warned = false;
    for (const auto& [code, message] : o.warnings) warned |= code == "W_LOAD_MODEL_IGNORED";
    CHECK(warned);
  }
  {  // RWKV-PEFT's flags (no flag only RWKV-LM has): none of this applies
    const TrainOptions o = train_options_from_flags(parse_flags(
        {"--data_file", data, "--data_type", "binidx", "--micro_bsz", "256", "--epoch_steps", "7", "--magic_prime", "3015",
         "--vocab_size", "24", "--accelerator", "cpu"}));
    CHECK(!o.lm_v7 && o.epoch_steps == 7 && o.adam_eps == 1e-8f);
    // an RWKV-LM flag with one only RWKV-PEFT has is not RWKV-LM's run (its argparse would stop)
    // RWKV-PEFT's argparse has --head_size_a (and --head_size_divisor): there --head_size is ambiguous
    std::vector<std::string> peft_flags = flags;
    for (auto& a : peft_flags)
      if (a == "--head_size") a = "--head_size_a";
    CHECK(!train_options_from_flags(parse_flags(with(peft_flags, "lora_config", "{}"))).lm_v7);
  }

  // The checkpoints stage 3 chooses from: rwkv-<N>.pth and rwkv-init.pth (-1), nothing else.
  {
    const std::string d = temp_dir("list");
    for (const char* n : {"rwkv-init.pth", "rwkv-0.pth", "rwkv-10.pth", "rwkv-2.pth", "rwkv-final.pth",
                          "rwkv-resume.pth", "rwkv-3.pth.tmp-77", "rwkv7-g1-0.1b.pth", "metrics.jsonl"})
      touch(d + "/" + n);
    const std::vector<int64_t> got = epoch_checkpoints(d);
    CHECK((got == std::vector<int64_t>{-1, 0, 2, 10}));
    CHECK(epoch_checkpoints(d + "/none").empty());
    CHECK(epoch_checkpoint_path(d, -1) == d + "/rwkv-init.pth" && epoch_checkpoint_path(d, 7) == d + "/rwkv-7.pth");
  }

  // configure_optimizers: lr_2x = att.w0; lr_decay = squeeze().dim() >= 2 and ".weight" (wd > 0).
  {
    const std::vector<ParamInfo> ps = {{"emb.weight", {24, 32}, true},
                                       {"blocks.0.ln1.weight", {32}, false},
                                       {"blocks.0.att.x_r", {1, 1, 32}, false},
                                       {"blocks.0.att.w0", {1, 1, 32}, false},
                                       {"blocks.0.att.w1", {32, 32}, true},
                                       {"blocks.0.att.r_k", {2, 16}, true},
                                       {"blocks.0.att.receptance.weight", {32, 32}, true},
                                       {"head.weight", {24, 32}, true}};
    AdamWParams p;
    rwkv_lm_param_groups(ps, 0.001f, p);
    CHECK((p.lr_scale == std::vector<float>{1, 1, 1, 2, 1, 1, 1, 1}));
    CHECK((p.decay == std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 1, 1}));
    rwkv_lm_param_groups(ps, 0.0f, p);
    CHECK((p.decay == std::vector<uint8_t>(8, 0)) && p.lr_scale[3] == 2);
  }

  // The CPU optimizer honours the groups: one AdamW step from the same weights and gradients,
  // with RWKV-LM's groups against the backend's default (lr x1, decay on every >=2-D tensor).
  {
    const ModelConfig cfg = model_config_for_size(1, 64, 24, 64);
    StateDict w = init_x070_weights(cfg, 1);
    std::mt19937 gen(11);  // the init has zero matrices (att.output, att.w1): no gradient reaches w0
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (auto& [n, t] : w) {
      std::vector<float> v = t.to_f32();
      for (float& x : v) x += noise(gen);
      t = HostTensor::from_f32(v, t.shape);
    }
    std::vector<int32_t> in(2 * 8), tgt(2 * 8);
    for (size_t i = 0; i < in.size(); ++i) { in[i] = int32_t(1 + i % 23); tgt[i] = int32_t(1 + (i + 1) % 23); }
    const Batch batch{2, 8, in.data(), tgt.data(), nullptr};
    auto step = [&](bool groups) {
      auto be = make_cpu_backend(cfg, PeftConfig{}, w, BackendOptions{});
      be->forward_backward(batch, 1.0f);
      AdamWParams hp;
      hp.lr = 1e-3f;
      hp.weight_decay = 0.1f;
      if (groups) rwkv_lm_param_groups(be->trainable_params(), hp.weight_decay, hp);
      be->optimizer_step(hp);
      return be->export_weights(ExportKind::Full);
    };
    const StateDict plain = step(false), lm = step(true);
    auto delta = [&](const StateDict& after, const std::string& name) {
      std::vector<float> a, b;
      for (const auto& [n, t] : w) if (n == name) a = t.to_f32();
      for (const auto& [n, t] : after) if (n == name) b = t.to_f32();
      double s = 0;
      for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += std::fabs(double(b[i]) - a[i]);
      return s;
    };
    CHECK(delta(plain, "blocks.0.att.w0") > 0);
    CHECK_CLOSE(delta(lm, "blocks.0.att.w0"), 2 * delta(plain, "blocks.0.att.w0"), 1e-3);  // lr x2
    CHECK_CLOSE(delta(lm, "blocks.0.att.receptance.weight"), delta(plain, "blocks.0.att.receptance.weight"), 1e-6);
    // att.w1 is 2-D but not a .weight: the default decays it, RWKV-LM does not
    CHECK(std::fabs(delta(lm, "blocks.0.att.w1") - delta(plain, "blocks.0.att.w1")) > 1e-7);
  }

  // The warmup counts this launch's steps (Lightning's global_step), the cosine RWKV's real_step.
  {
    LrSchedule s;
    s.lr_init = 6e-4;
    s.lr_final = 6e-5;
    s.warmup_steps = 10;
    s.my_exit_tokens = 1000 * 16;
    s.tokens_per_step = 16;
    const double pi = 3.14159265358979323846, f = 0.1;
    const double progress = (500.0 * 16 - 10 * 16) / (1000.0 * 16 - 10 * 16);
    const double cosine = 6e-4 * ((0.5 + f / 2) + (0.5 - f / 2) * std::cos(pi * progress));
    CHECK_CLOSE(s.lr_at(500, 3), cosine * (0.01 + 0.99 * 3 / 10), 1e-12);
    CHECK_CLOSE(s.lr_at(500, 30), cosine, 1e-12);
    CHECK_CLOSE(s.lr_at(500), cosine, 1e-12);
    s.my_exit_tokens = 5 * 16;  // my_exit_tokens below the warmup's tokens: ends at my_exit_tokens
    CHECK(!s.exit_reached(4) && s.exit_reached(5));
  }

  // Stage 1 (prepare): rwkv-init.pth and nothing else; stage 3 then continues from it.
  const std::string proj = dir + "/out";
  {
    auto prep = with(with(flags, "train_stage", "1"), "load_model", "");
    prep = with(with(prep, "micro_bsz", "1"), "adam_eps", "1e-8");
    const TrainOptions o = train_options_from_flags(parse_flags(prep));
    make_project_dir(proj);
    RunProtocol protocol;  // no metrics.jsonl, as the CLI does for stage 1
    TrainHooks hooks;
    hooks.progress_bar = false;
    CHECK(run_training(o, protocol, hooks) == 0);
    CHECK((rwkv_test::list_dir(proj) == std::vector<std::string>{"rwkv-init.pth"}));
  }
  // Stage 3 with a corrupt newest checkpoint: a warning, then the one before it (rwkv-init.pth).
  {
    touch(proj + "/rwkv-0.pth", "not a zip");
    const TrainOptions o = train_options_from_flags(parse_flags(with(flags, "my_exit_tokens", std::to_string(2 * 4032 * 4))));
    RunProtocol protocol(proj + "/metrics.jsonl");
    TrainHooks hooks;
    hooks.progress_bar = false;
    CHECK(run_training(o, protocol, hooks) == 0);
    CHECK_PROTOCOL_FILE(proj + "/metrics.jsonl");  // rwkv_lm in start, the warning, the final checkpoint
    const auto ev = events(proj + "/metrics.jsonl");
    const Json* warn = nullptr;
    for (const auto& e : ev)
      if (e.find("event")->as_string() == "warning" && e.find("code")->as_string() == "W_CHECKPOINT_CORRUPT") warn = &e;
    CHECK(warn != nullptr);
    const Json* start = first(ev, "start");
    CHECK(start && start->find("loaded_from")->as_string() == proj + "/rwkv-init.pth");
    CHECK(start && start->find("epoch_begin")->as_number() == 0);
    const Json* end = first(ev, "end");
    CHECK(end && end->find("status")->as_string() == "completed" && end->find("steps")->as_number() == 2);
    std::ifstream final_pth(proj + "/rwkv-final.pth");
    CHECK(final_pth.good());
    std::ifstream resume(resume_path(proj));
    CHECK(!resume.good());  // stage 3 leaves no rwkv-resume.pth (RWKV-LM's train.py stops on it)
  }
  // No checkpoint at all: a clear error, not a crash.
  {
    const std::string empty = temp_dir("empty");
    const TrainOptions o = train_options_from_flags(parse_flags(with(flags, "proj_dir", empty)));
    RunProtocol protocol(empty + "/metrics.jsonl");
    TrainHooks hooks;
    hooks.progress_bar = false;
    CHECK(run_training(o, protocol, hooks) != 0);
    CHECK_PROTOCOL_FILE(empty + "/metrics.jsonl");  // error, then end without steps
    const Json* err = first(events(empty + "/metrics.jsonl"), "error");
    CHECK(err && err->find("code")->as_string() == "E_LOAD_MODEL");
  }
  std::system(("rm -rf '" + dir + "'").c_str());
  return rwkv_test::summary("lm_pretrain_test");
}
