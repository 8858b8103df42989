// The bad-step guard (train/step_guard.h) on the CPU backend with planted bad steps (the
// gradients scaled by NaN or 1e4 through TrainHooks::test_grad_scale): a skipped step leaves the
// weights as they were (a run with a skipped last step ends with the very weights of a run that
// stopped one step earlier), is reported as a W_STEP_SKIPPED warning naming the step and its
// batch, and the run goes on; max_in_row bad steps in a row stop it with E_TRAIN_NAN; a spike
// against the running median is caught; --guard off stops at the first NaN as before.
#include <unistd.h>

#include <cmath>
#include <functional>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/pth.h"
#include "tests/check.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "train/step_guard.h"
#include "train/trainer.h"

using namespace rwkv;

static void judge() {
  StepGuardOptions o;
  o.warmup = 3;
  o.grad_spike = 10;
  StepGuard g(o);
  CHECK(g.judge(NAN, 1).find("loss is NaN") != std::string::npos && g.in_row() == 1);
  CHECK(g.judge(1, INFINITY).find("gradient norm is infinite") != std::string::npos && g.in_row() == 2);
  for (int i = 0; i < 3; ++i) CHECK(g.judge(2.0, 1.0).empty());
  CHECK(g.in_row() == 0);
  CHECK(g.judge(2.0, 50.0).find("gradient norm 50 is 50.0x the median 1") != std::string::npos);
  CHECK(g.judge(7.0, 1.0).find("loss 7 is 3.5x") != std::string::npos);
  CHECK(g.judge(5.0, 9.0).empty());  // below both factors
  StepGuardOptions off = o;
  off.enabled = false;
  StepGuard h(off);
  for (int i = 0; i < 5; ++i) h.judge(2.0, 1.0);
  CHECK(h.judge(2.0, 1e9).empty());         // no spike judging when off
  CHECK(!h.judge(NAN, 1.0).empty());        // but a NaN is still bad (the trainer stops then)
}

static std::string dir_for(const std::string& name) {
  std::string d = "/tmp/rwkv_step_guard_test_" + std::to_string(::getpid()) + "_" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}

static TrainOptions tiny(const std::string& dir, const std::string& data, int64_t steps) {
  TrainOptions o;
  o.proj_dir = dir + "/out";
  o.data_file = data;
  o.data_type = "binidx";
  o.dataload = "pad";
  o.dataload_given = true;
  o.vocab_size = 24;
  o.ctx_len = 16;
  o.n_layer = 2;
  o.n_embd = 32;
  o.head_size = 16;
  o.micro_bsz = 2;
  o.epoch_steps = steps;
  o.epoch_count = 1;
  o.epoch_save = 1;
  o.lr_init = o.lr_final = 3e-3;  // constant: a shorter plan trains with the same learning rates
  o.data_shuffle = false;          // and, in order, on the same documents
  o.accelerator = "cpu";
  o.seed = 1;
  return o;
}

struct Outcome { int code; std::vector<Json> warnings, errors; std::vector<double> losses; };

static Outcome run(const TrainOptions& o, std::function<float(int64_t)> scale, StepGuardOptions g = {}) {
  std::system(("mkdir -p '" + o.proj_dir + "'").c_str());
  Outcome out;
  {
    RunProtocol proto(o.proj_dir + "/metrics.jsonl");
    TrainHooks hooks;
    hooks.progress_bar = false;
    hooks.guard = g;
    hooks.test_grad_scale = std::move(scale);
    out.code = run_training(o, proto, hooks);
  }
  CHECK_PROTOCOL_FILE(o.proj_dir + "/metrics.jsonl");
  std::ifstream in(o.proj_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    const std::string e = j.find("event")->as_string();
    if (e == "warning" && j.find("code")->as_string() == "W_STEP_SKIPPED") out.warnings.push_back(j);
    if (e == "error") out.errors.push_back(j);
    if (e == "step") out.losses.push_back(j.find("loss")->as_number());
  }
  return out;
}

