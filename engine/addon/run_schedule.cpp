#include "addon/run_schedule.h"

#include "core/flags.h"
#include "train/epoch_plan.h"
#include "train/train_options.h"

namespace rwkv::facts {

Json plan_schedule(const std::vector<std::string>& argv, int64_t documents) {
  const TrainOptions o = train_options_from_flags(parse_flags(argv));
  const EpochPlan plan = epoch_plan(o, documents);
  const RunLength length = run_length(o, plan);
  Json epoch = Json::object();
  epoch.set("onePass", plan.one_pass);
  epoch.set("pool", plan.pool);
  epoch.set("microBatches", plan.micro_batches);
  epoch.set("lastBatchRows", plan.last_batch_rows);
  epoch.set("optimizerSteps", plan.optimizer_steps);
  Json out = Json::object();
  out.set("totalSteps", length.total_steps);
  out.set("tokensPerStep", length.tokens_per_step);
  out.set("totalTokens", length.total_tokens);
  out.set("untilStopped", length.until_stopped);
  out.set("epochCount", o.lm_v7 ? int64_t(0) : o.epoch_count);
  out.set("microBsz", int64_t(o.micro_bsz));
  out.set("ctxLen", int64_t(o.ctx_len));
  out.set("accumulate", int64_t(o.accumulate_grad_batches));
  out.set("epoch", epoch);
  // a one-pass epoch depends on the data's size: without it the plan assumes a full pool
  out.set("documentsKnown", !plan.one_pass || documents >= 0);
  return out;
}

}  // namespace rwkv::facts
