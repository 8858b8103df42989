// --my_pile_stage as the older RWKV-PEFT's train.py runs it (JL-er 5b8aac9: train.py's stage block,
// trainer.py's generate_init_weight and lr callback, light_rwkv.py's groups; RWKV-LM v5 wrote
// these rules, v7 renamed the flag --train_stage). Each case states what that code does with the
// flags and checks the engine does the same, or refuses where it cannot:
// - stage > 0: epoch_steps = 40320 // real_bsz, asserted exact; the schedule's epoch_count =
//   magic_prime // 40320, while Lightning's max_epochs (read before) keeps --epoch_count;
// - stage 1: rwkv-init.pth written, exit(0) ("Done. Now go for stage 2."), nothing else;
// - stage 2/3: load_model = the newest rwkv-N.pth (rwkv-init.pth when none), epoch_begin = N + 1,
//   warmup_steps 10 / 30 when continuing a trained rwkv-N.pth and none was given.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/protocol.h"
#include "tests/check.h"
#include "tests/test_files.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "train/train_options.h"
#include "train/trainer.h"

using namespace rwkv;

static std::string temp_dir(const std::string& name) { return rwkv_test::fresh_dir("rwkv_pile_stage_test", name); }

static std::vector<std::string> with(std::vector<std::string> f, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < f.size(); ++i)
    if (f[i] == "--" + flag) { f[i + 1] = value; return f; }
  f.push_back("--" + flag);
  f.push_back(value);
  return f;
}

static std::string error_code(const std::vector<std::string>& f) {
  try { train_options_from_flags(parse_flags(f)); } catch (const EngineError& e) { return e.code; }
  return "";
}

static std::vector<Json> events(const std::string& metrics) {
  std::vector<Json> out;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
  return out;
}

static int train(const std::vector<std::string>& flags, const std::string& metrics) {
  const TrainOptions o = train_options_from_flags(parse_flags(flags));
  make_project_dir(o.proj_dir);
  RunProtocol protocol(metrics);
  TrainHooks hooks;
  hooks.progress_bar = false;
  return run_training(o, protocol, hooks);
}

