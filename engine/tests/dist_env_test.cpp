// dist/dist_env: which role a process takes from --devices / --num_nodes and the environment of
// rwkv-train's own launcher, torchrun (both of its shapes) and srun, and the E_DIST_ENV errors.
#include <map>

#include "check.h"
#include "core/errors.h"
#include "dist/dist_env.h"

using namespace rwkv;

namespace {
EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) { auto it = vars.find(n); return it == vars.end() ? std::string() : it->second; };
}
std::string error_of(const EnvLookup& e, int devices, int nodes) {
  try { dist_setup(e, devices, nodes); } catch (const EngineError& x) { return x.code + ": " + x.what(); }
  return "";
}
}  // namespace

int main() {
  // No launcher: one process alone, or the launcher of this machine's ranks.
  {
    const DistSetup one = dist_setup(env({}), 1, 1);
    CHECK(one.role == DistRole::Single && one.world_size == 1 && one.source == "none");
    const DistSetup four = dist_setup(env({}), 4, 1);
    CHECK(four.role == DistRole::NodeLauncher && four.world_size == 4 && four.local_world_size == 4);
    CHECK(four.master_addr == "127.0.0.1" && four.master_port == 0);
    CHECK(dist_setup(env({{"MASTER_PORT", "29511"}}), 2, 1).master_port == 29511);
    const std::string e = error_of(env({}), 8, 2);
    CHECK(e.rfind("E_DIST_ENV", 0) == 0 && e.find("torchrun") != std::string::npos);
  }
  // rwkv-train's own ranks.
  {
    const DistSetup r = dist_setup(env({{"RWKV_DIST_CHILD", "1"}, {"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "3"},
                                        {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "4000"}}),
                                   4, 1);
    CHECK(r.role == DistRole::Rank && r.rank == 3 && r.local_rank == 3 && r.world_size == 4 && r.source == "rwkv");
    CHECK(r.master_port == 4000);
    CHECK(error_of(env({{"RWKV_DIST_CHILD", "1"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}}), 4, 1).rfind("E_DIST_ENV", 0) == 0);
  }
  // torchrun --nnodes 2 --nproc_per_node 4: every process a rank; rank 5 is GPU 1 of machine 1.
  {
    const auto base = std::map<std::string, std::string>{{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                                         {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.1"},
                                                         {"MASTER_PORT", "29500"}};
    const DistSetup r = dist_setup(env(base), 4, 2);
    CHECK(r.role == DistRole::Rank && r.rank == 5 && r.local_rank == 1 && r.node_rank == 1 && r.world_size == 8);
    CHECK(r.source == "torchrun" && r.master_addr == "10.0.0.1" && r.master_port == 29500);
    // --devices that disagrees with --nproc_per_node
    auto lws = base;
    lws["LOCAL_WORLD_SIZE"] = "2";
    lws["WORLD_SIZE"] = "8";
    CHECK(error_of(env(lws), 4, 2).find("processes per machine") != std::string::npos);
    // WORLD_SIZE that is neither ranks nor machines
    auto ws = base;
    ws["WORLD_SIZE"] = "6";
    const std::string e = error_of(env(ws), 4, 2);
    CHECK(e.find("WORLD_SIZE=6") != std::string::npos && e.find("= 8") != std::string::npos);
    auto no_addr = base;
    no_addr.erase("MASTER_ADDR");
    CHECK(error_of(env(no_addr), 4, 2).find("MASTER_ADDR") != std::string::npos);
    auto bad_port = base;
    bad_port["MASTER_PORT"] = "70000";
    CHECK(error_of(env(bad_port), 4, 2).find("MASTER_PORT") != std::string::npos);
    auto bad_rank = base;
    bad_rank["RANK"] = "x1";
    CHECK(error_of(env(bad_rank), 4, 2).find("RANK=x1") != std::string::npos);
  }
  // torchrun --nnodes 2 --nproc_per_node 1: each process is its machine's launcher.
  {
    const DistSetup l = dist_setup(env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "1"},
                                        {"GROUP_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}}),
                                   4, 2);
    CHECK(l.role == DistRole::NodeLauncher && l.node_rank == 1 && l.rank == 4 && l.world_size == 8);
  }
  // srun --nodes 2 --ntasks-per-node 2: every task a rank; the master is the node list's first host.
  {
    const DistSetup r = dist_setup(env({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"},
                                        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"}}),
                                   2, 2);
    CHECK(r.role == DistRole::Rank && r.rank == 2 && r.local_rank == 0 && r.node_rank == 1 && r.source == "slurm");
    CHECK(r.master_addr == "gpu07" && r.master_port == 29500);
    // one task per node: the node's launcher
    const DistSetup l = dist_setup(env({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODEID", "1"},
                                        {"SLURM_JOB_NODELIST", "a,b"}, {"MASTER_PORT", "29600"}}),
                                   8, 2);
    CHECK(l.role == DistRole::NodeLauncher && l.node_rank == 1 && l.rank == 8 && l.master_addr == "a" && l.master_port == 29600);
    // a single-task job on one machine with --devices 1 is a plain run
    CHECK(dist_setup(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}), 1, 1).role == DistRole::Single);
  }
  // one GPU through the data-parallel path, for the bit-for-bit check
  {
    const DistSetup one = dist_setup(env({{"RWKV_DIST_NCCL_ONE", "1"}}), 1, 1);
    CHECK(one.role == DistRole::Rank && one.world_size == 1 && one.rank == 0);
    CHECK(dist_setup(env({{"RWKV_DIST_NCCL_ONE", "1"}}), 2, 1).role == DistRole::NodeLauncher);
  }
  CHECK(slurm_first_host("gpu[03-05,09],cpu1") == "gpu03");
  CHECK(slurm_first_host("node1") == "node1");
  CHECK(slurm_first_host("x[7]") == "x7");
  CHECK(error_of(env({}), 0, 1).rfind("E_DIST_ENV", 0) == 0);
  return rwkv_test::summary("dist_env_test");
}
