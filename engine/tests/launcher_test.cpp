// dist/launcher with stand-in ranks (a /bin/sh script that reads the environment the launcher
// gives it): only rank 0's protocol lines reach stdout, another rank's error arrives naming the
// rank, a rank that dies takes the others down within the grace period (SIGTERM, then SIGKILL
// for one that ignores it), a run that lost a rank ends `failed`, a stop asked of the launcher
// reaches every rank and ends `stopped`, and no rank outlives the run.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "check.h"
#include "core/json.h"
#include "dist/launcher.h"
#include "protocol_check.h"

using namespace rwkv;

namespace {

std::string g_dir;

// The stand-in rank: writes its pid, then behaves as $MODE says for its $RANK.
const char* kRankScript = R"(#!/bin/sh
echo $$ > "$DIR/pid.$RANK"
emit() { printf '{"event":"%s","v":1,"time":1%s}\n' "$1" "$2"; }
case "$MODE" in
ok)
  if [ "$RANK" = 0 ]; then
    emit start ",\"world\":\"$WORLD_SIZE\",\"local\":\"$LOCAL_RANK/$LOCAL_WORLD_SIZE\",\"master\":\"$MASTER_ADDR:$MASTER_PORT\",\"child\":\"$RWKV_DIST_CHILD\",\"fd\":\"$RWKV_DIST_LISTEN_FD\""
    emit end ',"status":"completed"'
  else
    emit start ",\"rank\":$RANK"
    echo "rank $RANK says hello" >&2
  fi
  exit 0 ;;
rank1_error)
  if [ "$RANK" = 1 ]; then
    sleep 0.2
    emit error ',"code":"E_CUDA_OOM","message":"out of memory","hint":"lower --micro_bsz"'
    exit 2
  fi
  emit start ''
  trap 'emit end ",\"status\":\"stopped\""; exit 0' TERM
  while :; do sleep 0.05; done ;;
rank2_killed)
  if [ "$RANK" = 2 ]; then sleep 0.2; kill -9 $$; fi
  trap '' TERM
  while :; do sleep 0.05; done ;;
stoppable)
  trap 'if [ "$RANK" = 0 ]; then emit end ",\"status\":\"stopped\""; fi; exit 0' TERM
  [ "$RANK" = 0 ] && emit start ''
  while :; do sleep 0.05; done ;;
rank0_done_rank1_hangs)
  if [ "$RANK" = 0 ]; then emit end ',"status":"completed"'; exit 0; fi
  trap '' TERM
  while :; do sleep 0.05; done ;;
esac
)";

struct Outcome {
  int code = 0;
  std::vector<Json> lines;
  std::string err;
  double seconds = 0;
};

Outcome launch(const std::string& mode, int ranks, int grace_ms, const std::atomic<int>* stop = nullptr) {
  ::setenv("MODE", mode.c_str(), 1);
  ::setenv("DIR", g_dir.c_str(), 1);
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  LaunchSpec s;
  s.argv = {"/bin/sh", g_dir + "/rank.sh"};
  s.ranks_here = ranks;
  s.world_size = ranks;
  s.grace_ms = grace_ms;
  s.stop_signal = stop;
  s.out = out;
  s.err = err;
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o;
  o.code = run_ranks(s);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto slurp = [](std::FILE* f) {
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  };
  std::istringstream lines(slurp(out));
  for (std::string line; std::getline(lines, line);) {
    o.lines.push_back(Json::parse(line));
    // the launcher's own lines follow the protocol (the stand-in's start lines are not whole)
    const std::string ev = o.lines.back().find("event")->as_string();
    if (ev == "error" || ev == "end") CHECK_PROTOCOL_EVENT(o.lines.back());
  }
  o.err = slurp(err);
  return o;
}

std::string str(const Json& j, const char* k) {
  const Json* v = j.find(k);
  return v && v->kind() == Json::Kind::String ? v->as_string() : "";
}

