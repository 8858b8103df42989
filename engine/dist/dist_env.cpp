// Who this process is in a data-parallel run (see dist_env.h).
#include "dist/dist_env.h"

#include <cstdlib>

#include "core/errors.h"

namespace rwkv {
namespace {

[[noreturn]] void bad(const std::string& message, const std::string& hint) {
  throw EngineError("E_DIST_ENV", message, hint);
}

// A non-negative integer variable; -1 when unset.
int int_var(const EnvLookup& env, const std::string& name) {
  const std::string v = env(name);
  if (v.empty()) return -1;
  if (v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    bad(name + "=" + v + " is not a non-negative integer", "check the launcher's environment");
  return std::atoi(v.c_str());
}

int port_var(const EnvLookup& env, int fallback) {
  const int p = int_var(env, "MASTER_PORT");
  if (p < 0) return fallback;
  if (p < 1 || p > 65535) bad("MASTER_PORT=" + env("MASTER_PORT") + " is not a TCP port", "use a port from 1024 to 65535");
  return p;
}

const char* const kHowToStart =
    "on each machine run the same command under torchrun (--nnodes M --nproc_per_node N, or "
    "--nproc_per_node 1 and rwkv-train starts the N ranks) or srun (--ntasks-per-node N, or 1), "
    "with --devices N --num_nodes M";

// A launcher whose every process is a rank, or one process per machine that starts the ranks.
DistSetup from_launcher(const std::string& source, int rank, int world, int local_rank, int local_world,
                        int node_rank, const std::string& rank_var, const std::string& world_var, int devices,
                        int num_nodes) {
  const int want = devices * num_nodes;
  DistSetup d;
  d.source = source;
  d.num_nodes = num_nodes;
  d.local_world_size = devices;
  if (rank < 0 || world < 0)
    bad(source + " sets " + (rank < 0 ? rank_var : world_var) + " but not " + (rank < 0 ? world_var : rank_var),
        kHowToStart);
  if (rank >= world) bad(rank_var + "=" + std::to_string(rank) + " is not below " + world_var + "=" + std::to_string(world), kHowToStart);
  if (world == want && want > 1) {  // every process is a rank
    if (local_world >= 0 && local_world != devices)
      bad(source + " starts " + std::to_string(local_world) + " processes per machine but --devices is " +
              std::to_string(devices), "give --devices the number of processes per machine");
    d.role = DistRole::Rank;
    d.world_size = world;
    d.rank = rank;
    d.local_rank = local_rank >= 0 ? local_rank : rank % devices;
    if (d.local_rank >= devices)
      bad("local rank " + std::to_string(d.local_rank) + " is not below --devices " + std::to_string(devices), kHowToStart);
    d.node_rank = rank / devices;
    return d;
  }
  if (world == num_nodes) {  // one process per machine: this machine's launcher (or a lone run)
    d.node_rank = node_rank >= 0 ? node_rank : rank;
    if (d.node_rank >= num_nodes)
      bad("machine " + std::to_string(d.node_rank) + " is not below --num_nodes " + std::to_string(num_nodes), kHowToStart);
    d.world_size = want;
    d.rank = d.node_rank * devices;
    d.role = want == 1 ? DistRole::Single : DistRole::NodeLauncher;
    return d;
  }
  bad(source + " has " + world_var + "=" + std::to_string(world) + ", but --devices " + std::to_string(devices) +
          " x --num_nodes " + std::to_string(num_nodes) + " = " + std::to_string(want) +
          " ranks (or one process per machine: " + std::to_string(num_nodes) + ")",
      "make --devices the GPUs per machine and --num_nodes the machines, as RWKV-LM's train.py reads them");
}

}  // namespace

std::string slurm_first_host(const std::string& list) {
  // up to the first top-level comma; a bracket range keeps its prefix and its first number
  std::string host;
  size_t i = 0;
  for (; i < list.size() && list[i] != ',' && list[i] != '['; ++i) host += list[i];
  if (i < list.size() && list[i] == '[') {
    ++i;
    while (i < list.size() && list[i] != '-' && list[i] != ',' && list[i] != ']') host += list[i++];
  }
  return host;
}

EnvLookup process_env() {
  return [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return std::string(v ? v : "");
  };
}

DistSetup dist_setup(const EnvLookup& env, int devices, int num_nodes) {
  if (devices < 1) bad("--devices " + std::to_string(devices) + " must be at least 1", "the GPUs to train on per machine");
  if (num_nodes < 1) bad("--num_nodes " + std::to_string(num_nodes) + " must be at least 1", "the machines to train on");
  const bool ours = env("RWKV_DIST_CHILD") == "1";
  const bool torchrun = !env("RANK").empty() || !env("WORLD_SIZE").empty();
  const bool slurm = !env("SLURM_PROCID").empty() && !env("SLURM_NTASKS").empty();
  DistSetup d;
  if (ours || torchrun) {
    const std::string source = ours ? "rwkv" : "torchrun";
    d = from_launcher(source, int_var(env, "RANK"), int_var(env, "WORLD_SIZE"), int_var(env, "LOCAL_RANK"),
                      int_var(env, "LOCAL_WORLD_SIZE"), int_var(env, "GROUP_RANK"), "RANK", "WORLD_SIZE", devices,
                      num_nodes);
    if (ours && d.role != DistRole::Rank)
      bad("RWKV_DIST_CHILD=1 but RANK/WORLD_SIZE do not describe a rank of --devices x --num_nodes",
          "rwkv-train sets these for the ranks it starts; do not set RWKV_DIST_CHILD yourself");
    d.master_addr = env("MASTER_ADDR");
    d.master_port = port_var(env, 0);
    if (d.role != DistRole::Single && (d.master_addr.empty() || d.master_port == 0)) {
      if (num_nodes == 1 && d.role == DistRole::NodeLauncher) {
        if (d.master_addr.empty()) d.master_addr = "127.0.0.1";
      } else {
        bad(source + " sets RANK and WORLD_SIZE but not " + std::string(d.master_addr.empty() ? "MASTER_ADDR" : "MASTER_PORT"),
            "set MASTER_ADDR (rank 0's machine) and MASTER_PORT (a free TCP port there) on every machine");
      }
    }
    return d;
  }
  if (slurm) {
    d = from_launcher("slurm", int_var(env, "SLURM_PROCID"), int_var(env, "SLURM_NTASKS"), int_var(env, "SLURM_LOCALID"),
                      -1, int_var(env, "SLURM_NODEID"), "SLURM_PROCID", "SLURM_NTASKS", devices, num_nodes);
    d.master_addr = env("MASTER_ADDR");
    if (d.master_addr.empty()) d.master_addr = slurm_first_host(env("SLURM_JOB_NODELIST"));
    if (d.master_addr.empty()) d.master_addr = num_nodes == 1 ? "127.0.0.1" : "";
    if (d.master_addr.empty() && d.role != DistRole::Single)
      bad("SLURM sets no SLURM_JOB_NODELIST and MASTER_ADDR is unset", "export MASTER_ADDR=<rank 0's host> in the job script");
    d.master_port = port_var(env, 29500);
    return d;
  }
  if (num_nodes > 1)
    bad("--num_nodes " + std::to_string(num_nodes) + " needs a launcher on every machine, and none set RANK/WORLD_SIZE "
        "(torchrun) or SLURM_PROCID/SLURM_NTASKS (srun)", kHowToStart);
  d.world_size = devices;
  d.local_world_size = devices;
  d.role = devices == 1 ? DistRole::Single : DistRole::NodeLauncher;
  d.master_port = port_var(env, 0);
  // One GPU through the whole data-parallel path (NCCL, buckets, ZeRO-1 over one rank): the
  // check that it changes nothing, bit for bit, against the plain one-GPU run.
  if (devices == 1 && env("RWKV_DIST_NCCL_ONE") == "1") {
    d.role = DistRole::Rank;
    d.source = "rwkv";
  }
  return d;
}

}  // namespace rwkv
