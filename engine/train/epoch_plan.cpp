#include "train/epoch_plan.h"

#include <algorithm>

#include "train/data_source.h"
#include "train/train_options.h"

namespace rwkv {

namespace {
bool one_pass_epochs(const TrainOptions& o) {
  // RWKV-LM's flags and magic_prime sampling keep the mini-epoch of epoch_steps micro-batches
  return o.peft_new_form && !o.lm_v7 && !uses_stream_sampler(o);
}
}  // namespace

int64_t epoch_pool_limit(const TrainOptions& o) {
  if (!one_pass_epochs(o)) return std::max<int64_t>(o.epoch_steps * o.micro_bsz, 1);
  // SFTdataset keeps every example (its --sft_split picks them); jsonl and binidx are trimmed
  return o.data_type == "sft" ? -1 : std::max<int64_t>(o.epoch_steps, 1);
}

EpochPlan epoch_plan(const TrainOptions& o, int64_t documents) {
  EpochPlan p;
  p.micro_bsz = std::max(o.micro_bsz, 1);
  p.accumulate = std::max(o.accumulate_grad_batches, 1);
  if (!one_pass_epochs(o)) {
    p.pool = epoch_pool_limit(o);
    p.micro_batches = o.epoch_steps;
    p.last_batch_rows = p.micro_bsz;
    p.optimizer_steps = o.epoch_steps / p.accumulate;
    return p;
  }
  p.one_pass = true;
  const int64_t limit = epoch_pool_limit(o);
  p.pool = documents < 0 ? limit : limit < 0 ? documents : std::min(documents, limit);
  if (p.pool <= 0) p.pool = limit > 0 ? limit : 1;  // nothing known: a full pool
  p.micro_batches = (p.pool + p.micro_bsz - 1) / p.micro_bsz;
  p.last_batch_rows = p.pool - (p.micro_batches - 1) * p.micro_bsz;
  p.optimizer_steps = (p.micro_batches + p.accumulate - 1) / p.accumulate;
  return p;
}

}  // namespace rwkv
