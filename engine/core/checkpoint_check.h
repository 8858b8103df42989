// A checkpoint's header against the model the flags describe (--my_testing, --n_layer, --n_embd,
// --vocab_size): the version first (an x070 file under --my_testing x060 and the reverse), then the
// sizes, with the flag each error is about. Reads shapes only, so it is cheap on a multi-GB file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/pth.h"

namespace rwkv {

struct ModelFlags {
  std::string my_testing = "x070";
  int64_t n_layer = 0, n_embd = 0, vocab_size = 0;  // 0: not given, taken from the checkpoint
};

// The checkpoint's sizes when they agree with `flags`. Throws EngineError: E_MODEL_VERSION
// (the versions differ, or one this engine has no description of), E_MODEL_SHAPE (a size
// differs from a flag, or the tensors disagree among themselves).
ModelConfig check_checkpoint_model(const std::vector<TensorInfo>& header, const ModelFlags& flags);

}  // namespace rwkv
