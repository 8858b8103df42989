// The bad-step guard: a step whose loss or gradient norm is not finite, or spikes against the
// running median of the last steps, is not applied. The check runs after the backward and before
// the optimizer, so skipping it leaves the weights and the AdamW state exactly as they were: the
// gradients are dropped and the batch is not trained on (no copy of the weights is needed).
// Too many bad steps in a row stop the run with E_TRAIN_NAN.
#pragma once
#include <cstdint>
#include <deque>
#include <string>

namespace rwkv {

struct StepGuardOptions {
  bool enabled = true;
  // Spikes are judged conservatively: every skipped step is one the Python trainers would have
  // applied (clipped), so only what looks like a blow-up counts. The CPU demo's largest early
  // gradient norm was 25.9x the median of the 20 steps before it, at step 21 of its warm-up.
  double grad_spike = 50.0;  // skip when grad_norm > this x the running median (0 = off)
  double loss_spike = 3.0;   // skip when loss > this x the running median (0 = off)
  int window = 50;           // steps the medians are taken over
  int warmup = 100;          // steps seen before spikes are judged (the loss falls fastest early)
  int max_in_row = 5;        // bad steps in a row before the run stops
};

class StepGuard {
 public:
  explicit StepGuard(const StepGuardOptions& o) : o_(o) {}
  // "" when the step may be applied, else why not (for the warning). A good step enters the
  // medians; a bad one counts towards max_in_row.
  std::string judge(double loss, double grad_norm);
  // Bad steps in a row so far (0 after a good step).
  int in_row() const { return in_row_; }
  const StepGuardOptions& options() const { return o_; }

 private:
  static double median(std::deque<double> v);
  StepGuardOptions o_;
  std::deque<double> losses_, norms_;
  int in_row_ = 0;
};

}  // namespace rwkv
