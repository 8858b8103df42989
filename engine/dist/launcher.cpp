// One machine's rank launcher (see launcher.h).
#include "dist/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/errors.h"
#include "core/json.h"
#include "dist/rendezvous.h"

extern char** environ;

namespace rwkv {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  int rank = 0;         // global rank
  pid_t pid = -1;
  int out_fd = -1;      // its stdout
  int err_fd = -1;      // its stderr (-1: inherited, rank 0)
  std::string out_buf, err_buf;
  bool exited = false;
  int status = 0;
};

std::string now_line(const std::string& event, Json fields) {
  Json line = Json::object();
  line.set("event", event);
  line.set("v", 1);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  line.set("time", double(int64_t(now * 1000)) / 1000.0);
  for (const auto& m : fields.members()) line.set(m.first, m.second);
  return line.dump() + "\n";
}

std::string seconds(int ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", ms / 1000.0);
  return buf;
}

void write_line(std::FILE* f, const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), f);
  std::fflush(f);
}

std::string error_line(int rank, const std::string& code, const std::string& message, const std::string& hint) {
  Json f = Json::object();
  f.set("code", code);
  f.set("message", "rank " + std::to_string(rank) + ": " + message);
  f.set("hint", hint);
  f.set("rank", int64_t(rank));
  return now_line("error", f);
}

class Launcher {
 public:
  explicit Launcher(const LaunchSpec& s) : s_(s) {}

  int run() {
    int listen_fd = -1, port = s_.master_port;
    if (s_.first_rank == 0 && port == 0) listen_fd = listen_on_port(0, &port);  // race-free: rank 0 inherits it
    for (int i = 0; i < s_.ranks_here; ++i) spawn(i, port, listen_fd);
    if (listen_fd >= 0) ::close(listen_fd);
    loop();
    if (seen_rank0_ && !rank0_ended_) write_line(s_.out, now_line("end", status_failed()));
    if (rank0_ended_) {
      std::string end = rank0_end_;
      if (failed_rank_ > 0) {
        try {
          Json j = Json::parse(end);
          j.set("status", "failed");
          end = j.dump();
        } catch (const EngineError&) {
        }
      }
      write_line(s_.out, end + "\n");
    }
    if (failed_rank_ >= 0) return failed_code_;
    for (const Child& c : children_)
      if (c.rank == 0) return exit_code(c.status);
    return 0;
  }

