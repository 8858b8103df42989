// Epoch semantics per trainer (train/epoch_plan.h): the older RWKV-PEFT and RWKV-LM train
// epoch_steps micro-batches an epoch; the newest RWKV-PEFT (--peft_config) trains one pass of
// its DataLoader over the first epoch_steps documents, ceil(pool / micro_bsz) micro-batches with
// a partial last one, stepping the optimizer every accumulate_grad_batches and at the epoch end.
// Then whole CPU runs: the step and epoch events a newest-form run emits, the rows its partial
// last batch trains, and a run stopped inside the epoch's partial tail resuming step for step.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "addon/run_schedule.h"
#include "core/json.h"
#include "tests/check.h"
#include "tests/test_files.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "tests/tiny_train_options.h"
#include "train/epoch_plan.h"
#include "train/trainer.h"

using namespace rwkv;

static TrainOptions newest_form(int64_t epoch_steps, int micro_bsz, int accumulate) {
  TrainOptions o;
  o.peft_new_form = true;
  o.data_type = "jsonl";
  o.epoch_steps = epoch_steps;
  o.micro_bsz = micro_bsz;
  o.accumulate_grad_batches = accumulate;
  return o;
}

static void plans() {
  // the older form: epoch_steps micro-batches, a pool of epoch_steps * micro_bsz documents
  TrainOptions old = newest_form(12, 4, 2);
  old.peft_new_form = false;
  EpochPlan p = epoch_plan(old, 5000);
  CHECK(!p.one_pass && p.pool == 48 && p.micro_batches == 12 && p.optimizer_steps == 6 && p.last_batch_rows == 4);
  CHECK(epoch_pool_limit(old) == 48);

  // the newest: 1000 documents of 5000 kept, micro_bsz 8 -> 125 micro-batches, none partial
  p = epoch_plan(newest_form(1000, 8, 1), 5000);
  CHECK(p.one_pass && p.pool == 1000 && p.micro_batches == 125 && p.last_batch_rows == 8 && p.optimizer_steps == 125);
  // 1003 documents: a partial last batch of 3 rows
  p = epoch_plan(newest_form(1003, 8, 1), 5000);
  CHECK(p.micro_batches == 126 && p.last_batch_rows == 3 && p.rows(125) == 3 && p.rows(124) == 8);
  // fewer documents than epoch_steps (jsonl takes what there is)
  p = epoch_plan(newest_form(1000, 8, 1), 20);
  CHECK(p.pool == 20 && p.micro_batches == 3 && p.last_batch_rows == 4);
  // accumulation 4 over 126 micro-batches: steps after 4, 8, ... 124 and after the last (126)
  p = epoch_plan(newest_form(1003, 8, 4), 5000);
  CHECK(p.optimizer_steps == 32 && p.steps_after(3) && !p.steps_after(124) && p.steps_after(125));
  CHECK(p.steps_done(4) == 1 && p.steps_done(126) == 32);
  // sft keeps every example; the document count is unknown until the data is read
  TrainOptions sft = newest_form(10, 4, 1);
  sft.data_type = "sft";
  CHECK(epoch_pool_limit(sft) == -1);
  p = epoch_plan(sft, 37);
  CHECK(p.pool == 37 && p.micro_batches == 10 && p.last_batch_rows == 1);
  // RWKV-LM's flags keep their mini-epochs even with --peft_config given
  TrainOptions lm = newest_form(12, 4, 1);
  lm.lm_v7 = true;
  CHECK(!epoch_plan(lm, 100).one_pass);
}

// The addon's planSchedule answers from the same rules, from the words after train.py.
static void schedule_from_argv() {
  const std::vector<std::string> base = {"--data_file", "x", "--data_type", "jsonl", "--vocab_size", "65536", "--n_layer", "2", "--n_embd", "64",
                                         "--ctx_len", "512", "--micro_bsz", "8", "--epoch_steps", "1003",
                                         "--epoch_count", "2", "--accumulate_grad_batches", "4", "--peft", "lora"};
  std::vector<std::string> newest = base;
  newest.insert(newest.end(), {"--peft_config", "{\"r\":8}"});
  Json s = facts::plan_schedule(newest, 5000);
  // 126 micro-batches an epoch (the last of 3 rows), 32 optimizer steps, 2 epochs
  CHECK(s.find("totalSteps")->as_number() == 64 && s.find("tokensPerStep")->as_number() == 512 * 8 * 4);
  CHECK(s.find("totalTokens")->as_number() == 2.0 * 1003 * 512);
  CHECK(s.find("epoch")->find("microBatches")->as_number() == 126 && s.find("documentsKnown")->as_bool());
  CHECK(!facts::plan_schedule(newest, -1).find("documentsKnown")->as_bool());
  std::vector<std::string> older = base;
  older.insert(older.end(), {"--lora_config", "{\"lora_r\":8}", "--epoch_steps", "1000"});
  s = facts::plan_schedule(older, 5000);  // 1000 micro-batches / 4 = 250 steps an epoch
  CHECK(s.find("totalSteps")->as_number() == 500 && !s.find("epoch")->find("onePass")->as_bool());
}

static std::string temp_dir(const std::string& name) { return rwkv_test::fresh_dir("rwkv_epoch_plan_test", name); }

