// See atomic_file.h.
#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"

namespace rwkv {

namespace {
const char kTempMarker[] = ".tmp-";  // NAME.tmp-PID: the temporary file of NAME
}

AtomicFile::AtomicFile(const std::string& final_path) : final_(final_path) {
  tmp_ = final_path + kTempMarker + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create");
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t got = ::write(fd_, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("cannot write");
    p += got;
    n -= static_cast<size_t>(got);
    offset_ += static_cast<uint64_t>(got);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot flush");
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("cannot close");
  if (::rename(tmp_.c_str(), final_.c_str()) != 0) fail("cannot rename into place");
  committed_ = true;
  const size_t slash = final_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : final_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { ::fsync(dfd); ::close(dfd); }  // makes the rename itself durable
}

void AtomicFile::fail(const char* what) {
  const int err = errno;
  std::string code = "E_IO_WRITE", hint = "check that the output folder exists and is writable";
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    code = "E_IO_DISK_FULL";
    hint = "free disk space (or raise the file size limit) or choose another output folder";
  } else if (err == EACCES || err == EROFS || err == EPERM) {
    code = "E_IO_PERMISSION";
    hint = "choose a folder you can write to";
  }
  throw EngineError(code, final_ + ": " + what + " (" + std::strerror(err) + ")", hint);
}

std::vector<std::string> remove_stale_temp_files(const std::string& dir) {
  std::vector<std::string> removed;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return removed;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const size_t at = name.rfind(kTempMarker);
    if (at == std::string::npos || at == 0) continue;
    const std::string digits = name.substr(at + sizeof kTempMarker - 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = pid_t(std::atol(digits.c_str()));
    // a live writer (this process, or another one that somehow writes here) keeps its file
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    const std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) == 0) removed.push_back(path);
  }
  ::closedir(d);
  return removed;
}

}  // namespace rwkv