static bool same_weights(const std::string& a, const std::string& b) {
  const StateDict x = load_pth(a), y = load_pth(b);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i].first != y[i].first || x[i].second.bytes != y[i].second.bytes) return false;
  return true;
}

static void trainer_skips_bad_steps() {
  const std::string dir = dir_for("run");
  const std::string data = rwkv_test::write_counting_data(dir, 60);
  // 1. NaN at attempt 6 of 6: 5 steps applied, the weights of a 5-step run, one warning
  TrainOptions a = tiny(dir, data, 6), b = tiny(dir, data, 5);
  a.proj_dir = dir + "/skip_last";
  b.proj_dir = dir + "/five";
  const Outcome ra = run(a, [](int64_t n) { return n == 6 ? NAN : 1.0f; });
  const Outcome rb = run(b, nullptr);
  CHECK(ra.code == 0 && rb.code == 0);
  CHECK(ra.losses.size() == 5 && ra.losses == rb.losses);
  CHECK(ra.warnings.size() == 1);
  if (ra.warnings.size() == 1) {
    const Json& w = ra.warnings[0];
    CHECK(w.find("step")->as_number() == 6 && w.find("epoch")->as_number() == 0);
    CHECK(w.find("samples")->items()[0].as_number() == 10 && w.find("samples")->items()[1].as_number() == 11);
    CHECK(w.find("message")->as_string().find("gradient norm is NaN") != std::string::npos);
  }
  CHECK(same_weights(a.proj_dir + "/rwkv-0.pth", b.proj_dir + "/rwkv-0.pth"));

  // 2. two bad steps in the middle: the run goes on, every later loss finite
  TrainOptions c = tiny(dir, data, 20);
  c.proj_dir = dir + "/middle";
  const Outcome rc = run(c, [](int64_t n) { return n == 5 || n == 6 ? NAN : 1.0f; });
  CHECK(rc.code == 0 && rc.losses.size() == 18 && rc.warnings.size() == 2);
  for (double l : rc.losses) CHECK(std::isfinite(l));

  // 3. a gradient spike after the warm-up of the medians
  TrainOptions d = tiny(dir, data, 30);
  d.proj_dir = dir + "/spike";
  StepGuardOptions quick;  // judged from step 20 on, 10x the median
  quick.warmup = 20;
  quick.grad_spike = 10;
  const Outcome rd = run(d, [](int64_t n) { return n == 25 ? 1e4f : 1.0f; }, quick);
  CHECK(rd.code == 0 && rd.warnings.size() == 1 && rd.losses.size() == 29);
  if (rd.warnings.size() == 1) CHECK(rd.warnings[0].find("message")->as_string().find("x the median") != std::string::npos);

  // 4. bad steps in a row: the 5th stops the run
  TrainOptions e = tiny(dir, data, 20);
  e.proj_dir = dir + "/in_row";
  const Outcome re = run(e, [](int64_t n) { return n >= 3 ? NAN : 1.0f; });
  CHECK(re.code != 0 && re.warnings.size() == 4 && re.errors.size() == 1);
  if (re.errors.size() == 1) {
    CHECK(re.errors[0].find("code")->as_string() == "E_TRAIN_NAN");
    CHECK(re.errors[0].find("message")->as_string().find("5 bad steps in a row") != std::string::npos);
  }

  // 5. --guard off: the first NaN stops the run, nothing skipped
  TrainOptions f = tiny(dir, data, 20);
  f.proj_dir = dir + "/off";
  StepGuardOptions off;
  off.enabled = false;
  const Outcome rf = run(f, [](int64_t n) { return n == 3 ? NAN : 1.0f; }, off);
  CHECK(rf.code != 0 && rf.warnings.empty() && rf.losses.size() == 2);
}

int main() {
  judge();
  trainer_skips_bad_steps();
  if (!rwkv_test::failures()) std::system(("rm -rf /tmp/rwkv_step_guard_test_" + std::to_string(::getpid()) + "_*").c_str());
  return rwkv_test::summary("step_guard_test");
}
