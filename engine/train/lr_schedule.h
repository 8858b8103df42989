// Learning-rate schedules as RWKV-PEFT (rwkvt/trick/lrs.py, its train callback) and RWKV-LM
// (pretraining by my_exit_tokens) compute them. `step` counts optimizer steps including
// epoch_begin * epoch_steps (RWKV's real_step).
#pragma once
#include <cstdint>
#include <string>

namespace rwkv {

struct LrSchedule {
  std::string kind = "cos";   // cos / cos_decay: cosine from lr_init to lr_final; wsd: warmup+cosine to 0
  double lr_init = 6e-4, lr_final = 1e-5;
  int64_t total_steps = 0;    // epoch_steps * epoch_count / accumulate_grad_batches
  int64_t warmup_steps = -1;
  // RWKV-LM pretraining: cosine by tokens towards my_exit_tokens (0 = off).
  int64_t my_exit_tokens = 0;
  int64_t tokens_per_step = 0;

  // `launch_step`: optimizer steps taken since this launch began (Lightning's global_step),
  // which the warmup factor of both trainers counts; -1 = `step`. RWKV-LM's stage 3 restarts
  // it at 0 when it continues from rwkv-N.pth, so each launch warms up again.
  double lr_at(int64_t step, int64_t launch_step = -1) const;
  // RWKV-LM: training ends when the token progress reaches 1.
  bool exit_reached(int64_t step) const;
};

}  // namespace rwkv
