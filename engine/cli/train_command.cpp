// The default command: `rwkv-train [train.py flags]` trains as RWKV-PEFT's / RWKV-LM's train.py
// would with the same flags. SIGINT/SIGTERM ask the trainer to stop at the next micro-batch
// boundary; it saves a resumable state and ends with status "stopped".
#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/proj_lock.h"
#include "core/protocol.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace rwkv::cli {
namespace {

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int sig) { g_stop.store(sig); }

int run_train(const std::vector<std::string>& args) {
  if (args.empty())
    throw EngineError("E_FLAG_VALUE", "no training flags given",
                      "pass train.py's flags, e.g. --load_model M.pth --data_file data/x --data_type binidx "
                      "--n_layer 12 --n_embd 768 --ctx_len 512 --accelerator cpu; see rwkv-train --help");
  const ParsedFlags flags = parse_flags(args);
  const TrainOptions opt = train_options_from_flags(flags);
  make_project_dir(opt.proj_dir);
  // One run per proj_dir, locked before metrics.jsonl is opened: a second run must not touch it.
  // RWKV-LM's prepare (--train_stage 1) writes one file atomically and leaves only rwkv-init.pth
  // in proj_dir, so it takes no lock.
  std::optional<ProjectLock> lock;
  if (opt.train_stage != 1) lock.emplace(opt.proj_dir);
  RunProtocol protocol(opt.train_stage == 1 ? std::string() : opt.proj_dir + "/metrics.jsonl");
  // A run killed mid-checkpoint (SIGKILL, OOM killer) leaves its temporary file behind; under
  // the lock nothing else writes here, so the dead writer's partial files go before they pile up.
  if (lock)
    for (const std::string& dir : {opt.proj_dir, opt.proj_dir + "-adapter"})
      for (const std::string& path : remove_stale_temp_files(dir))
        protocol.warning("W_STALE_TEMP_REMOVED", "removed " + path + ", the partial file of a run killed while saving");
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  TrainHooks hooks;
  hooks.stop_signal = &g_stop;
  const int code = run_training(opt, protocol, hooks);
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
