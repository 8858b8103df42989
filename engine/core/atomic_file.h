// Files written atomically (checkpoints, datasets): data goes to a temporary file in the same
// folder, is fsynced and renamed over the destination, so a crash or a full disk leaves the
// previous file or the complete new one, never a torn one. Failures are EngineError(E_IO_*).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& final_path);  // creates the temporary file
  ~AtomicFile();                                        // removes it unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  uint64_t offset() const { return offset_; }           // bytes written so far
  void write(const void* data, size_t n);
  void write(const std::vector<uint8_t>& b) { write(b.data(), b.size()); }
  void commit();                                        // fsync, rename, fsync the folder
  const std::string& temporary_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const char* what);
  std::string final_, tmp_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Removes the temporary files (NAME.tmp-PID) that a writer killed mid-write (SIGKILL, power
// loss) left in `dir`, when that PID is no longer running; returns their paths. Only safe while
// no other process writes into `dir` (the trainer holds proj_dir's lock when it calls this).
std::vector<std::string> remove_stale_temp_files(const std::string& dir);

}  // namespace rwkv
