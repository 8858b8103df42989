// One run per proj_dir (core/proj_lock.h): a second lock on a folder that is being trained in is
// refused with E_PROJ_DIR_BUSY naming the holder; the lock goes with its holder however it ends
// (SIGKILL included), so a killed run never blocks its resume.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/errors.h"
#include "core/proj_lock.h"
#include "tests/check.h"

namespace {

std::string busy_code(const std::string& dir, std::string* message = nullptr) {
  try {
    rwkv::ProjectLock second(dir);
  } catch (const rwkv::EngineError& e) {
    if (message) *message = e.what();
    return e.code;
  }
  return "";
}

}  // namespace

int main() {
  const std::string dir = "/tmp/rwkv_proj_lock_test_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0755);
  {
    rwkv::ProjectLock first(dir);
    std::string message;
    CHECK(busy_code(dir, &message) == "E_PROJ_DIR_BUSY");
    CHECK(message.find("pid " + std::to_string(::getpid())) != std::string::npos);
  }
  CHECK(busy_code(dir).empty());  // released with its holder

  // Another process holds it, then is killed: the lock goes with it.
  int ready[2];
  CHECK(::pipe(ready) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    rwkv::ProjectLock held(dir);
    const char c = 1;
    if (::write(ready[1], &c, 1) != 1) _exit(2);
    ::pause();
    _exit(0);
  }
  char c = 0;
  CHECK(::read(ready[0], &c, 1) == 1);
  std::string message;
  CHECK(busy_code(dir, &message) == "E_PROJ_DIR_BUSY");
  CHECK(message.find("pid " + std::to_string(child)) != std::string::npos);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(busy_code(dir).empty());

  // A proj_dir that cannot hold the lock file is E_PROJ_DIR, not a crash.
  try {
    rwkv::ProjectLock nowhere(dir + "/missing/sub");
    CHECK(false);
  } catch (const rwkv::EngineError& e) {
    CHECK(e.code == "E_PROJ_DIR");
  }
  std::remove((dir + "/.rwkv-train.lock").c_str());
  ::rmdir(dir.c_str());
  return rwkv_test::summary("proj_lock_test");
}
