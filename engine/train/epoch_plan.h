// What one epoch is, as the script's own trainer defines it (README "Where the engine knowingly
// differs" used to list this as a difference):
// - the older RWKV-PEFT (5b8aac9) and RWKV-LM: an epoch is `epoch_steps` micro-batches of
//   micro_bsz samples drawn from a pool of epoch_steps * micro_bsz documents; Lightning steps
//   the optimizer every accumulate_grad_batches micro-batches and on the epoch's last;
// - the newest RWKV-PEFT (Joluck/RWKV-PEFT 5704c39, the `--peft_config` form): its dataset is the
//   first epoch_steps documents (jsonl: `data[:epoch_steps]`, binidx: `head(epoch_steps)`; sft:
//   every example) and an epoch is one pass of torch's DataLoader over them (shuffle=True,
//   drop_last=False): ceil(pool / micro_bsz) micro-batches, the last one partial; Lightning
//   steps the optimizer every accumulate_grad_batches micro-batches and on the epoch's last.
// One function for the trainer, the data source, the addon's lens figures and the tests.
#pragma once
#include <cstdint>

namespace rwkv {

struct TrainOptions;

struct EpochPlan {
  bool one_pass = false;          // the newest RWKV-PEFT's epoch: one shuffled pass over the pool
  int64_t pool = 0;               // documents an epoch draws from
  int64_t micro_batches = 0;      // micro-batches per epoch
  int64_t micro_bsz = 1;          // rows of every micro-batch but a partial last one
  int64_t last_batch_rows = 0;    // rows of the epoch's last micro-batch
  int64_t optimizer_steps = 0;    // optimizer steps per epoch
  int accumulate = 1;             // accumulate_grad_batches

  // Rows of micro-batch `micro` (0-based within the epoch).
  int64_t rows(int64_t micro) const { return micro + 1 == micro_batches ? last_batch_rows : micro_bsz; }
  // Whether the optimizer steps after micro-batch `micro`.
  bool steps_after(int64_t micro) const { return (micro + 1) % accumulate == 0 || micro + 1 == micro_batches; }
  // Optimizer steps finished once `micro` micro-batches of an epoch are done.
  int64_t steps_done(int64_t micro) const {
    return micro >= micro_batches ? optimizer_steps : micro / accumulate;
  }
};

// How long a launch trains, as the trainer plans it (the start event's total_steps).
struct RunLength {
  int64_t total_steps = 0;       // optimizer steps
  int64_t tokens_per_step = 0;   // tokens of a full optimizer step (ctx_len x rows x accumulation)
  int64_t total_tokens = 0;      // tokens the planned steps train (partial last batches counted)
  bool until_stopped = false;    // RWKV-LM with --my_exit_tokens 0: runs until it is stopped
};
RunLength run_length(const TrainOptions& o, const EpochPlan& plan);

// The pool the data source keeps (documents read from the start of the data; -1 = all of them).
int64_t epoch_pool_limit(const TrainOptions& o);

// documents: what the data source holds (its pool, at most epoch_pool_limit); -1 when unknown
// (the plan then assumes a full pool).
EpochPlan epoch_plan(const TrainOptions& o, int64_t documents);

}  // namespace rwkv
