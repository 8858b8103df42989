// See model_version.h.
#include "core/model_version.h"

#include <algorithm>

#include "core/paths.h"

namespace rwkv {

// x070 has w0/a0/k_k/r_k (and x_r lerps), x060 time_maa_*, x052 time_faaaa (or time_first with
// ln_x), x040 time_first without ln_x. Substrings, so peft-prefixed adapter names match too.
std::string detect_model_version(const std::vector<TensorInfo>& tensors) {
  auto has = [&](const char* part) {
    return std::any_of(tensors.begin(), tensors.end(),
                       [&](const TensorInfo& t) { return t.name.find(part) != std::string::npos; });
  };
  auto has_suffix = [&](const char* suffix) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const TensorInfo& t) { return ends_with(t.name, suffix); });
  };
  if (has_suffix(".att.w0") || has_suffix(".att.a0") || has_suffix(".att.k_k") || has_suffix(".att.r_k") ||
      has_suffix(".att.x_r"))
    return "x070";
  if (has(".att.time_maa_")) return "x060";
  if (has(".att.time_faaaa") || (has(".att.time_first") && has(".att.ln_x"))) return "x052";
  if (has(".att.time_first")) return "x040";
  return "unknown";
}

std::string model_version_label(const std::string& version) {
  if (version == "x070") return "RWKV-7 (x070)";
  if (version == "x060") return "RWKV-6 (x060)";
  if (version == "x052") return "RWKV-5 (x052)";
  if (version == "x040") return "RWKV-4 (x040)";
  return "unknown-version";
}

}  // namespace rwkv
