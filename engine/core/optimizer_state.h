// AdamW's state as both backends export it for rwkv-resume.pth: "<param>.exp_avg" and
// "<param>.exp_avg_sq" (fp32, the parameter's shape) for every trained tensor, and "step"
// (int64 scalar). One definition, so a run stopped on one backend resumes on the other.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/pth.h"

namespace rwkv {

struct AdamMoments {
  std::string name;             // the parameter's state-dict name
  std::vector<int64_t> shape;
  std::vector<float> exp_avg, exp_avg_sq;
};

StateDict optimizer_state_dict(const std::vector<AdamMoments>& moments, int64_t step);

// Reads a state written by optimizer_state_dict: sets `step` (left alone when absent) and calls
// apply(param, second_moment, tensor) for each moment. apply returns false when the tensor does
// not belong to this run (unknown or frozen parameter, other size): E_RESUME_SHAPE.
// E_RESUME_CORRUPT for a "step" that is not an int64 scalar.
void read_optimizer_state(const StateDict& state, int64_t& step,
                          const std::function<bool(const std::string& param, bool second_moment, const HostTensor& t)>& apply);

}  // namespace rwkv
