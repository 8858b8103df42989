// `rwkv-train [flags] --devices N [--num_nodes M]` when the world has more than one rank:
// this process is a machine's launcher (it starts the ranks, dist/launcher.h) or one rank (the
// unique id from rank 0, NCCL, the trainer with DataParallel), as dist/dist_env.h decides.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "train/train_options.h"

namespace rwkv::cli {

// Returns the process exit code; every failure is an `error` event (naming the rank).
int run_distributed(const std::vector<std::string>& args, const TrainOptions& opt, const std::atomic<int>* stop);

}  // namespace rwkv::cli
