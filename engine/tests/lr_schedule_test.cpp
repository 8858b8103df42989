// Learning-rate schedules against values computed by hand from RWKV-PEFT's lrs.py / train
// callback and RWKV-LM's token cosine.
#include <cmath>

#include "tests/check.h"
#include "train/lr_schedule.h"

using namespace rwkv;

int main() {
  const double pi = 3.14159265358979323846;
  LrSchedule cos;
  cos.lr_init = 1e-3;
  cos.lr_final = 1e-4;
  cos.total_steps = 100;
  CHECK_CLOSE(cos.lr_at(0), 1e-3, 1e-12);
  CHECK_CLOSE(cos.lr_at(50), 1e-4 + 0.5 * 9e-4 * (1 + std::cos(pi * 0.5)), 1e-12);
  CHECK_CLOSE(cos.lr_at(25), 1e-4 + 0.5 * 9e-4 * (1 + std::cos(pi * 0.25)), 1e-12);
  CHECK_CLOSE(cos.lr_at(100), 1e-4, 1e-12);
  CHECK_CLOSE(cos.lr_at(150), 1e-4, 1e-12);
  cos.warmup_steps = 10;  // RWKV's warmup factor 0.01 + 0.99 * step / warmup
  CHECK_CLOSE(cos.lr_at(5), (1e-4 + 0.5 * 9e-4 * (1 + std::cos(pi * 0.05))) * (0.01 + 0.99 * 0.5), 1e-12);
  LrSchedule flat = cos;
  flat.lr_final = flat.lr_init;  // lr_final == lr_init: constant, as the callback does
  flat.warmup_steps = -1;
  CHECK_CLOSE(flat.lr_at(70), 1e-3, 1e-12);
  LrSchedule wsd;
  wsd.kind = "wsd";
  wsd.lr_init = 2e-3;
  wsd.lr_final = 1e-5;  // RWKV-PEFT passes 0 as wsd's final lr
  wsd.total_steps = 200;
  wsd.warmup_steps = 20;
  CHECK_CLOSE(wsd.lr_at(10), 2e-3 * 10 / 20, 1e-12);
  CHECK_CLOSE(wsd.lr_at(20), 2e-3, 1e-12);
  CHECK_CLOSE(wsd.lr_at(110), 2e-3 * 0.5 * (1 + std::cos(pi * 90 / 180)), 1e-12);
  CHECK_CLOSE(wsd.lr_at(200), 0.0, 1e-12);
  wsd.warmup_steps = 0;  // lrs.py: warmup <= 0 means 100
  CHECK_CLOSE(wsd.lr_at(50), 2e-3 * 0.5, 1e-12);
  LrSchedule lm;  // RWKV-LM pretraining: cosine by tokens towards my_exit_tokens
  lm.lr_init = 6e-4;
  lm.lr_final = 6e-5;
  lm.my_exit_tokens = 1000 * 512;
  lm.tokens_per_step = 512;
  lm.warmup_steps = 0;
  const double f = 0.1;
  CHECK_CLOSE(lm.lr_at(0), 6e-4, 1e-12);
  CHECK_CLOSE(lm.lr_at(500), 6e-4 * ((0.5 + f / 2) + (0.5 - f / 2) * std::cos(pi * 0.5)), 1e-12);
  CHECK_CLOSE(lm.lr_at(1000), 6e-5, 1e-12);
  CHECK(!lm.exit_reached(999));
  CHECK(lm.exit_reached(1000));
  return rwkv_test::summary("lr_schedule_test");
}
