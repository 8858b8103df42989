// See model_shapes.h.
#include "core/model_shapes.h"

#include "core/errors.h"
#include "core/model_version.h"
#include "core/model_x060.h"

namespace rwkv {
namespace {

[[noreturn]] void refuse_version(const std::string& version) {
  throw EngineError("E_FLAG_UNSUPPORTED",
                    "--my_testing " + version + ": this engine trains RWKV-7 (x070) and RWKV-6 (x060) models only",
                    "use --my_testing x070 or x060", "my_testing");
}

}  // namespace

bool model_version_trains(const std::string& version) { return version == "x070" || version == "x060"; }

ModelConfig model_config_for_version(const std::string& version, int n_layer, int n_embd, int vocab_size, int head_size) {
  if (version == "x070") return model_config_for_size(n_layer, n_embd, vocab_size, head_size);
  if (version == "x060") return model_config_x060_for_size(n_layer, n_embd, vocab_size, head_size);
  refuse_version(version);
}

ModelConfig model_config_from_checkpoint(const std::string& version, const StateDict& weights, int head_size) {
  if (version == "x070") return model_config_from_header(weights_header(weights), head_size);
  if (version == "x060") return model_config_x060_from_header(weights_header(weights));  // head size from time_faaaa
  refuse_version(version);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> model_tensor_shapes(const ModelConfig& cfg) {
  if (cfg.version == "x060") return x060_tensor_shapes(cfg);
  if (cfg.version == "x070") return x070_tensor_shapes(cfg);
  refuse_version(cfg.version);
}

void validate_model_weights(const ModelConfig& cfg, const StateDict& weights) {
  if (cfg.version == "x060") return validate_x060_weights(cfg, weights);
  if (cfg.version == "x070") return validate_x070_weights(cfg, weights);
  refuse_version(cfg.version);
}

}  // namespace rwkv