// No rank of the last launch is alive.
bool no_survivors(int ranks) {
  for (int r = 0; r < ranks; ++r) {
    std::ifstream f(g_dir + "/pid." + std::to_string(r));
    int pid = 0;
    if (!(f >> pid) || pid <= 0) return false;
    if (::kill(pid, 0) == 0) return false;
  }
  return true;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/launcher_test.XXXXXX";
  g_dir = ::mkdtemp(tmpl);
  {
    std::ofstream f(g_dir + "/rank.sh");
    f << kRankScript;
  }

  // Three ranks that finish: rank 0's two lines only, with the environment each rank was given.
  {
    const Outcome o = launch("ok", 3, 2000);
    CHECK(o.code == 0);
    CHECK(o.lines.size() == 2);
    if (o.lines.size() == 2) {
      CHECK(str(o.lines[0], "event") == "start");
      CHECK(str(o.lines[0], "world") == "3");
      CHECK(str(o.lines[0], "local") == "0/3");
      CHECK(str(o.lines[0], "child") == "1");
      CHECK(str(o.lines[0], "master").rfind("127.0.0.1:", 0) == 0 && str(o.lines[0], "master") != "127.0.0.1:0");
      CHECK(!str(o.lines[0], "fd").empty());  // rank 0 got the launcher's listening socket
      CHECK(str(o.lines[1], "event") == "end" && str(o.lines[1], "status") == "completed");
    }
    CHECK(o.err.find("[rank 1] rank 1 says hello") != std::string::npos);
    CHECK(o.err.find("[rank 2] rank 2 says hello") != std::string::npos);
    CHECK(no_survivors(3));
  }

  // Rank 1 runs out of memory: its error arrives naming it, rank 0 is stopped, the run failed.
  {
    const Outcome o = launch("rank1_error", 2, 5000);
    CHECK(o.code == 2);
    bool forwarded = false;
    for (const Json& l : o.lines)
      if (str(l, "event") == "error" && str(l, "code") == "E_CUDA_OOM") {
        forwarded = true;
        CHECK(str(l, "message") == "rank 1: out of memory");
        CHECK(l.find("rank") && l.find("rank")->as_number() == 1);
        CHECK(str(l, "hint") == "lower --micro_bsz");
      }
    CHECK(forwarded);
    CHECK(!o.lines.empty() && str(o.lines.back(), "event") == "end" && str(o.lines.back(), "status") == "failed");
    CHECK(o.seconds < 4);  // rank 0 left on SIGTERM, not at the grace period's end
    CHECK(no_survivors(2));
  }

  // Rank 2 is killed (SIGKILL) and the others ignore SIGTERM: SIGKILL after the grace period.
  {
    const Outcome o = launch("rank2_killed", 3, 1000);
    CHECK(o.code == 128 + SIGKILL);
    bool died = false;
    for (const Json& l : o.lines)
      if (str(l, "event") == "error" && str(l, "code") == "E_DIST_RANK_DIED") {
        died = true;
        CHECK(str(l, "message").rfind("rank 2: was killed by signal 9", 0) == 0);
      }
    CHECK(died);
    CHECK(!o.lines.empty() && str(o.lines.back(), "event") == "end" && str(o.lines.back(), "status") == "failed");
    CHECK(o.seconds > 0.9 && o.seconds < 6);
    CHECK(no_survivors(3));
  }

  // A stop asked of the launcher (the editor's Stop: SIGTERM) reaches every rank: they end
  // cleanly, rank 0's `end` is `stopped`, the launcher exits 0.
  {
    std::atomic<int> stop{0};
    std::thread asker([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      stop.store(SIGTERM);
    });
    const Outcome o = launch("stoppable", 3, 5000, &stop);
    asker.join();
    CHECK(o.code == 0);
    CHECK(o.lines.size() == 2 && str(o.lines.back(), "event") == "end" && str(o.lines.back(), "status") == "stopped");
    CHECK(o.seconds < 3);
    CHECK(no_survivors(3));
  }

  // Rank 0 finishes but rank 1 hangs on: killed after the grace period and named.
  {
    const Outcome o = launch("rank0_done_rank1_hangs", 2, 800);
    CHECK(o.code == 2);
    bool hung = false;
    for (const Json& l : o.lines)
      if (str(l, "code") == "E_DIST_RANK_DIED" && str(l, "message").find("rank 1: did not finish") == 0) hung = true;
    CHECK(hung);
    CHECK(!o.lines.empty() && str(o.lines.back(), "status") == "failed");
    CHECK(no_survivors(2));
  }
  std::string cmd = "rm -rf " + g_dir;
  CHECK(std::system(cmd.c_str()) == 0);
  return rwkv_test::summary("launcher_test");
}
