#include "train/step_guard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace rwkv {

double StepGuard::median(std::deque<double> v) {
  std::vector<double> s(v.begin(), v.end());
  std::nth_element(s.begin(), s.begin() + s.size() / 2, s.end());
  return s[s.size() / 2];
}

std::string StepGuard::judge(double loss, double grad_norm) {
  std::string why;
  char buf[160];
  if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
    why = std::string("the ") + (std::isfinite(loss) ? "gradient norm" : "loss") + " is " +
          (std::isnan(std::isfinite(loss) ? grad_norm : loss) ? "NaN" : "infinite");
  } else if (o_.enabled && int(norms_.size()) >= o_.warmup) {
    const double mn = median(norms_), ml = median(losses_);
    if (o_.grad_spike > 0 && grad_norm > o_.grad_spike * mn) {
      std::snprintf(buf, sizeof buf, "the gradient norm %.4g is %.1fx the median %.4g of the last %zu steps", grad_norm,
                    grad_norm / mn, mn, norms_.size());
      why = buf;
    } else if (o_.loss_spike > 0 && loss > o_.loss_spike * ml) {
      std::snprintf(buf, sizeof buf, "the loss %.4g is %.1fx the median %.4g of the last %zu steps", loss, loss / ml, ml,
                    losses_.size());
      why = buf;
    }
  }
  if (!why.empty()) {
    ++in_row_;
    return why;
  }
  in_row_ = 0;
  losses_.push_back(loss);
  norms_.push_back(grad_norm);
  while (int(losses_.size()) > std::max(o_.window, 1)) {
    losses_.pop_front();
    norms_.pop_front();
  }
  return "";
}

}  // namespace rwkv
