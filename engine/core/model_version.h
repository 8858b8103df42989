// Which RWKV generation a checkpoint is, from its tensor names alone (shapes are read elsewhere).
// One rule for `inspect`, the checkpoint check and the trainer's load, so they never disagree.
#pragma once
#include <string>
#include <vector>

#include "core/pth.h"

namespace rwkv {

// x070 | x060 | x052 | x040 | unknown.
std::string detect_model_version(const std::vector<TensorInfo>& tensors);

// "RWKV-7 (x070)", "RWKV-6 (x060)", ...: how messages name a version.
std::string model_version_label(const std::string& version);

}  // namespace rwkv
