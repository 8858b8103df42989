// Who this process is in a data-parallel run, from --devices / --num_nodes (RWKV-LM's meaning:
// GPUs per machine, machines) and the environment a launcher set:
// - nothing set, --num_nodes 1: one machine; with --devices N > 1 this process is the launcher
//   and starts the N ranks itself (dist/launcher.h), 127.0.0.1, MASTER_PORT or a free port;
// - our own ranks: RWKV_DIST_CHILD=1 with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
//   MASTER_ADDR, MASTER_PORT (what the launcher gives each rank);
// - torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. With
//   --nproc_per_node = --devices every process is a rank; with --nproc_per_node 1 each is its
//   machine's launcher (machine = GROUP_RANK, else RANK) and starts --devices ranks;
// - SLURM (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID, SLURM_JOB_NODELIST;
//   --ntasks-per-node = --devices: every task is a rank; one task per node: each is its node's
//   launcher. MASTER_ADDR (else the first host of SLURM_JOB_NODELIST), MASTER_PORT (else 29500).
// - RWKV_DIST_NCCL_ONE=1 with --devices 1 --num_nodes 1: a rank of a world of one, so one GPU
//   runs the whole data-parallel path (the bit-for-bit check against the plain run).
// Anything that does not add up (WORLD_SIZE ≠ devices × num_nodes, --num_nodes > 1 with no
// launcher's environment, a rank out of range, a bad port) is EngineError E_DIST_ENV, saying
// which variable and how to start the run.
#pragma once
#include <functional>
#include <string>

namespace rwkv {

enum class DistRole {
  Single,        // one process trains alone (world size 1): no NCCL, exactly the one-GPU path
  NodeLauncher,  // starts this machine's --devices ranks and relays their output
  Rank,          // one rank of the world: trains on GPU local_rank
};

struct DistSetup {
  DistRole role = DistRole::Single;
  std::string source = "none";  // none | rwkv | torchrun | slurm
  int world_size = 1;
  int rank = 0;                 // global rank (Rank); the machine's first rank (NodeLauncher)
  int local_rank = 0;
  int local_world_size = 1;     // ranks on this machine (= --devices)
  int node_rank = 0;
  int num_nodes = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;          // 0: the launcher picks a free one (one machine only)
};

using EnvLookup = std::function<std::string(const std::string& name)>;  // "" when unset

DistSetup dist_setup(const EnvLookup& env, int devices, int num_nodes);

// The process environment as an EnvLookup.
EnvLookup process_env();

// The first host of a SLURM node list: "gpu[03-05,09],cpu1" -> "gpu03", "a,b" -> "a".
std::string slurm_first_host(const std::string& nodelist);

}  // namespace rwkv
