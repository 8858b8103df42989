// The bucketed gradient all-reduce that overlaps the backward. The backend reports each
// tensor's finished gradient (Backend::set_grad_ready_hook) during the last micro-batch of an
// optimizer step; a bucket whose tensors are all finished is all-reduced at once, while the
// backward goes on with earlier layers. Buckets are launched in index order only (collectives
// must run in the same order on every rank). finish() launches what is left and waits.
#pragma once
#include <vector>

#include "core/backend.h"
#include "dist/bucket_plan.h"
#include "dist/communicator.h"

namespace rwkv {

class GradSync {
 public:
  GradSync(BucketPlan plan, const TrainableView& view, Communicator& comm);
  // The next micro-batch ends an optimizer step: its finished gradients are final.
  void arm();
  void grad_ready(int tensor);
  // Every bucket launched and summed over the ranks; disarms.
  void finish();
  // Buckets launched during the backward of the last finish() (tests: the overlap happened).
  int launched_early() const { return launched_early_; }

 private:
  void launch_ready();
  BucketPlan plan_;
  TrainableView view_;
  Communicator& comm_;
  std::vector<int> pending_;  // per bucket: tensors not finished yet
  size_t next_ = 0;           // next bucket to launch
  bool armed_ = false;
  int launched_early_ = 0, early_now_ = 0;
};

}  // namespace rwkv
