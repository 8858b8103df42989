// See checkpoint_check.h.
#include "core/checkpoint_check.h"

#include "core/errors.h"
#include "core/model_version.h"
#include "core/model_x060.h"

namespace rwkv {

ModelConfig check_checkpoint_model(const std::vector<TensorInfo>& header, const ModelFlags& flags) {
  const std::string found = detect_model_version(header);
  if (found != flags.my_testing)
    throw EngineError("E_MODEL_VERSION",
                      "--my_testing " + flags.my_testing + " describes an " + model_version_label(flags.my_testing) +
                          " model, but the checkpoint is " +
                          (found == "unknown" ? std::string("of no RWKV version this engine knows")
                                              : "an " + model_version_label(found) + " model"),
                      found == "unknown" ? "check which file --load_model names"
                                         : "set --my_testing " + found + " (or load an " +
                                               model_version_label(flags.my_testing) + " checkpoint)",
                      "my_testing");
  ModelConfig cfg;
  if (found == "x070") cfg = model_config_from_header(header);
  else if (found == "x060") cfg = model_config_x060_from_header(header);
  else
    throw EngineError("E_MODEL_VERSION",
                      "this engine has no description of " + model_version_label(found) + " checkpoints",
                      "use RWKV-PEFT for " + found + " models, or an RWKV-7 (x070) / RWKV-6 (x060) checkpoint",
                      "my_testing");
  auto agree = [&](const char* flag, int64_t given, int64_t actual) {
    if (given && given != actual)
      throw EngineError("E_MODEL_SHAPE",
                        std::string("--") + flag + " " + std::to_string(given) + " disagrees with the " +
                            model_version_label(found) + " checkpoint, which has " + flag + " " + std::to_string(actual),
                        std::string("set --") + flag + " " + std::to_string(actual) + " or load the intended checkpoint",
                        flag);
  };
  agree("n_layer", flags.n_layer, cfg.n_layer);
  agree("n_embd", flags.n_embd, cfg.n_embd);
  agree("vocab_size", flags.vocab_size, cfg.vocab_size);
  return cfg;
}

}  // namespace rwkv
