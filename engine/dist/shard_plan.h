// Which samples each rank trains on, as the trainers the user's script was written for shard
// them, so the global batch is micro_bsz × world_size (× accumulate_grad_batches) and an epoch
// keeps its meaning.
// - DistributedSampler (RWKV-PEFT, both trees): its DataLoader is left to Lightning 2, whose
//   default use_distributed_sampler=True wraps it in torch's DistributedSampler. An epoch is the
//   dataset, epoch_steps × micro_bsz samples, whatever the world size: the sampler pads the
//   epoch's order to a multiple of world_size by repeating its start and gives rank r the
//   positions r, r + W, r + 2W, ...; each rank's DataLoader (drop_last=True) makes micro-batches
//   of its share, so an epoch is ⌊⌈S / W⌉ / micro_bsz⌋ micro-batches per rank (epoch_steps / W
//   when W divides it) and RWKV-PEFT's schedule divides by the devices for the same reason.
// - RankInterleaved (RWKV-LM's dataset, replace_sampler_ddp=False): every rank runs epoch_steps
//   micro-batches and sample idx of rank r reads ii = 1 + epoch × epoch_steps × real_bsz +
//   idx × W + r, so a mini-epoch is epoch_steps × real_bsz = 40320 samples.
// Both come down to one index into the epoch's order, which the DataSource (train/data_source.h)
// maps to a sample exactly as it does on one GPU: with W = 1 each is micro × micro_bsz + row.
#pragma once
#include <cstdint>

namespace rwkv {

enum class ShardRule { DistributedSampler, RankInterleaved };

struct ShardPlan {
  ShardRule rule = ShardRule::DistributedSampler;
  int world_size = 1, rank = 0, micro_bsz = 1;
  int64_t epoch_samples = 0;   // the epoch's order: the index space DataSource::sample reads
  int64_t micro_batches = 0;   // micro-batches each rank runs per epoch

  // The index (into the epoch's order) of row `row` of this rank's micro-batch `micro`.
  int64_t sample_index(int64_t micro, int row) const;
};

// epoch_steps and micro_bsz as train.py reads them. Throws E_FLAG_VALUE when a rank would get
// no micro-batch in an epoch.
ShardPlan shard_plan(ShardRule rule, int64_t epoch_steps, int micro_bsz, int world_size, int rank);

}  // namespace rwkv