 private:
  static Json status_failed() {
    Json f = Json::object();
    f.set("status", "failed");
    return f;
  }
  static int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }

  void spawn(int local, int port, int listen_fd) {
    Child c;
    c.rank = s_.first_rank + local;
    int out[2], err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || (c.rank != 0 && ::pipe2(err, O_CLOEXEC) != 0))
      throw EngineError("E_DIST_LAUNCH", std::string("cannot create a pipe: ") + std::strerror(errno), "");
    // the environment is built before fork: the child only execs
    std::vector<std::string> env;
    const char* const ours[] = {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
                                "MASTER_PORT=", "RWKV_DIST_CHILD=", "RWKV_DIST_LISTEN_FD=", "GROUP_RANK="};
    for (char** e = environ; *e; ++e) {
      bool replaced = false;
      for (const char* o : ours) replaced |= std::strncmp(*e, o, std::strlen(o)) == 0;
      if (!replaced) env.push_back(*e);
    }
    env.push_back("RANK=" + std::to_string(c.rank));
    env.push_back("WORLD_SIZE=" + std::to_string(s_.world_size));
    env.push_back("LOCAL_RANK=" + std::to_string(local));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(s_.ranks_here));
    env.push_back("MASTER_ADDR=" + s_.master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back("RWKV_DIST_CHILD=1");
    if (c.rank == 0 && listen_fd >= 0) env.push_back(std::string(kListenFdEnv) + "=" + std::to_string(listen_fd));
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = s_.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw EngineError("E_DIST_LAUNCH", std::string("cannot start a rank: ") + std::strerror(errno), "");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the launcher's death takes its ranks with it
      if (::getppid() != parent) ::_exit(127);
      ::dup2(out[1], 1);
      if (err[1] >= 0) ::dup2(err[1], 2);
      if (c.rank == 0 && listen_fd >= 0) ::fcntl(listen_fd, F_SETFD, 0);  // inherited across exec
      // the launcher's SIGINT/SIGTERM handling is not the rank's: the rank installs its own
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::execve(argv[0], argv.data(), envp.data());
      const char msg[] = "rwkv-train: cannot start a rank (exec failed)\n";
      ssize_t ignored = ::write(2, msg, sizeof msg - 1);
      (void)ignored;
      ::_exit(127);
    }
    ::close(out[1]);
    if (err[1] >= 0) ::close(err[1]);
    c.pid = pid;
    c.out_fd = out[0];
    c.err_fd = err[0];
    if (c.rank == 0) seen_rank0_ = true;
    children_.push_back(std::move(c));
  }

  void on_stdout_line(Child& c, const std::string& line) {
    if (c.rank == 0) {
      // rank 0's end waits for the others: a run in which a rank failed ends failed
      if (line.find("\"event\":\"end\"") != std::string::npos) {
        rank0_ended_ = true;
        rank0_end_ = line;
      } else {
        write_line(s_.out, line + "\n");
      }
      return;
    }
    try {
      const Json j = Json::parse(line);
      const Json* ev = j.find("event");
      if (!ev || ev->kind() != Json::Kind::String || ev->as_string() != "error") return;
      auto str = [&](const char* k) {
        const Json* v = j.find(k);
        return v && v->kind() == Json::Kind::String ? v->as_string() : std::string();
      };
      write_line(s_.out, error_line(c.rank, str("code"), str("message"), str("hint")));
      reported_.push_back(c.rank);
    } catch (const EngineError&) {
      // not a protocol line: a rank's stdout carries only the protocol, so nothing is lost
    }
  }

  void on_stderr_line(Child& c, const std::string& line) {
    const std::string s = "[rank " + std::to_string(c.rank) + "] " + line + "\n";
    std::fwrite(s.data(), 1, s.size(), s_.err);
    std::fflush(s_.err);
  }

  // Reads what is there; false at end of file.
  bool drain(int fd, std::string& buf, Child& c, bool is_stdout) {
    char tmp[65536];
    const ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      if (!buf.empty()) { is_stdout ? on_stdout_line(c, buf) : on_stderr_line(c, buf); buf.clear(); }
      return false;
    }
    buf.append(tmp, size_t(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string line = buf.substr(start, nl - start);
      is_stdout ? on_stdout_line(c, line) : on_stderr_line(c, line);
    }
    buf.erase(0, start);
    return true;
  }

  void signal_all(int sig) {
    for (const Child& c : children_)
      if (!c.exited) ::kill(c.pid, sig);
  }

  void reap() {
    for (Child& c : children_) {
      if (c.exited) continue;
      int st = 0;
      const pid_t r = ::waitpid(c.pid, &st, WNOHANG);
      if (r != c.pid) continue;
      c.exited = true;
      c.status = st;
      const bool failed = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
      if (!failed) {
        if (c.rank == 0 && !terminating_) {  // rank 0 done: the others must follow within the grace period
          terminating_ = true;
          term_deadline_ = Clock::now() + std::chrono::milliseconds(s_.grace_ms);
          finished_ = true;
        }
        continue;
      }
      if (failed_rank_ < 0 && !stopping_by_us(c)) {
        failed_rank_ = c.rank;
        failed_code_ = exit_code(st) ? exit_code(st) : 2;
        failed_signal_ = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
      }
      if (!terminating_) {
        terminating_ = true;
        signal_all(SIGTERM);
        term_deadline_ = Clock::now() + std::chrono::milliseconds(s_.grace_ms);
      }
    }
  }
  bool stopping_by_us(const Child& c) const { return terminating_ && failed_rank_ >= 0 && c.rank != failed_rank_; }

  void loop() {
    bool forwarded_stop = false;
    while (true) {
      std::vector<pollfd> fds;
      std::vector<std::pair<Child*, bool>> who;
      for (Child& c : children_) {
        if (c.out_fd >= 0) { fds.push_back({c.out_fd, POLLIN, 0}); who.push_back({&c, true}); }
        if (c.err_fd >= 0) { fds.push_back({c.err_fd, POLLIN, 0}); who.push_back({&c, false}); }
      }
      bool all_exited = true;
      for (const Child& c : children_) all_exited &= c.exited;
      if (all_exited && fds.empty()) break;
      ::poll(fds.data(), fds.size(), 100);
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Child& c = *who[i].first;
        const bool is_out = who[i].second;
        int& fd = is_out ? c.out_fd : c.err_fd;
        if (!drain(fd, is_out ? c.out_buf : c.err_buf, c, is_out)) { ::close(fd); fd = -1; }
      }
      reap();
      if (s_.stop_signal && s_.stop_signal->load() && !forwarded_stop) {
        forwarded_stop = true;
        signal_all(SIGTERM);  // each rank stops cleanly; they agree on the step over NCCL
      }
      if (terminating_ && Clock::now() > term_deadline_) {
        if (finished_ && failed_rank_ < 0)  // rank 0 finished but a rank hangs on
          for (const Child& c : children_)
            if (!c.exited) { failed_rank_ = c.rank; failed_code_ = 2; hung_ = true; break; }
        signal_all(SIGKILL);
        term_deadline_ = Clock::now() + std::chrono::hours(1);
      }
      // a rank's pipes stay open after SIGKILL only through its own children; stop reading then
      if (all_exited) for (Child& c : children_) for (int* fd : {&c.out_fd, &c.err_fd}) if (*fd >= 0) {
        std::string& buf = fd == &c.out_fd ? c.out_buf : c.err_buf;
        while (drain(*fd, buf, c, fd == &c.out_fd)) {}
        ::close(*fd);
        *fd = -1;
      }
    }
    if (failed_rank_ >= 0 && failed_rank_ != 0) {
      bool reported = false;
      for (int r : reported_) reported |= r == failed_rank_;
      if (!reported) {
        const std::string why = hung_ ? "did not finish within " + seconds(s_.grace_ms) + " s of rank 0"
                                : failed_signal_ ? "was killed by signal " + std::to_string(failed_signal_) + " (" + ::strsignal(failed_signal_) + ")"
                                                 : "exited with code " + std::to_string(failed_code_) + " without an error event";
        write_line(s_.out, error_line(failed_rank_, "E_DIST_RANK_DIED", why + "; the other ranks were stopped",
                                      "see the rank's lines on stderr ([rank " + std::to_string(failed_rank_) +
                                          "]); out of memory (dmesg) or a lost machine are the usual causes"));
      }
    } else if (failed_rank_ == 0 && failed_signal_ && !rank0_ended_) {
      write_line(s_.out, error_line(0, "E_DIST_RANK_DIED",
                                    "was killed by signal " + std::to_string(failed_signal_) + " (" +
                                        ::strsignal(failed_signal_) + "); the other ranks were stopped",
                                    "out of memory (dmesg) is the usual cause"));
    }
  }

  const LaunchSpec& s_;
  std::vector<Child> children_;
  std::vector<int> reported_;   // ranks whose own error event was passed on
  bool seen_rank0_ = false, rank0_ended_ = false;
  std::string rank0_end_;
  bool terminating_ = false, finished_ = false, hung_ = false;
  Clock::time_point term_deadline_;
  int failed_rank_ = -1, failed_code_ = 0, failed_signal_ = 0;
};

}  // namespace

int run_ranks(const LaunchSpec& spec) {
  if (spec.argv.empty()) throw EngineError("E_DIST_LAUNCH", "no program to start as a rank", "");
  Launcher l(spec);
  return l.run();
}

}  // namespace rwkv
