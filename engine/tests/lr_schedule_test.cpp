// Learning-rate schedules against numbers computed outside this code base, not by re-deriving
// lr_schedule.cpp's own formula. Each table was printed by a python3 transcription of the
// trainers' code (written by reading the sources, then run once; the values are pasted as
// Python's repr):
//   older RWKV-PEFT  JL-er/RWKV-PEFT @5b8aac9: rwkvt/trick/lrs.py cos_decay/wsd, and
//                    rwkvt/lightning_train/trainer.py on_train_batch_start: real_step,
//                    total = epoch_steps*epoch_count//devices//accumulate_grad_batches,
//                    wsd(lr_init, 0, ..., warmup_steps=w_step), no warmup factor;
//   newest RWKV-PEFT Joluck/RWKV-PEFT @5704c39: the same lrs.py, called with global_step and
//                    total = num_training_batches*epoch_count, wsd without warmup_steps (its 100),
//                    then lr *= 0.01 + 0.99*global_step/w_step while global_step < w_step;
//   RWKV-LM          BlinkDL/RWKV-LM @524481d RWKV-v7/train_temp/src/trainer.py: progress =
//                    (real_step*ctx_len*real_bsz - w_step*ctx_len*real_bsz) /
//                    (|my_exit_tokens| - w_step*ctx_len*real_bsz) clamped to [0, 1],
//                    lr = lr_init*((0.5+f/2) + (0.5-f/2)*cos(pi*progress)), f = lr_final/lr_init,
//                    the same warmup factor by global_step; exit once progress >= 1.
#include <cstdint>

#include "tests/check.h"
#include "train/lr_schedule.h"

using namespace rwkv;

struct Point { int64_t step; double lr; };
struct LmPoint { int64_t real_step, global_step; double lr; bool exit; };

static void check_points(const LrSchedule& s, const Point* pts, size_t n, bool global_step_counts) {
  for (size_t i = 0; i < n; ++i) {
    // the older form counts real_step; the newest global_step (here: no epoch_begin, so both)
    const double got = global_step_counts ? s.lr_at(pts[i].step + 1000, pts[i].step) : s.lr_at(pts[i].step, pts[i].step);
    if (!rwkv_test::close(got, pts[i].lr, 1e-12, 1e-18))
      rwkv_test::fail(__FILE__, __LINE__, "step " + std::to_string(pts[i].step) + ": " + std::to_string(got) +
                                              " != " + std::to_string(pts[i].lr));
  }
}

#define CHECK_POINTS(s, pts, global) check_points((s), (pts), sizeof(pts) / sizeof((pts)[0]), (global))

static void older_peft() {
  LrSchedule cos;  // lr 1e-3 -> 1e-4, epoch_steps 20 x epoch_count 5, accumulation 1: total 100
  cos.form = LrForm::PeftLegacy;
  cos.lr_init = 1e-3;
  cos.lr_final = 1e-4;
  cos.total_steps = 100;
  cos.warmup_steps = 10;  // the older callback's cosine has no warmup
  const Point cos_pts[] = {{0, 0.001}, {5, 0.000994459753267812}, {25, 0.0008681980515339464}, {50, 0.00055},
                           {99, 0.00010022204783542078}, {100, 0.0001}, {150, 0.0001}};
  CHECK_POINTS(cos, cos_pts, false);
  cos.total_steps = 40 * 5 / 2;  // epoch_steps 40 x 5 with accumulate_grad_batches 2
  cos.warmup_steps = -1;
  const Point acc_pts[] = {{30, 0.0008145033635316131}, {75, 0.00023180194846605365}};
  CHECK_POINTS(cos, acc_pts, false);
  LrSchedule flat = cos;  // lr_final == lr_init: lr_init throughout
  flat.lr_final = flat.lr_init;
  CHECK_CLOSE(flat.lr_at(70), 1e-3, 1e-12);
  LrSchedule wsd;  // lr 2e-3 (the callback passes 0 as wsd's final lr), 40 x 5, warmup 20
  wsd.form = LrForm::PeftLegacy;
  wsd.kind = "wsd";
  wsd.lr_init = 2e-3;
  wsd.lr_final = 1e-5;
  wsd.total_steps = 200;
  wsd.warmup_steps = 20;
  const Point wsd_pts[] = {{0, 0.0}, {10, 0.001}, {20, 0.002}, {110, 0.001}, {199, 1.5230484360873042e-07}, {200, 0}};
  CHECK_POINTS(wsd, wsd_pts, false);
  wsd.warmup_steps = 0;  // lrs.py: warmup <= 0 means 100
  const Point wsd100_pts[] = {{50, 0.001}, {150, 0.001}};
  CHECK_POINTS(wsd, wsd100_pts, false);
}

