// A one-line progress bar on stderr (the run protocol owns stdout): redrawn in place on a
// terminal, a line every few seconds when stderr is a pipe or file.
#pragma once
#include <chrono>
#include <cstdint>

namespace rwkv {

class ProgressBar {
 public:
  ProgressBar(bool enabled, int64_t total_steps);
  void update(int64_t step, double loss, double lr, double tokens_per_s);
  void done();

 private:
  bool enabled_, tty_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool printed_ = false;
};

}  // namespace rwkv
