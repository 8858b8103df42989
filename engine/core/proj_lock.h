// One training run per proj_dir: a second rwkv-train pointed at a folder another one is training
// in would interleave metrics.jsonl and overwrite its checkpoints. The lock is an flock on
// proj_dir/.rwkv-train.lock held for the life of the run; the kernel drops it when the process
// ends in any way (SIGKILL and crashes included), so a stale lock never blocks a resume.
#pragma once
#include <string>

namespace rwkv {

class ProjectLock {
 public:
  // Throws EngineError E_PROJ_DIR_BUSY (naming the other run's pid) when another process holds
  // the lock, E_PROJ_DIR when the lock file cannot be created.
  explicit ProjectLock(const std::string& proj_dir);
  ~ProjectLock();
  ProjectLock(const ProjectLock&) = delete;
  ProjectLock& operator=(const ProjectLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace rwkv
