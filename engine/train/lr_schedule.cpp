#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace rwkv {

static const double kPi = 3.14159265358979323846;

// RWKV-LM: (real_tokens - warmup_tokens) / (|my_exit_tokens| - warmup_tokens), clamped to [0, 1].
// warmup_steps is used as given: its default -1 makes warmup_tokens negative there too.
static double token_progress(const LrSchedule& s, int64_t step) {
  const double w = double(s.warmup_steps) * s.tokens_per_step;
  const double real = double(step) * s.tokens_per_step;
  const double exit = std::abs(double(s.my_exit_tokens));
  if (exit <= w) return real >= exit ? 1.0 : 0.0;  // (RWKV-LM divides by zero or a negative here)
  return std::clamp((real - w) / (exit - w), 0.0, 1.0);
}

// lrs.py's cos_decay.
static double cos_decay(double lr_init, double lr_final, int64_t step, int64_t total) {
  if (step >= total) return lr_final;
  return lr_final + 0.5 * (lr_init - lr_final) * (1 + std::cos(kPi * double(step) / double(total)));
}

// lrs.py's wsd; both RWKV-PEFTs pass 0 as its final lr.
static double wsd(double lr_init, int64_t step, int64_t total, int64_t warmup) {
  const int64_t w = warmup <= 0 ? 100 : warmup;
  if (step < w) return lr_init * double(step) / double(std::max<int64_t>(1, w));
  const double eff = double(step - w), eff_total = double(total - w);
  if (eff >= eff_total) return 0.0;
  return lr_init * 0.5 * (1 + std::cos(kPi * eff / eff_total));
}

double LrSchedule::lr_at(int64_t step, int64_t launch_step) const {
  const int64_t ws = launch_step < 0 ? step : launch_step;  // Lightning's global_step
  // The warmup factor of RWKV-LM's and the newest RWKV-PEFT's callbacks (not the older one's).
  auto warmed = [&](double lr) {
    return warmup_steps > 0 && ws < warmup_steps ? lr * (0.01 + 0.99 * double(ws) / double(warmup_steps)) : lr;
  };
  if (my_exit_tokens != 0) {
    const double f = lr_final / lr_init;
    return warmed(lr_init * ((0.5 + f / 2) + (0.5 - f / 2) * std::cos(kPi * token_progress(*this, step))));
  }
  const bool constant = lr_final == lr_init || total_steps <= 0;
  switch (form) {
    case LrForm::PeftLegacy:
      if (constant) return lr_init;
      return kind == "wsd" ? wsd(lr_init, step, total_steps, warmup_steps) : cos_decay(lr_init, lr_final, step, total_steps);
    case LrForm::Peft:  // counts global_step; its wsd call passes no warmup (lrs.py's 100)
      if (constant) return warmed(lr_init);
      return warmed(kind == "wsd" ? wsd(lr_init, ws, total_steps, 100) : cos_decay(lr_init, lr_final, ws, total_steps));
    case LrForm::RwkvLm:  // without my_exit_tokens RWKV-LM has no schedule (its lr is unbound): the cosine
      if (constant) return warmed(lr_init);
      return warmed(cos_decay(lr_init, lr_final, step, total_steps));
  }
  return lr_init;
}

bool LrSchedule::exit_reached(int64_t step) const {
  return my_exit_tokens != 0 && token_progress(*this, step) >= 1.0;
}

}  // namespace rwkv
