#include "train/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace rwkv {

ProgressBar::ProgressBar(bool enabled, int64_t total_steps)
    : enabled_(enabled), tty_(::isatty(2) != 0), total_(total_steps),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

void ProgressBar::update(int64_t step, double loss, double lr, double tokens_per_s) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = step >= total_;
  if (!tty_ && !last && printed_ && now - last_print_ < std::chrono::seconds(5)) return;
  last_print_ = now;
  printed_ = true;
  const int width = 30;
  const double frac = total_ > 0 ? std::min(1.0, double(step) / double(total_)) : 0.0;
  const int fill = int(frac * width + 0.5);
  const std::string bar = std::string(size_t(fill), '#') + std::string(size_t(width - fill), '.');
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = frac > 0 ? elapsed / frac - elapsed : 0.0;
  std::fprintf(stderr, "%s[%s] %lld/%lld loss %.4f lr %.2e %.0f tok/s %.0fs<%.0fs%s", tty_ ? "\r" : "",
               bar.c_str(), (long long)step, (long long)total_, loss, lr, tokens_per_s, elapsed, eta,
               tty_ ? "\x1b[K" : "\n");
  std::fflush(stderr);
}

void ProgressBar::done() {
  if (enabled_ && tty_ && printed_) std::fputc('\n', stderr);
}

}  // namespace rwkv