static void newest_peft() {
  LrSchedule cos;  // 1e-3 -> 1e-4, 20 batches x 5 epochs, warmup 10 (the factor on top)
  cos.form = LrForm::Peft;
  cos.lr_init = 1e-3;
  cos.lr_final = 1e-4;
  cos.total_steps = 100;
  cos.warmup_steps = 10;
  const Point cos_pts[] = {{0, 1e-05}, {5, 0.000502202175400245}, {10, 0.0009779754323328191}, {50, 0.00055}};
  CHECK_POINTS(cos, cos_pts, true);  // real_step (1000 ahead) must not matter: global_step counts
  LrSchedule wsd;  // 2e-3, 40 batches x 5 epochs, --warmup_steps 20: wsd's own 100 and the factor
  wsd.form = LrForm::Peft;
  wsd.kind = "wsd";
  wsd.lr_init = 2e-3;
  wsd.lr_final = 1e-5;
  wsd.total_steps = 200;
  wsd.warmup_steps = 20;
  const Point wsd_pts[] = {{10, 0.000101}, {50, 0.001}, {150, 0.001}, {200, 0}};
  CHECK_POINTS(wsd, wsd_pts, true);
}

static void rwkv_lm() {
  LrSchedule lm;  // 6e-4 -> 6e-5, ctx_len 512 x real_bsz 1, my_exit_tokens 1000 * 512
  lm.form = LrForm::RwkvLm;
  lm.lr_init = 6e-4;
  lm.lr_final = 6e-5;
  lm.my_exit_tokens = 1000 * 512;
  lm.tokens_per_step = 512;
  lm.warmup_steps = 10;
  const LmPoint warm10[] = {{0, 0, 5.999999999999999e-06, false}, {5, 5, 0.000303, false}, {10, 10, 0.0006, false},
                            {500, 500, 0.00033428381023539814, false}, {999, 999, 6.000135944850122e-05, false},
                            {1000, 1000, 6.0000000000000015e-05, true},
                            // stage 3 continuing at epoch_begin 2 x epoch_steps 100: real_step 203, global_step 3
                            {203, 3, 0.00016913399160607944, false}};
  // --warmup_steps -1, RWKV-LM's default (stage 2 from rwkv-init.pth): the warmup tokens are negative
  const LmPoint warm_default[] = {{0, 0, 0.0005999986702652987, false}, {500, 500, 0.00032957630885697037, false},
                                  {999, 999, 6.0001329734701366e-05, false}, {1000, 1000, 6.0000000000000015e-05, true}};
  for (const LmPoint& p : warm10) {
    CHECK_CLOSE(lm.lr_at(p.real_step, p.global_step), p.lr, 1e-12);
    CHECK(lm.exit_reached(p.real_step) == p.exit);
  }
  lm.warmup_steps = -1;
  for (const LmPoint& p : warm_default) {
    CHECK_CLOSE(lm.lr_at(p.real_step, p.global_step), p.lr, 1e-12);
    CHECK(lm.exit_reached(p.real_step) == p.exit);
  }
}

int main() {
  older_peft();
  newest_peft();
  rwkv_lm();
  return rwkv_test::summary("lr_schedule_test");
}
