// RWKV-LM train_temp's pretraining rules that the trainer applies around the loop (the ones
// that need no files are in train_options.cpp): which checkpoint `--train_stage 2/3` continues
// from, and the optimizer's parameter groups.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"

namespace rwkv {

// The epoch numbers of proj_dir's rwkv-<N>.pth files, ascending; rwkv-init.pth counts as -1.
// Like RWKV-LM's train.py, rwkv-final.pth is skipped; unlike it, names that are not
// rwkv-<integer>.pth (rwkv-resume.pth, rwkv7-g1-...pth) are skipped instead of stopping it.
std::vector<int64_t> epoch_checkpoints(const std::string& proj_dir);

// proj_dir/rwkv-init.pth for -1, else proj_dir/rwkv-<n>.pth.
std::string epoch_checkpoint_path(const std::string& proj_dir, int64_t n);

// RWKV-LM's configure_optimizers: att.w0 at 2x lr; weight decay (when weight_decay > 0) only on
// tensors with 2 or more dimensions of size > 1 whose name contains ".weight"; lr x1 and no
// decay for the rest. Fills p.lr_scale and p.decay in `params` order.
void rwkv_lm_param_groups(const std::vector<ParamInfo>& params, float weight_decay, AdamWParams& p);

}  // namespace rwkv
