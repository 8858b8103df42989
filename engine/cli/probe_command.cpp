// `rwkv-train probe [--probe_steps N] [train.py flags]`: a few timed optimizer steps of the run
// the flags describe, on the device they name, and the tokens/s measured, as a `probe` event
// after the run's own events. The editor caches it and calibrates its time estimate with it
// (server/src/estimate). Nothing is written anywhere: the run goes to a scratch proj_dir that
// is removed afterwards, and the trainer writes no init, checkpoint or resume file
// (TrainHooks::probe_steps). The weights do not change the timing, so RWKV-LM's `--load_model 0`
// (continue from proj_dir) becomes a random init of the same shape.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/protocol.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace rwkv::cli {
namespace {

constexpr int64_t kDefaultSteps = 8;
constexpr int64_t kWarmupSteps = 2;  // the first steps load cuBLASLt, fill the allocator's cache

std::atomic<int> g_stop{0};
extern "C" void on_probe_signal(int sig) { g_stop.store(sig); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run_probe(const std::vector<std::string>& all) {
  std::vector<std::string> args = all;
  int64_t steps = kDefaultSteps;
  if (args.size() >= 2 && args[0] == "--probe_steps") {
    char* end = nullptr;
    steps = std::strtoll(args[1].c_str(), &end, 10);
    if (!end || *end || steps < kWarmupSteps + 1 || steps > 1000)
      throw EngineError("E_FLAG_VALUE", "--probe_steps " + args[1] + ": must be a whole number from " +
                                            std::to_string(kWarmupSteps + 1) + " to 1000",
                        "e.g. rwkv-train probe --probe_steps 8 --load_model ...");
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::printf("usage: rwkv-train probe [--probe_steps N] [train.py flags]\n"
                "  Runs N optimizer steps (default %lld; the first %lld warm up) of the run the flags describe,\n"
                "  writes no file, and prints a `probe` event with the measured tokens/s.\n",
                (long long)kDefaultSteps, (long long)kWarmupSteps);
    return args.empty() ? 2 : 0;
  }
  TrainOptions opt = train_options_from_flags(parse_flags(args));
  if (opt.init_only())
    throw EngineError("E_FLAG_VALUE", "stage 1 (--train_stage 1 / --my_pile_stage 1) trains no step to time",
                      "probe the stage 2 or 3 script instead", opt.train_stage == 1 ? "train_stage" : "my_pile_stage");
  char scratch[] = "/tmp/rwkv-probe-XXXXXX";
  if (!::mkdtemp(scratch)) throw EngineError("E_IO_WRITE", "cannot make a scratch folder in /tmp", "check /tmp");
  opt.proj_dir = scratch;
  if (opt.continue_newest) {
    opt.continue_newest = false;
    opt.load_model.clear();
  }
  opt.my_exit_tokens = 0;                                   // RWKV-LM: never end before the probe does
  opt.epoch_count = std::max<int64_t>(opt.epoch_count, steps);  // short epochs: go on into the next

  std::vector<double> rates;
  Json device = Json::object(), params = Json::object();
  std::string peft = "none";
  RunProtocol protocol;  // stdout only
  protocol.observe([&](const std::string& event, const Json& line) {
    if (event == "start") {
      if (const Json* d = line.find("device")) device = *d;
      if (const Json* p = line.find("params")) params = *p;
      if (const Json* m = line.find("peft")) peft = m->as_string();
    } else if (event == "step") {
      rates.push_back(line.find("tokens_per_s")->as_number());
    }
  });
  struct sigaction sa = {};
  sa.sa_handler = on_probe_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  TrainHooks hooks;
  hooks.stop_signal = &g_stop;
  hooks.allow_resume = false;
  hooks.probe_steps = steps;
  int code = 0;
  try {
    code = run_training(opt, protocol, hooks);
  } catch (...) {
    std::filesystem::remove_all(scratch);
    throw;
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  if (code != 0) return code;  // run_training reported the error event
  if (int64_t(rates.size()) <= kWarmupSteps)
    throw EngineError("E_PROBE_SHORT",
                      "the run stopped after " + std::to_string(rates.size()) + " steps, too few to time (the first " +
                          std::to_string(kWarmupSteps) + " warm up)",
                      "give the probe a dataset with more documents, or a larger --epoch_steps");
  const std::vector<double> timed(rates.begin() + kWarmupSteps, rates.end());
  Json samples = Json::array();
  for (double r : timed) samples.push(r);
  Json config = Json::object();
  config.set("n_layer", int64_t(opt.n_layer));
  config.set("n_embd", int64_t(opt.n_embd));
  config.set("ctx_len", int64_t(opt.ctx_len));
  config.set("micro_bsz", int64_t(opt.micro_bsz));
  config.set("accumulate_grad_batches", int64_t(opt.accumulate_grad_batches));
  config.set("peft", peft);
  config.set("grad_cp", int64_t(opt.grad_cp ? 1 : 0));
  Json f = Json::object();
  f.set("tokens_per_s", median(timed));
  f.set("samples", samples);
  f.set("steps", int64_t(rates.size()));
  f.set("device", device);
  f.set("config", config);
  f.set("params", params);
  protocol.emit("probe", f);
  std::fprintf(stderr, "rwkv-train probe: %.0f tokens/s (median of %zu timed steps)\n", median(timed), timed.size());
  return 0;
}

const RegisterCommand kProbe("probe", "time a few steps of a run (no file written); prints a probe event", run_probe);

}  // namespace
}  // namespace rwkv::cli
