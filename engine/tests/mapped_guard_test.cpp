// core/mapped_guard.h (issue 14): a memory-mapped dataset that shrinks under a reader is an
// E_DATA_CHANGED error, never a SIGBUS. Reads of the binidx .bin and .idx go past a truncated
// end on purpose, without the check_unchanged a trainer makes first (the window between that
// check and the read is what the guard closes); a fault in a registered range outside any
// guarded read ends with the prepared `error` + `end` lines and exit status kExitMappedFault;
// a SIGBUS elsewhere keeps its old course (the previous handler, or the signal's death).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/mapped_guard.h"
#include "tests/check.h"
#include "tests/protocol_check.h"

using namespace rwkv;

namespace {

// Expects `stmt` to throw E_DATA_CHANGED whose message names `file`.
#define CHECK_DATA_CHANGED(stmt, file) do { bool _thrown = false; \
  try { stmt; } catch (const EngineError& _e) { _thrown = true; \
    CHECK(_e.code == std::string("E_DATA_CHANGED")); \
    CHECK(std::string(_e.what()).find(file) != std::string::npos); \
    CHECK(std::string(_e.hint).find("same command") != std::string::npos); } \
  CHECK(_thrown); } while (0)

// A file of `bytes` bytes mapped shared and read-only, as binidx maps its files.
const void* map_file_of(const std::string& path, size_t bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0 && ::ftruncate(fd, off_t(bytes)) == 0);
  void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  CHECK(p != MAP_FAILED);
  return p;
}

// Runs `child` in a forked process; returns its wait status.
template <typename F>
int in_child(F child) {
  const pid_t pid = ::fork();
  if (pid == 0) { child(); _exit(0); }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

extern "C" void previous_handler(int) { _exit(5); }

}  // namespace

int main() {
  const std::string dir = "/tmp/rwkv_mapped_guard_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  const long page = ::sysconf(_SC_PAGESIZE);

  // Before anything here installs the guard: a handler that was there first still gets every
  // SIGBUS that is not a fault in our ranges (the guard chains to it).
  {
    const int status = in_child([&] {
      struct sigaction sa = {};
      sa.sa_handler = previous_handler;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGBUS, &sa, nullptr);
      const void* ours = map_file_of(dir + "/ours", size_t(page) * 2);
      register_mapped_range(ours, size_t(page) * 2, dir + "/ours");
      const volatile char* other = static_cast<const volatile char*>(map_file_of(dir + "/other", size_t(page) * 2));
      if (::truncate((dir + "/other").c_str(), 0) != 0) _exit(9);
      (void)other[page];  // not a registered range
      _exit(0);
    });
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
  }

  // A binidx pair several pages long: 3000 documents of 40 uint16 tokens (.bin 240 KB, .idx 60 KB).
  const std::string prefix = dir + "/data";
  std::vector<std::vector<uint32_t>> docs(3000);
  for (size_t d = 0; d < docs.size(); ++d)
    for (uint32_t t = 0; t < 40; ++t) docs[d].push_back(uint32_t(d * 7 + t) % 65000);
  auto fresh = [&] {
    write_binidx(prefix, docs);
    return std::make_unique<BinIdxDataset>(prefix);
  };

  {  // .bin truncated under the mapping: token reads past its new end throw, reads before it work
    auto data = fresh();
    std::vector<uint32_t> out;
    data->read_tokens(100, 10, out);
    CHECK(out[0] == docs[2][20]);
    CHECK(::truncate((prefix + ".bin").c_str(), 100) == 0);
    CHECK_DATA_CHANGED(data->read_tokens(60000, 200, out), prefix + ".bin");
    CHECK_DATA_CHANGED(data->read_document(2999, out), prefix + ".bin");
    CHECK_DATA_CHANGED(check_token_ids(*data, 65536), prefix + ".bin");
    // what check_unchanged reports for the same file, as the trainer's check would have
    CHECK_THROWS_CODE(data->check_unchanged(), "E_DATA_CHANGED");
  }
  {  // .idx truncated: the index reads throw too
    auto data = fresh();
    CHECK(data->document_size(2999) == 40);
    CHECK(::truncate((prefix + ".idx").c_str(), 64) == 0);
    CHECK_DATA_CHANGED(data->document_size(2999), prefix + ".idx");
    CHECK_DATA_CHANGED((void)data->document_start(2999), prefix + ".idx");
    std::vector<uint32_t> out;
    CHECK_DATA_CHANGED(data->read_document(2999, out), prefix + ".idx");
  }
  {  // the same dataset, whole again, reads as before: nothing about a fault sticks
    auto data = fresh();
    std::vector<uint32_t> out;
    data->read_document(2999, out);
    CHECK(out.size() == 40 && out[39] == docs[2999][39]);
  }

  // A fault in a registered range outside run_guarded: the prepared last words on the report
  // fds, schema-valid, then exit status kExitMappedFault.
  {
    int fds[2];
    CHECK(::pipe(fds) == 0);
    const std::string path = dir + "/last \"words\".bin";  // a name that needs escaping
    const int status = in_child([&] {
      ::close(fds[0]);
      const volatile char* p = static_cast<const volatile char*>(map_file_of(path, size_t(page) * 4));
      register_mapped_range(const_cast<const char*>(p), size_t(page) * 4, path);
      set_mapped_fault_report({fds[1]});
      if (::truncate(path.c_str(), 0) != 0) _exit(9);
      (void)p[page * 2];
      _exit(0);
    });
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
    ::close(fds[0]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == kExitMappedFault);
    std::vector<Json> events;
    for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
      events.push_back(Json::parse(text.substr(at, nl - at)));
    CHECK(events.size() == 2);
    if (events.size() == 2) {
      for (const Json& e : events) rwkv_test::check_protocol_event(e, __FILE__, __LINE__);
      CHECK(events[0].find("event")->as_string() == "error");
      CHECK(events[0].find("code")->as_string() == "E_DATA_CHANGED");
      CHECK(events[0].find("message")->as_string().find(path) != std::string::npos);
      CHECK(events[1].find("event")->as_string() == "end");
      CHECK(events[1].find("status")->as_string() == "failed");
    }
  }

  // A SIGBUS outside our ranges with no earlier handler: still the signal's own death (a
  // core dump where enabled), not our report.
  {
    const int status = in_child([&] {
      const void* ours = map_file_of(dir + "/ours2", size_t(page));
      register_mapped_range(ours, size_t(page), dir + "/ours2");
      set_mapped_fault_report({1});
      const volatile char* other = static_cast<const volatile char*>(map_file_of(dir + "/other2", size_t(page) * 2));
      if (::truncate((dir + "/other2").c_str(), 0) != 0) _exit(9);
      (void)other[page];
      _exit(0);
    });
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
  }

  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("mapped_guard_test");
}
