#include "core/proj_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/errors.h"

namespace rwkv {

ProjectLock::ProjectLock(const std::string& proj_dir) {
  const std::string path = proj_dir + "/.rwkv-train.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw EngineError("E_PROJ_DIR", "cannot create " + path + ": " + std::strerror(errno),
                      "check that --proj_dir is writable");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {0};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw EngineError("E_PROJ_DIR", "cannot lock " + path + ": " + std::strerror(err), "check --proj_dir");
    std::string who = n > 0 ? std::string(pid, size_t(n)) : std::string();
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    throw EngineError("E_PROJ_DIR_BUSY",
                      "another rwkv-train" + (who.empty() ? std::string() : " (pid " + who + ")") +
                          " is training in " + proj_dir,
                      "wait for it to end or stop it, or give this run another --proj_dir");
  }
  // The holder's pid, for the message a second run shows (the lock itself is the flock).
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
    (void)w;
  }
}

ProjectLock::~ProjectLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace rwkv
