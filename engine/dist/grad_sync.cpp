// The bucketed, overlapped gradient all-reduce (see grad_sync.h).
#include "dist/grad_sync.h"

namespace rwkv {

GradSync::GradSync(BucketPlan plan, const TrainableView& view, Communicator& comm)
    : plan_(std::move(plan)), view_(view), comm_(comm) {}

void GradSync::arm() {
  armed_ = true;
  next_ = 0;
  early_now_ = 0;
  pending_.clear();
  for (const auto& b : plan_.buckets) pending_.push_back(int(b.tensors.size()));
}

void GradSync::grad_ready(int tensor) {
  if (!armed_ || tensor < 0 || size_t(tensor) >= plan_.bucket_of.size()) return;
  --pending_[size_t(plan_.bucket_of[size_t(tensor)])];
  launch_ready();
}

void GradSync::launch_ready() {
  while (next_ < plan_.buckets.size() && pending_[next_] <= 0) {
    std::vector<FloatSpan> spans;
    for (int t : plan_.buckets[next_].tensors) spans.push_back({view_.grad[size_t(t)], view_.numel[size_t(t)]});
    comm_.all_reduce_sum_async(spans);
    ++next_;
    ++early_now_;
  }
}

void GradSync::finish() {
  if (!armed_) arm();  // a backend without the hook: everything is finished now
  const int early = early_now_;
  for (size_t b = 0; b < pending_.size(); ++b) pending_[b] = 0;
  launch_ready();
  comm_.wait_all();
  launched_early_ = early;
  armed_ = false;
}

}  // namespace rwkv
