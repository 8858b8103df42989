// Data sharding per rank (see shard_plan.h).
#include "dist/shard_plan.h"

#include <string>

#include "core/errors.h"

namespace rwkv {

int64_t ShardPlan::sample_index(int64_t micro, int row) const {
  const int64_t local = micro * micro_bsz + row;  // the rank's own position
  const int64_t global = local * world_size + rank;
  if (rule == ShardRule::RankInterleaved) return global;
  // DistributedSampler: positions past the epoch's order are its padding, which repeats the start
  return epoch_samples > 0 ? global % epoch_samples : global;
}

ShardPlan shard_plan(ShardRule rule, int64_t epoch_steps, int micro_bsz, int world_size, int rank) {
  ShardPlan p;
  p.rule = rule;
  p.world_size = world_size;
  p.rank = rank;
  p.micro_bsz = micro_bsz;
  if (rule == ShardRule::RankInterleaved) {
    p.epoch_samples = epoch_steps * micro_bsz * world_size;
    p.micro_batches = epoch_steps;
    return p;
  }
  p.epoch_samples = epoch_steps * micro_bsz;
  const int64_t per_rank = (p.epoch_samples + world_size - 1) / world_size;  // DistributedSampler's num_samples
  p.micro_batches = per_rank / micro_bsz;                                    // drop_last=True
  if (p.micro_batches == 0)
    throw EngineError("E_FLAG_VALUE",
                      "--epoch_steps " + std::to_string(epoch_steps) + " x --micro_bsz " + std::to_string(micro_bsz) +
                          " samples an epoch leave each of the " + std::to_string(world_size) +
                          " ranks less than one micro-batch",
                      "raise --epoch_steps to at least " + std::to_string(world_size) +
                          " (an epoch is shared by the ranks, as RWKV-PEFT's DistributedSampler shares it)",
                      "epoch_steps");
  return p;
}

}  // namespace rwkv
