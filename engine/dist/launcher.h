// One machine's launcher: starts its --devices ranks (fork + exec of rwkv-train itself with
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
// RWKV_DIST_CHILD=1), and owns stdout for them:
// - global rank 0's stdout is the run's protocol stream, passed through line by line;
// - another rank's `error` event is passed on as an `error` with `rank` set and the message
//   prefixed "rank N: "; its other lines are dropped (rank 0 speaks for the run);
// - ranks other than rank 0 have their stderr prefixed "[rank N] "; rank 0's is the terminal's.
// When a rank fails (non-zero exit or a signal) the others get SIGTERM, then SIGKILL after the
// grace period, so no rank outlives the run; a rank killed by a signal is reported as
// E_DIST_RANK_DIED naming it. If rank 0's stream did not end with an `end` event, the launcher
// writes `end` failed. The ranks die with the launcher too (PR_SET_PDEATHSIG), so killing the
// launcher leaves no orphans. SIGINT/SIGTERM to the launcher are passed to every rank, which
// stop together at the next step (the trainer agrees on it over NCCL).
#pragma once
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

namespace rwkv {

struct LaunchSpec {
  std::vector<std::string> argv;  // each rank's program and arguments
  int ranks_here = 1;             // this machine's ranks (--devices)
  int first_rank = 0;             // the global rank of this machine's first rank
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;            // 0 (one machine): the launcher opens rank 0's socket on a free port
  int grace_ms = 30000;           // SIGTERM -> SIGKILL
  const std::atomic<int>* stop_signal = nullptr;  // set by the launcher's SIGINT/SIGTERM handler
  std::FILE* out = stdout;        // where the protocol lines go
  std::FILE* err = stderr;        // where other ranks' prefixed stderr goes
};

// Runs the ranks to the end. Returns the exit code: rank 0's, or the first failed rank's.
int run_ranks(const LaunchSpec& spec);

// The environment variable through which rank 0 receives the launcher's listening socket.
constexpr const char* kListenFdEnv = "RWKV_DIST_LISTEN_FD";

}  // namespace rwkv