int main() {
  const std::string dir = temp_dir("main");
  const std::string data = rwkv_test::write_counting_data(dir, 400);  // 16000 tokens
  const std::string proj = dir + "/out";
  // an older-form RWKV-PEFT pretraining call (no --peft_config), tiny: real_bsz 4032 -> 10 steps an epoch
  const std::vector<std::string> flags = {
      "--proj_dir", proj, "--data_file", data, "--data_type", "binidx", "--vocab_size", "24", "--ctx_len", "4",
      "--n_layer", "1", "--n_embd", "64", "--micro_bsz", "4032", "--epoch_steps", "1000", "--epoch_count", "1",
      "--epoch_save", "1", "--magic_prime", "3989", "--lr_init", "6e-4", "--lr_final", "6e-5", "--peft", "none",
      "--my_pile_stage", "2", "--accelerator", "cpu", "--random_seed", "1"};

  {  // stage > 0: train.py forces epoch_steps = 40320 // real_bsz; max_epochs keeps --epoch_count
    const TrainOptions o = train_options_from_flags(parse_flags(flags));
    CHECK(!o.lm_v7 && o.my_pile_stage == 2 && o.continue_newest);
    CHECK(o.epoch_steps == 10 && o.epoch_count == 1);
    CHECK(o.schedule_epoch_count == 0);  // 3989 // 40320: trainer.py's lr is then lr_init throughout
    CHECK(o.continue_warmup == 10);
    bool forced = false;
    for (const auto& [code, message] : o.warnings) forced |= code == "W_LM_FORCED";
    CHECK(forced);  // --epoch_steps 1000 replaced
    const TrainOptions pile = train_options_from_flags(parse_flags(with(flags, "magic_prime", "81082817")));
    CHECK(pile.schedule_epoch_count == 2010 && pile.epoch_count == 1);  // the Pile's 81082817 // 40320
    CHECK(train_options_from_flags(parse_flags(with(flags, "my_pile_stage", "3"))).continue_warmup == 30);
    CHECK(train_options_from_flags(parse_flags(with(flags, "micro_bsz", "16"))).epoch_steps == 2520);
    // stage 0: none of it
    const TrainOptions off = train_options_from_flags(parse_flags(with(flags, "my_pile_stage", "0")));
    CHECK(off.epoch_steps == 1000 && off.schedule_epoch_count == -1 && !off.continue_newest);
  }
  // assert epoch_steps * real_bsz == 40320: 256 does not divide it
  CHECK(error_code(with(flags, "micro_bsz", "256")) == "E_LM_EPOCH_STEPS");
  // stage 2 reloads rwkv-N.pth as the whole model; an adapter run's rwkv-N.pth is the adapter alone
  CHECK(error_code(with(with(flags, "peft", "lora"), "lora_config", "{\"lora_r\":4}")) == "E_FLAG_UNSUPPORTED");
  // stage 1 with --load_model merges it into the init (interpolating other shapes): refused
  CHECK(error_code(with(with(flags, "my_pile_stage", "1"), "load_model", "x.pth")) == "E_FLAG_UNSUPPORTED");
  // the newest RWKV-PEFT's train.py (--peft_config) has no stage block
  CHECK(error_code(with(with(flags, "peft", "lora"), "peft_config", "{\"r\":4}")) == "E_FLAG_UNSUPPORTED");
  CHECK(error_code(with(flags, "my_pile_stage", "-1")) == "E_FLAG_VALUE");
  {  // --load_model beside stage 2 is overwritten by train.py: a warning says it is not read
    const TrainOptions o = train_options_from_flags(parse_flags(with(flags, "load_model", "x.pth")));
    bool warned = false;
    for (const auto& [code, message] : o.warnings) warned |= code == "W_LOAD_MODEL_IGNORED";
    CHECK(warned);
  }

  // stage 1: generate_init_weight saves rwkv-init.pth and exits; nothing else is written
  CHECK(train(with(flags, "my_pile_stage", "1"), "") == 0);
  CHECK((rwkv_test::list_dir(proj) == std::vector<std::string>{"rwkv-init.pth"}));

  // stage 2, first launch: max_p = -1 -> rwkv-init.pth, epoch_begin 0, no warmup; one epoch
  // (max_epochs = --epoch_count 1) saved as rwkv-0.pth; lr_init throughout (epoch_count 0)
  CHECK(train(flags, proj + "/metrics.jsonl") == 0);
  {
    CHECK_PROTOCOL_FILE(proj + "/metrics.jsonl");
    const auto ev = events(proj + "/metrics.jsonl");
    int steps = 0;
    for (const auto& e : ev) {
      const std::string kind = e.find("event")->as_string();
      if (kind == "start") {
        CHECK(e.find("epoch_begin")->as_number() == 0);
        CHECK(e.find("loaded_from")->as_string() == proj + "/rwkv-init.pth");
      }
      if (kind == "step") {
        ++steps;
        CHECK_CLOSE(e.find("lr")->as_number(), 6e-4, 1e-9);
      }
    }
    CHECK(steps == 10);
    std::vector<std::string> files = rwkv_test::list_dir(proj);
    CHECK(std::find(files.begin(), files.end(), "rwkv-0.pth") != files.end());
    CHECK(std::find(files.begin(), files.end(), "rwkv-resume.pth") == files.end());  // stage 2 continues from rwkv-N.pth
  }
  // stage 2 again, the same command: the newest is rwkv-0.pth -> epoch_begin 1, rwkv-1.pth
  std::remove((proj + "/metrics.jsonl").c_str());
  CHECK(train(flags, proj + "/metrics.jsonl") == 0);
  {
    const auto ev = events(proj + "/metrics.jsonl");
    bool started = false;
    for (const auto& e : ev)
      if (e.find("event")->as_string() == "start") {
        started = true;
        CHECK(e.find("epoch_begin")->as_number() == 1);
        CHECK(e.find("loaded_from")->as_string() == proj + "/rwkv-0.pth");
      }
    CHECK(started);
    std::vector<std::string> files = rwkv_test::list_dir(proj);
    CHECK(std::find(files.begin(), files.end(), "rwkv-1.pth") != files.end());
  }

  std::system(("rm -rf '" + dir + "'").c_str());
  return rwkv_test::summary("pile_stage_test");
}
