#include "addon/run_check.h"

#include "core/errors.h"
#include "core/flags.h"
#include "train/gpu_support.h"
#include "train/train_options.h"

namespace rwkv::facts {

namespace {
Json warning(const std::string& code, const std::string& message) {
  Json w = Json::object();
  w.set("code", code);
  w.set("message", message);
  return w;
}
}  // namespace

Json check_run(const std::vector<std::string>& argv) {
  Json out = Json::object();
  try {
    const TrainOptions o = train_options_from_flags(parse_flags(argv));
    if (auto refusal = cuda_refusal(o)) throw *refusal;
    Json warnings = Json::array();
    for (const auto& [code, message] : o.warnings) warnings.push(warning(code, message));
    for (const auto& [code, message] : gpu_warnings(o)) warnings.push(warning(code, message));
    out.set("ok", true);
    out.set("warnings", warnings);
  } catch (const EngineError& e) {
    out.set("ok", false);
    out.set("code", e.code);
    out.set("message", std::string(e.what()));
    out.set("hint", e.hint);
    if (!e.flag.empty()) out.set("flag", e.flag);  // the flag it is about, without "--"
  }
  return out;
}

}  // namespace rwkv::facts
