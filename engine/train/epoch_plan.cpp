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
    // Lightning steps the optimizer on an epoch's last micro-batch too, so epoch_steps need not
    // be a multiple of accumulate_grad_batches: the last step of such an epoch is short
    p.optimizer_steps = (p.micro_batches + p.accumulate - 1) / p.accumulate;
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

RunLength run_length(const TrainOptions& o, const EpochPlan& plan) {
  RunLength r;
  const int64_t ctx = o.ctx_len;
  r.tokens_per_step = ctx * plan.micro_bsz * plan.accumulate;
  const int64_t epoch_rows = plan.micro_batches > 0 ? (plan.micro_batches - 1) * plan.micro_bsz + plan.last_batch_rows : 0;
  r.total_steps = plan.optimizer_steps * o.epoch_count;
  r.total_tokens = epoch_rows * ctx * o.epoch_count;
  if (o.lm_v7) {
    // RWKV-LM counts real_step * ctx_len * real_bsz tokens and trains until my_exit_tokens
    const int64_t tps = ctx * o.real_bsz();
    if (o.my_exit_tokens > 0) {
      r.total_steps = std::max<int64_t>(0, (o.my_exit_tokens + tps - 1) / tps - o.epoch_begin * o.epoch_steps);
    } else {
      r.until_stopped = true;
    }
    r.total_tokens = r.total_steps * r.tokens_per_step;
  }
  return r;
}

}  // namespace rwkv
