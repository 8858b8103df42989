// SIGBUS from shrunken file mappings: recovery inside run_guarded, last words elsewhere. See
// mapped_guard.h. Everything the handler touches is async-signal-safe: fixed arrays of
// atomics, sigsetjmp/siglongjmp, clock_gettime, write and _exit.
#include "core/mapped_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace rwkv {
namespace {

constexpr int kSlots = 256;
constexpr size_t kPathJson = 512;  // a file name, JSON-escaped, for the last-words message

struct Slot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<size_t> len{0};
  char path_json[kPathJson] = {};
};
Slot g_slots[kSlots];

constexpr int kMaxFds = 4;
std::atomic<int> g_fds[kMaxFds] = {{-1}, {-1}, {-1}, {-1}};

struct sigaction g_previous;
std::once_flag g_installed;

// The recovery point of the thread inside run_guarded (null outside it). Set before the
// guarded code runs, so its thread-local storage exists before any fault can read it.
thread_local sigjmp_buf* t_recover = nullptr;

// The slot whose range holds `addr`, or -1.
int slot_of(uintptr_t addr) {
  for (int i = 0; i < kSlots; ++i) {
    const uintptr_t b = g_slots[i].begin.load(std::memory_order_acquire);
    const size_t n = g_slots[i].len.load(std::memory_order_acquire);
    if (b && n && addr >= b && addr - b < n) return i;
  }
  return -1;
}

void put(char* buf, size_t cap, size_t& at, const char* s, size_t n) {
  if (n > cap - at) n = cap - at;
  std::memcpy(buf + at, s, n);
  at += n;
}
void put(char* buf, size_t cap, size_t& at, const char* s) { put(buf, cap, at, s, std::strlen(s)); }

// "1712345678.123": unix seconds with milliseconds, as the protocol writes `time`.
void put_time(char* buf, size_t cap, size_t& at) {
  struct timespec ts = {};
  clock_gettime(CLOCK_REALTIME, &ts);
  char digits[32];
  int n = 0;
  uint64_t s = uint64_t(ts.tv_sec);
  do { digits[n++] = char('0' + s % 10); s /= 10; } while (s && n < 20);
  char out[40];
  int k = 0;
  while (n) out[k++] = digits[--n];
  const long ms = ts.tv_nsec / 1000000;
  out[k++] = '.';
  out[k++] = char('0' + ms / 100);
  out[k++] = char('0' + ms / 10 % 10);
  out[k++] = char('0' + ms % 10);
  put(buf, cap, at, out, size_t(k));
}

void write_all(int fd, const char* p, size_t n) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return;  // nothing else can be done for this output
    p += w;
    n -= size_t(w);
  }
}

// A fault in our mapping that nothing can recover from: say so on the protocol's outputs.
[[noreturn]] void last_words(int slot) {
  static char line[2048];
  size_t at = 0;
  const size_t cap = sizeof line;
  put(line, cap, at, "{\"event\":\"error\",\"v\":1,\"time\":");
  put_time(line, cap, at);
  put(line, cap, at, ",\"code\":\"E_DATA_CHANGED\",\"message\":\"");
  put(line, cap, at, g_slots[slot].path_json);
  put(line, cap, at, " shrank while this run was reading it (a read past its new end raised SIGBUS)\",\"hint\":\""
                     "the last checkpoint written is intact; put the file back and run the same command to continue "
                     "from it, or start over with another --proj_dir; write new data under a new name\"}\n"
                     "{\"event\":\"end\",\"v\":1,\"time\":");
  put_time(line, cap, at);
  put(line, cap, at, ",\"status\":\"failed\"}\n");
  for (auto& fd : g_fds) {
    const int f = fd.load(std::memory_order_acquire);
    if (f >= 0) write_all(f, line, at);
  }
  static const char human[] = "rwkv-train: error E_DATA_CHANGED: a memory-mapped data file shrank under the run\n";
  write_all(2, human, sizeof human - 1);
  _exit(kExitMappedFault);
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const int slot = info ? slot_of(reinterpret_cast<uintptr_t>(info->si_addr)) : -1;
  if (slot >= 0) {
    if (t_recover) siglongjmp(*t_recover, 1);
    bool report = false;
    for (auto& fd : g_fds) report = report || fd.load(std::memory_order_acquire) >= 0;
    if (report) last_words(slot);
  }
  // Not ours (or no one to tell): what was there before. SIG_DFL / SIG_IGN: put it back and
  // return, so the faulting instruction runs again and the signal takes its usual course.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) { g_previous.sa_sigaction(sig, info, ctx); return; }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler) {
    g_previous.sa_handler(sig);
    return;
  }
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
}

void install() {
  struct sigaction sa = {};
  sa.sa_sigaction = on_sigbus;
  sigemptyset(&sa.sa_mask);
  // SA_NODEFER: SIGBUS stays unblocked in the handler, so siglongjmp out of it (without saving
  // the signal mask in sigsetjmp, which would cost a system call per guarded read) leaves the
  // mask as it was and the next fault is delivered again.
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGBUS, &sa, &g_previous);
}

void escape_into(const std::string& s, char* out, size_t cap) {
  size_t at = 0;
  for (unsigned char c : s) {
    char tmp[8];
    size_t n = 0;
    if (c == '"' || c == '\\') { tmp[n++] = '\\'; tmp[n++] = char(c); }
    else if (c < 0x20) {
      static const char hex[] = "0123456789abcdef";
      tmp[n++] = '\\'; tmp[n++] = 'u'; tmp[n++] = '0'; tmp[n++] = '0';
      tmp[n++] = hex[c >> 4]; tmp[n++] = hex[c & 15];
    } else tmp[n++] = char(c);
    if (at + n + 1 > cap) break;
    std::memcpy(out + at, tmp, n);
    at += n;
  }
  out[at] = 0;
}

}  // namespace

void register_mapped_range(const void* base, size_t len, const std::string& path) {
  if (!base || !len) return;
  std::call_once(g_installed, install);
  for (auto& s : g_slots) {
    uintptr_t expected = 0;
    // claim the slot with a marker first (its zero length matches no address), so the
    // handler never sees a half-written one
    if (s.begin.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      escape_into(path, s.path_json, kPathJson);
      s.begin.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
      s.len.store(len, std::memory_order_release);  // last: a zero length matches nothing
      return;
    }
  }
}

void unregister_mapped_range(const void* base) {
  if (!base) return;
  for (auto& s : g_slots)
    if (s.begin.load(std::memory_order_acquire) == reinterpret_cast<uintptr_t>(base)) {
      s.len.store(0, std::memory_order_release);
      s.begin.store(0, std::memory_order_release);
      return;
    }
}

bool run_guarded(void (*fn)(void*), void* arg) {
  sigjmp_buf here;
  sigjmp_buf* const outer = t_recover;
  if (sigsetjmp(here, 0) != 0) {
    t_recover = outer;
    return false;
  }
  t_recover = &here;
  fn(arg);
  t_recover = outer;
  return true;
}

void set_mapped_fault_report(const std::vector<int>& fds) {
  for (int i = 0; i < kMaxFds; ++i)
    g_fds[i].store(i < int(fds.size()) ? fds[size_t(i)] : -1, std::memory_order_release);
}

}  // namespace rwkv
