// Launcher or rank of a data-parallel run (see distributed_run.h).
#include "cli/distributed_run.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include "core/errors.h"
#include "core/proj_lock.h"
#include "core/protocol.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "dist/dist_env.h"
#include "dist/launcher.h"
#include "dist/nccl_loader.h"
#include "dist/rendezvous.h"
#include "train/trainer.h"

namespace rwkv::cli {
namespace {

int seconds_env(const char* name, int fallback) {
  const char* v = std::getenv(name);
  const int s = v ? std::atoi(v) : 0;
  return (s > 0 ? s : fallback) * 1000;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw EngineError("E_DIST_LAUNCH", "cannot find rwkv-train's own path to start the ranks", "");
  return std::string(buf, size_t(n));
}

int launch(const std::vector<std::string>& args, const DistSetup& d, const std::atomic<int>* stop) {
#ifndef RWKV_HAVE_CUDA
  throw EngineError("E_NO_CUDA", "training on several GPUs needs the CUDA backend, and this rwkv-train was built without it",
                    "build on a machine with nvcc, or train with --devices 1");
#endif
  process_nccl();  // one clear E_NO_NCCL here rather than one per rank
  LaunchSpec s;
  s.argv.push_back(self_exe());
  for (const auto& a : args) s.argv.push_back(a);
  s.ranks_here = d.local_world_size;
  s.first_rank = d.rank;
  s.world_size = d.world_size;
  s.master_addr = d.master_addr;
  s.master_port = d.master_port;
  s.grace_ms = seconds_env("RWKV_DIST_GRACE_S", 30);
  s.stop_signal = stop;
  return run_ranks(s);
}

int train_as_rank(const TrainOptions& opt, const DistSetup& d, const std::atomic<int>* stop) {
  const bool rank0 = d.rank == 0;
  // rank 0 speaks for the run and owns proj_dir; the others only report their errors
  std::optional<ProjectLock> lock;
  if (rank0) lock.emplace(opt.proj_dir);
  RunProtocol protocol(rank0 ? opt.proj_dir + "/metrics.jsonl" : std::string());
  protocol.set_errors_only(!rank0);
  std::unique_ptr<Communicator> comm;
  try {
#ifdef RWKV_HAVE_CUDA
    const int rendezvous_ms = seconds_env("RWKV_DIST_RENDEZVOUS_TIMEOUT_S", 300);
    const int collective_ms = seconds_env("RWKV_DIST_TIMEOUT_S", 300);
    UniqueIdBytes id{};
    if (rank0) {
      id = nccl_unique_id();
      const char* fd_env = std::getenv(kListenFdEnv);  // the launcher's socket (one machine)
      const int fd = fd_env && *fd_env ? std::atoi(fd_env) : listen_on_port(d.master_port, nullptr);
      // every rank has the id before rank 0 joins NCCL: the ranks' ncclCommInitRank waits for
      // rank 0's, and a rank that never came ends here, within the timeout, not in NCCL's init
      serve_unique_id(fd, d.world_size, id, rendezvous_ms);
    } else {
      id = fetch_unique_id(d.master_addr, d.master_port, d.rank, d.world_size, rendezvous_ms);
    }
    comm = make_nccl_communicator(d.rank, d.world_size, d.local_rank, id, collective_ms);
#else
    (void)d;
    throw EngineError("E_NO_CUDA", "training on several GPUs needs the CUDA backend, and this rwkv-train was built without it",
                      "build on a machine with nvcc, or train with --devices 1");
#endif
  } catch (const EngineError& e) {
    protocol.error(e.code, e.what(), e.hint);
    if (rank0) protocol.end("failed");
    return 2;
  }
  DataParallel dp(*comm, d.num_nodes, d.local_world_size);
  TrainHooks hooks;
  hooks.stop_signal = stop;
  hooks.dp = &dp;
  hooks.device = d.local_rank;
  hooks.progress_bar = rank0;
  const int code = run_training(opt, protocol, hooks);
  if (code != 0) comm->abort();  // the peers' next collective fails at once instead of timing out
  return code;
}

}  // namespace

int run_distributed(const std::vector<std::string>& args, const TrainOptions& opt, const std::atomic<int>* stop) {
  const DistSetup d = dist_setup(process_env(), opt.devices, opt.num_nodes);
  switch (d.role) {
    case DistRole::NodeLauncher: return launch(args, d, stop);
    case DistRole::Rank: return train_as_rank(opt, d, stop);
    case DistRole::Single: break;
  }
  throw EngineError("E_INTERNAL", "a world of one rank reached the data-parallel path", "");
}

}  // namespace rwkv::cli
