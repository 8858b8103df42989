#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace rwkv {

static const double kPi = 3.14159265358979323846;

static double token_progress(const LrSchedule& s, int64_t step) {
  const double w = double(std::max<int64_t>(s.warmup_steps, 0)) * s.tokens_per_step;
  const double real = double(step) * s.tokens_per_step;
  const double exit = std::abs(double(s.my_exit_tokens));
  if (exit <= w) return real >= exit ? 1.0 : 0.0;  // (RWKV-LM divides by zero here)
  return std::clamp((real - w) / (exit - w), 0.0, 1.0);
}

double LrSchedule::lr_at(int64_t step, int64_t launch_step) const {
  const int64_t ws = launch_step < 0 ? step : launch_step;  // the warmup's step
  double lr;
  if (my_exit_tokens != 0) {
    const double f = lr_final / lr_init;
    const double mult = (0.5 + f / 2) + (0.5 - f / 2) * std::cos(kPi * token_progress(*this, step));
    lr = lr_init * mult;
    if (warmup_steps > 0 && ws < warmup_steps) lr *= 0.01 + 0.99 * double(ws) / warmup_steps;
    return lr;
  }
  if (lr_final == lr_init || total_steps <= 0) return lr_init;
  if (kind == "wsd") {
    const int64_t w = warmup_steps <= 0 ? 100 : warmup_steps;  // lrs.py's default
    if (step < w) return lr_init * double(step) / std::max<int64_t>(1, w);
    const double eff = double(step - w), total = double(total_steps - w);
    if (eff >= total) return 0.0;  // RWKV-PEFT passes final_lr = 0 to wsd
    return 0.5 * (1 + std::cos(kPi * eff / total)) * lr_init;
  }
  lr = step >= total_steps ? lr_final
                           : lr_final + 0.5 * (lr_init - lr_final) * (1 + std::cos(kPi * double(step) / total_steps));
  if (warmup_steps > 0 && ws < warmup_steps) lr *= 0.01 + 0.99 * double(ws) / warmup_steps;
  return lr;
}

bool LrSchedule::exit_reached(int64_t step) const {
  return my_exit_tokens != 0 && token_progress(*this, step) >= 1.0;
}

}  // namespace rwkv
