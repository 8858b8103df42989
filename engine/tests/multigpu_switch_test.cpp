// The multi-GPU path is off by default until it has run on GPUs: without
// RWKV_EXPERIMENTAL_MULTIGPU=1, --devices 2 / --num_nodes 2 are refused exactly as before, by the
// options (what the editor's checkRun runs) and by the real rwkv-train. With the switch: the CPU
// backend is refused (E_DIST_CPU), and the real binary launches its ranks and fails cleanly
// when NCCL is missing or broken (a stand-in NCCL that refuses everything): one `error`, `end`
// failed, within seconds, no rank left running.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/flags.h"
#include "core/json.h"
#include "tests/check.h"
#include "tests/protocol_check.h"
#include "train/train_options.h"

using namespace rwkv;

namespace {

std::vector<std::string> flags(const std::string& devices, const std::string& nodes, const std::string& accel) {
  return {"--load_model", "m.pth", "--data_file", "data", "--data_type", "binidx", "--n_layer", "2", "--n_embd", "64", "--vocab_size", "65536",
          "--ctx_len", "32", "--micro_bsz", "1", "--epoch_steps", "4", "--epoch_count", "1", "--accelerator", accel,
          "--devices", devices, "--num_nodes", nodes, "--proj_dir", "/tmp/rwkv_multigpu_switch_" + std::to_string(::getpid())};
}

std::string code_of(const std::vector<std::string>& argv, std::string* flag = nullptr) {
  try {
    train_options_from_flags(parse_flags(argv));
  } catch (const EngineError& e) {
    if (flag) *flag = e.flag;
    return e.code;
  }
  return "";
}

struct CliRun {
  std::vector<Json> events;
  int status = -1;
  double seconds = 0;
};

CliRun run_cli(const std::string& env, const std::vector<std::string>& argv) {
  std::string cmd = env + " " + RWKV_TRAIN_EXE;
  for (const auto& a : argv) cmd += " '" + a + "'";
  cmd += " 2>/dev/null";
  const auto t0 = std::chrono::steady_clock::now();
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[65536];
  while (p && std::fgets(buf, sizeof buf, p)) {
    std::string line = buf;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    try {
      r.events.push_back(Json::parse(line));
      CHECK_PROTOCOL_EVENT(r.events.back());
    } catch (const EngineError&) {
      CHECK(!"stdout carries only protocol lines");
    }
  }
  r.status = p ? ::pclose(p) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string first_error(const CliRun& r) {
  for (const Json& j : r.events)
    if (j.find("event")->as_string() == "error") return j.find("code")->as_string() + ": " + j.find("message")->as_string();
  return "";
}

}  // namespace

int main() {
  ::unsetenv("RWKV_EXPERIMENTAL_MULTIGPU");
  // Off: the refusals of a one-device build, naming the flag.
  std::string flag;
  CHECK(code_of(flags("2", "1", "gpu"), &flag) == "E_FLAG_UNSUPPORTED" && flag == "devices");
  CHECK(code_of(flags("1", "2", "gpu"), &flag) == "E_FLAG_UNSUPPORTED" && flag == "num_nodes");
  CHECK(code_of(flags("1", "1", "gpu")).empty());
  {
    const CliRun r = run_cli("env -u RWKV_EXPERIMENTAL_MULTIGPU", flags("2", "1", "gpu"));
    CHECK(first_error(r).rfind("E_FLAG_UNSUPPORTED: --devices 2", 0) == 0);
    CHECK(r.status != 0);
  }
  // On: several ranks, but never the CPU backend.
  ::setenv("RWKV_EXPERIMENTAL_MULTIGPU", "1", 1);
  CHECK(code_of(flags("2", "1", "gpu")).empty());
  CHECK(code_of(flags("2", "1", "cpu"), &flag) == "E_DIST_CPU" && flag == "devices");
  CHECK(code_of(flags("1", "3", "cpu"), &flag) == "E_DIST_CPU" && flag == "num_nodes");
  // --num_nodes 2 with no launcher's environment: E_DIST_ENV before anything starts
  {
    const CliRun r = run_cli("env -u RANK -u WORLD_SIZE -u SLURM_PROCID RWKV_EXPERIMENTAL_MULTIGPU=1",
                             flags("1", "2", "gpu"));
    CHECK(first_error(r).rfind("E_DIST_ENV", 0) == 0);
  }
  // The real launcher with a stand-in NCCL that refuses every call: rank 0 reports it, the
  // other rank (waiting for the id) is stopped, the run ends failed within seconds.
  {
    const std::string env = "env -u RANK -u WORLD_SIZE -u SLURM_PROCID RWKV_EXPERIMENTAL_MULTIGPU=1 RWKV_NCCL=" +
                            std::string(FAKE_NCCL_LIB) + " RWKV_DIST_GRACE_S=1 RWKV_DIST_RENDEZVOUS_TIMEOUT_S=20";
    const CliRun r = run_cli(env, flags("2", "1", "gpu"));
    const std::string e = first_error(r);
#ifdef RWKV_HAVE_CUDA
    CHECK(e.rfind("E_NCCL: ncclGetUniqueId failed: fake NCCL", 0) == 0);
#else
    CHECK(e.rfind("E_NO_CUDA", 0) == 0);
#endif
    CHECK(!r.events.empty() && r.events.back().find("event")->as_string() == "end" &&
          r.events.back().find("status")->as_string() == "failed");
    CHECK(r.status != 0);
    CHECK(r.seconds < 15);
    // no rank outlives the launcher
    const int left = std::system("pgrep -f 'rwkv_multigpu_[s]witch_' >/dev/null");
    CHECK(left != 0);
  }
  // NCCL nowhere: E_NO_NCCL from the launcher, before any rank starts.
  {
    const CliRun r = run_cli("env -u RANK -u WORLD_SIZE -u SLURM_PROCID RWKV_EXPERIMENTAL_MULTIGPU=1 RWKV_NCCL=/nonexistent/libnccl.so.2",
                             flags("2", "1", "gpu"));
    const std::string e = first_error(r);
#ifdef RWKV_HAVE_CUDA
    CHECK(e.rfind("E_NO_NCCL: RWKV_NCCL=/nonexistent/libnccl.so.2", 0) == 0);
#else
    CHECK(e.rfind("E_NO_CUDA", 0) == 0);
#endif
  }
  std::system(("rm -rf /tmp/rwkv_multigpu_switch_" + std::to_string(::getpid())).c_str());
  return rwkv_test::summary("multigpu_switch_test");
}
