// The default command: `rwkv-train [train.py flags]` trains as RWKV-PEFT's / RWKV-LM's train.py
// would with the same flags. SIGINT/SIGTERM ask the trainer to stop at the next micro-batch
// boundary; it saves a resumable state and ends with status "stopped".
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/distributed_run.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/mapped_guard.h"
#include "core/proj_lock.h"
#include "core/protocol.h"
#include "dist/multigpu_switch.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace rwkv::cli {
namespace {

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int sig) { g_stop.store(sig); }

// The bad-step guard's own options (not train.py flags, so they come first):
// --guard on|off, --guard_grad_spike F, --guard_loss_spike F (0 = off), --guard_max_skips N.
std::vector<std::string> take_guard_options(const std::vector<std::string>& in, StepGuardOptions& g) {
  size_t i = 0;
  auto value = [&](const std::string& name) -> const std::string& {
    if (i + 1 >= in.size()) throw EngineError("E_FLAG_VALUE", name + " needs a value", "e.g. " + name + " 10");
    return in[++i];
  };
  auto number = [&](const std::string& name, double lo) {
    const std::string& v = value(name);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (!end || *end || !(x >= lo)) throw EngineError("E_FLAG_VALUE", name + " " + v + ": must be a number >= " + std::to_string(int(lo)), "");
    return x;
  };
  for (; i < in.size() && in[i].rfind("--guard", 0) == 0; ++i) {
    const std::string& name = in[i];
    if (name == "--guard") {
      const std::string& v = value(name);
      if (v != "on" && v != "off") throw EngineError("E_FLAG_VALUE", "--guard " + v + ": on or off", "");
      g.enabled = v == "on";
    } else if (name == "--guard_grad_spike") {
      g.grad_spike = number(name, 0);
    } else if (name == "--guard_loss_spike") {
      g.loss_spike = number(name, 0);
    } else if (name == "--guard_max_skips") {
      g.max_in_row = int(number(name, 1));
    } else {
      throw EngineError("E_FLAG_UNKNOWN", "unknown option " + name,
                        "the guard's options are --guard on|off, --guard_grad_spike, --guard_loss_spike, --guard_max_skips");
    }
  }
  return std::vector<std::string>(in.begin() + long(i), in.end());
}

int run_train(const std::vector<std::string>& all) {
  StepGuardOptions guard;
  const std::vector<std::string> args = take_guard_options(all, guard);
  if (args.empty())
    throw EngineError("E_FLAG_VALUE", "no training flags given",
                      "pass train.py's flags, e.g. --load_model M.pth --data_file data/x --data_type binidx "
                      "--n_layer 12 --n_embd 768 --ctx_len 512 --accelerator cpu; see rwkv-train --help");
  const ParsedFlags flags = parse_flags(args);
  const TrainOptions opt = train_options_from_flags(flags);
  make_project_dir(opt.proj_dir);
  struct sigaction stop_action = {};
  stop_action.sa_handler = on_stop_signal;
  sigemptyset(&stop_action.sa_mask);
  // Several ranks (behind RWKV_EXPERIMENTAL_MULTIGPU): a launcher or one rank (cli/distributed_run.h).
  // RWKV-LM's prepare step writes one file and needs no ranks.
  const bool nccl_one = multigpu_enabled() && std::getenv("RWKV_DIST_NCCL_ONE") && std::string(std::getenv("RWKV_DIST_NCCL_ONE")) == "1";
  if ((opt.devices * opt.num_nodes > 1 || nccl_one) && !opt.init_only()) {
    sigaction(SIGINT, &stop_action, nullptr);
    sigaction(SIGTERM, &stop_action, nullptr);
    return run_distributed(args, opt, &g_stop);
  }
  // One run per proj_dir, locked before metrics.jsonl is opened: a second run must not touch it.
  // RWKV-LM's prepare (--train_stage 1; RWKV-PEFT's --my_pile_stage 1) writes one file atomically and leaves only rwkv-init.pth
  // in proj_dir, so it takes no lock.
  std::optional<ProjectLock> lock;
  if (!opt.init_only()) lock.emplace(opt.proj_dir);
  RunProtocol protocol(opt.init_only() ? std::string() : opt.proj_dir + "/metrics.jsonl");
  // A run killed mid-checkpoint (SIGKILL, OOM killer) leaves its temporary file behind; under
  // the lock nothing else writes here, so the dead writer's partial files go before they pile up.
  if (lock)
    for (const std::string& dir : {opt.proj_dir, opt.proj_dir + "-adapter"})
      for (const std::string& path : remove_stale_temp_files(dir))
        protocol.warning("W_STALE_TEMP_REMOVED", "removed " + path + ", the partial file of a run killed while saving");
  // A data file that shrinks under its mapping where no guarded read can recover still ends
  // with an error event on these outputs, not a silent SIGBUS (core/mapped_guard.h).
  set_mapped_fault_report(protocol.output_fds());
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  TrainHooks hooks;
  hooks.stop_signal = &g_stop;
  hooks.guard = guard;
  if (const char* v = std::getenv("RWKV_TEST_NO_DATA_CHECK"); v && std::string(v) == "1") hooks.check_data = false;
  const int code = run_training(opt, protocol, hooks);
  set_mapped_fault_report({});  // the protocol's files close with it
  if (g_stop.load())
    std::fprintf(stderr, opt.continue_newest
                             ? "rwkv-train: stopped by signal %d; the same command continues from the newest rwkv-N.pth\n"
                             : "rwkv-train: stopped by signal %d; state saved for resume\n",
                 g_stop.load());
  return code;
}

const RegisterCommand kTrain("", "train with RWKV-PEFT / RWKV-LM train.py flags (the default)", run_train);

}  // namespace
}  // namespace rwkv::cli
