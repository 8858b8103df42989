#include "train/lm_pretrain.h"

#include <dirent.h>

#include <algorithm>

namespace rwkv {

std::vector<int64_t> epoch_checkpoints(const std::string& proj_dir) {
  std::vector<int64_t> out;
  DIR* dir = ::opendir(proj_dir.c_str());
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    const std::string head = "rwkv-", tail = ".pth";
    if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
      continue;
    const std::string mid = name.substr(head.size(), name.size() - head.size() - tail.size());
    if (mid == "init") { out.push_back(-1); continue; }
    if (mid.size() > 15 || mid.find_first_not_of("0123456789") != std::string::npos) continue;
    out.push_back(std::stoll(mid));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string epoch_checkpoint_path(const std::string& proj_dir, int64_t n) {
  return proj_dir + (n < 0 ? "/rwkv-init.pth" : "/rwkv-" + std::to_string(n) + ".pth");
}

void rwkv_lm_param_groups(const std::vector<ParamInfo>& params, float weight_decay, AdamWParams& p) {
  p.lr_scale.assign(params.size(), 1.0f);
  p.decay.assign(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamInfo& t = params[i];
    if (t.name.find("att.w0") != std::string::npos) { p.lr_scale[i] = 2.0f; continue; }
    int dims = 0;  // len(p.squeeze().shape)
    for (int64_t d : t.shape) if (d != 1) ++dims;
    p.decay[i] = dims >= 2 && weight_decay > 0 && t.name.find(".weight") != std::string::npos;
  }
}

}  // namespace rwkv
