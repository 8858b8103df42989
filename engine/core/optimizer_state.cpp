#include "core/optimizer_state.h"

#include <cstring>

#include "core/errors.h"
#include "core/paths.h"

namespace rwkv {

namespace {
const std::string kFirst = ".exp_avg", kSecond = ".exp_avg_sq";
}  // namespace

StateDict optimizer_state_dict(const std::vector<AdamMoments>& moments, int64_t step) {
  StateDict out;
  for (const AdamMoments& m : moments) {
    out.push_back({m.name + kFirst, HostTensor::from_f32(m.exp_avg, m.shape)});
    out.push_back({m.name + kSecond, HostTensor::from_f32(m.exp_avg_sq, m.shape)});
  }
  HostTensor t;
  t.dtype = DType::I64;
  t.bytes.resize(8);
  std::memcpy(t.bytes.data(), &step, 8);
  out.push_back({"step", t});
  return out;
}

void read_optimizer_state(const StateDict& state, int64_t& step,
                          const std::function<bool(const std::string&, bool, const HostTensor&)>& apply) {
  for (const auto& [name, t] : state) {
    if (name == "step") {
      if (t.dtype != DType::I64 || t.bytes.size() != 8)
        throw EngineError("E_RESUME_CORRUPT", "optimizer state 'step' is not an int64 scalar", "");
      std::memcpy(&step, t.bytes.data(), 8);
      continue;
    }
    const bool second = ends_with(name, kSecond), first = !second && ends_with(name, kFirst);
    const std::string param = name.substr(0, name.size() - (second ? kSecond.size() : first ? kFirst.size() : 0));
    if (!(first || second) || !apply(param, second, t))
      throw EngineError("E_RESUME_SHAPE", "optimizer state '" + name + "' does not fit this run",
                        "resume with the same model and PEFT settings, or use a new proj_dir");
  }
}

}  // namespace rwkv
