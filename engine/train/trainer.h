// The training loop over a Backend: samples from a DataSource, gradient accumulation, clipping,
// the lr schedule, AdamW, epoch checkpoints named as RWKV-PEFT names them (rwkv-N.pth), the run
// protocol, a progress bar on stderr, a clean stop and exact resume.
//
// Resume: after every epoch and on a stop, proj_dir/rwkv-resume.pth holds the trainable tensors
// ("param.<name>"), AdamW moments ("optim.<name>.exp_avg", ...) and the position ("meta.*":
// optimizer step, epoch, micro-batch). It is written atomically, so it is always one consistent
// step boundary; a new run with the same proj_dir continues from it. A stop request finishes
// the running micro-batch, drops a partly accumulated step, and saves the last finished step.
#pragma once
#include <atomic>
#include <functional>
#include <cstdint>

#include "core/protocol.h"
#include "train/step_guard.h"
#include "train/train_options.h"

namespace rwkv {

class DataParallel;

struct TrainHooks {
  const std::atomic<int>* stop_signal = nullptr;  // non-zero: stop cleanly (SIGINT/SIGTERM)
  bool progress_bar = true;
  bool allow_resume = true;
  // Data-parallel training (engine/dist): this process is one rank of dp->world_size(). Null:
  // one process trains alone, the path every single-GPU run takes. Only rank 0 writes files;
  // every rank runs the same steps and collectives.
  DataParallel* dp = nullptr;
  int device = 0;  // the CUDA device (a rank's LOCAL_RANK)
  // > 0 (`rwkv-train probe`): stop after this many optimizer steps and write no file at all
  // (no init, checkpoint or resume file): only the timing of the steps matters.
  int64_t probe_steps = 0;
  // The bad-step guard (train/step_guard.h); `rwkv-train --guard ...` sets it.
  StepGuardOptions guard;
  // Tests only: a factor the gradients of optimizer step attempt N (1-based, skipped ones
  // included) are scaled by before the guard looks (NaN plants a bad step); empty = none.
  std::function<float(int64_t attempt)> test_grad_scale;
  // Tests only (`RWKV_TEST_NO_DATA_CHECK=1`): skip the per-batch check of the data files, so a
  // file truncated under the run is met by the guarded read itself (core/mapped_guard.h): the
  // window between the check and the read, which a test cannot hit on purpose otherwise.
  bool check_data = true;
};

// Returns the process exit code: 0 completed or stopped, non-zero after an `error` event.
int run_training(const TrainOptions& opt, RunProtocol& protocol, const TrainHooks& hooks);

// Creates proj_dir (and its parents). Throws EngineError(E_IO_MKDIR).
void make_project_dir(const std::string& path);

// The resume file inside proj_dir.
std::string resume_path(const std::string& proj_dir);

}  // namespace rwkv