static TrainOptions tiny_run(const std::string& dir, const std::string& data) {
  TrainOptions o = rwkv_test::tiny_train_options(dir, data);
  // the newest form, 22 documents: micro-batches 4,4,4,4,4,2; steps after 2, 4, 6
  o.peft_new_form = true;
  o.epoch_steps = 22;
  o.micro_bsz = 4;
  o.accumulate_grad_batches = 2;
  o.dataload = "pad";
  o.dataload_given = true;
  o.epoch_count = 2;
  o.epoch_save = 0;
  o.peft.method = PeftMethod::Lora;
  o.peft.r = 4;
  o.peft.lora_alpha = 8;
  o.merge = false;
  return o;
}

static std::vector<Json> events_of(const std::string& metrics, const std::string& kind) {
  std::ifstream in(metrics);
  std::string line;
  std::vector<Json> out;
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    if (j.find("event")->as_string() == kind) out.push_back(j);
  }
  return out;
}

static void run(const TrainOptions& o, std::atomic<int>* stop) {
  std::system(("mkdir -p '" + o.proj_dir + "'").c_str());
  RunProtocol proto(o.proj_dir + "/metrics.jsonl");
  TrainHooks hooks;
  hooks.progress_bar = false;
  hooks.stop_signal = stop;
  CHECK(run_training(o, proto, hooks) == 0);
}

// Runs `o` and checks its start and step events: one step per entry of `rows_done` (the rows
// trained once that step is done; 16 tokens a row), as many planned. Returns the step events.
static std::vector<Json> run_and_check_steps(const TrainOptions& o, const std::vector<double>& rows_done) {
  run(o, nullptr);
  const std::string metrics = o.proj_dir + "/metrics.jsonl";
  CHECK_PROTOCOL_FILE(metrics);
  const auto start = events_of(metrics, "start");
  CHECK(start.size() == 1 && start[0].find("total_steps")->as_number() == double(rows_done.size()));
  const auto steps = events_of(metrics, "step");
  CHECK(steps.size() == rows_done.size());
  if (steps.size() == rows_done.size())
    for (size_t i = 0; i < steps.size(); ++i) CHECK(steps[i].find("tokens")->as_number() == rows_done[i] * 16);
  return steps;
}

static void newest_form_run() {
  const std::string dir = temp_dir("run");
  const std::string data = rwkv_test::write_counting_data(dir, 30);  // 30 documents, 22 kept
  TrainOptions o = tiny_run(dir, data);
  // tokens: 8 rows per step but the epoch's last (4 + 2 rows), 22 rows an epoch
  const auto steps = run_and_check_steps(o, {8, 16, 22, 30, 38, 44});
  const auto epochs = events_of(o.proj_dir + "/metrics.jsonl", "epoch");
  CHECK(epochs.size() == 2);
  for (const Json& e : epochs) CHECK(e.find("steps")->as_number() == 3);
  // a stop inside the first epoch's tail (after step 2), then the same command: step for step
  TrainOptions b = o;
  b.proj_dir = dir + "/stopped";
  std::atomic<int> stop{0};
  std::atomic<bool> finished{false};
  const std::string mb = b.proj_dir + "/metrics.jsonl";
  std::thread watcher([&] {
    while (!finished.load()) {
      if (events_of(mb, "step").size() >= 2) { stop = 1; break; }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  run(b, &stop);
  finished = true;
  watcher.join();
  run(b, nullptr);
  CHECK_PROTOCOL_FILE(mb);
  std::vector<double> la, lb(6, -1);
  for (const Json& s : steps) la.push_back(s.find("loss")->as_number());
  for (const Json& s : events_of(mb, "step")) {
    const size_t k = size_t(s.find("step")->as_number());
    if (k >= 1 && k <= 6) lb[k - 1] = s.find("loss")->as_number();
  }
  CHECK(la.size() == 6);
  for (size_t i = 0; i < la.size(); ++i)
    if (la[i] != lb[i])
      rwkv_test::fail(__FILE__, __LINE__, "step " + std::to_string(i + 1) + ": " + std::to_string(la[i]) +
                                              " uninterrupted vs " + std::to_string(lb[i]) + " resumed");
}

// The older form with epoch_steps not a multiple of accumulate_grad_batches: Lightning steps on
// the epoch's last micro-batch too, so 5 micro-batches at accumulation 2 are steps after 2, 4, 5.
static void older_form_short_last_step() {
  const std::string dir = temp_dir("older");
  const std::string data = rwkv_test::write_counting_data(dir, 30);
  TrainOptions o = tiny_run(dir, data);
  o.peft_new_form = false;
  o.epoch_steps = 5;
  o.micro_bsz = 2;
  o.accumulate_grad_batches = 2;
  const EpochPlan p = epoch_plan(o, -1);
  CHECK(!p.one_pass && p.micro_batches == 5 && p.optimizer_steps == 3);
  CHECK(p.steps_after(1) && !p.steps_after(2) && p.steps_after(3) && p.steps_after(4));
  run_and_check_steps(o, {4, 8, 10, 14, 18, 20});  // 4 rows a step but each epoch's last (2 rows)
}

int main() {
  plans();
  older_form_short_last_step();
  schedule_from_argv();
  newest_form_run();
  if (!rwkv_test::failures()) std::system(("rm -rf /tmp/rwkv_epoch_plan_test_" + std::to_string(::getpid()) + "_*").c_str());
  return rwkv_test::summary("epoch_plan_test");
}
