// Learning-rate schedules as each trainer computes them, from rwkvt/trick/lrs.py and the train
// callbacks of RWKV-PEFT (the older JL-er form and the newest) and RWKV-LM's
// RWKV-v7/train_temp/src/trainer.py (pretraining by my_exit_tokens). They differ in which step
// counts, what the warmup does and what the total is; tests/lr_schedule_test.cpp holds each to
// numbers computed from the trainers' own formulas.
#pragma once
#include <cstdint>
#include <string>

namespace rwkv {

enum class LrForm {
  PeftLegacy,  // JL-er/RWKV-PEFT: real_step; wsd takes --warmup_steps; no warmup factor
  Peft,        // the newest RWKV-PEFT: global_step; wsd warms up 100 steps; the warmup factor on top
  RwkvLm,      // RWKV-LM: token cosine (my_exit_tokens) by real_step; the warmup factor by global_step
};

struct LrSchedule {
  LrForm form = LrForm::PeftLegacy;
  std::string kind = "cos";   // cos / cos_decay: cosine from lr_init to lr_final; wsd: warmup+cosine to 0
  double lr_init = 6e-4, lr_final = 1e-5;
  // The cosine's length in the step it counts: epoch_steps * epoch_count / accumulate_grad_batches
  // (older RWKV-PEFT); epoch_steps * epoch_count, micro-batches, for the newest.
  int64_t total_steps = 0;
  int64_t warmup_steps = -1;
  // RWKV-LM pretraining: cosine by tokens towards my_exit_tokens (0 = off).
  int64_t my_exit_tokens = 0;
  int64_t tokens_per_step = 0;

  // `step`: RWKV's real_step (optimizer steps including epoch_begin * epoch_steps).
  // `launch_step`: optimizer steps taken since this launch began (Lightning's global_step),
  // which the warmup factor counts and the newest RWKV-PEFT's cosine too; -1 = `step`. RWKV-LM's
  // stage 3 restarts it at 0 when it continues from rwkv-N.pth, so each launch warms up again.
  double lr_at(int64_t step, int64_t launch_step = -1) const;
  // RWKV-LM: training ends when the token progress reaches 1.
  bool exit_reached(int64_t step) const;
};

}  // namespace rwkv
