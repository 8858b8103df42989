// What the CUDA backend cannot run yet, decided from the options alone (no GPU, no model): the
// trainer refuses with it before loading anything, and the editor shows it while the user types
// (the addon's checkRun, diagnostic RWKV026). The CUDA backend keeps its own checks as a second
// line. Each refusal is E_CUDA_UNSUPPORTED with a hint; the CPU backend runs all of them.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "train/train_options.h"

namespace rwkv {

// Empty when --accelerator is cpu or the GPU backend can run these options.
std::optional<EngineError> cuda_refusal(const TrainOptions& o);

// (code, message) warnings for what the GPU backend runs differently with the same results (the
// trainer's start and the addon's checkRun both report these). Empty on the CPU.
std::vector<std::pair<std::string, std::string>> gpu_warnings(const TrainOptions& o);

}  // namespace rwkv
