// Data-parallel training steps (see data_parallel.h).
#include "dist/data_parallel.h"

#include <map>

#include "core/optimizer_state.h"
#include "dist/bucket_plan.h"

namespace rwkv {

DataParallel::DataParallel(Communicator& comm, int num_nodes, int devices)
    : comm_(comm), num_nodes_(num_nodes), devices_(devices) {}

void DataParallel::attach(Backend& backend) {
  backend_ = &backend;
  view_ = backend.trainable_view();
  comm_.bind_compute_stream(view_.stream);
  zero1_ = zero1_plan(view_.numel, world_size());
  // ZeRO-1's memory: this rank keeps the AdamW state of its slice only
  backend.shard_optimizer_state(zero1_.owned[size_t(rank())], zero1_.shard);
  view_ = backend.trainable_view();
  sync_ = std::make_unique<GradSync>(bucket_plan(view_.numel), view_, comm_);
  GradSync* sync = sync_.get();
  backend.set_grad_ready_hook([sync](int tensor) { sync->grad_ready(tensor); });
}

std::vector<BroadcastPiece> DataParallel::pieces(const std::vector<float*>& buffers) const {
  std::vector<BroadcastPiece> out;
  for (int r = 0; r < world_size(); ++r)
    for (const TensorSlice& s : zero1_.owned[size_t(r)])
      out.push_back({buffers[size_t(s.tensor)] + s.begin, s.end - s.begin, r});
  return out;
}

void DataParallel::optimizer_step(const AdamWParams& hp) {
  backend_->optimizer_step_slices(hp, zero1_.owned[size_t(rank())]);
  comm_.broadcast(pieces(view_.param));
  backend_->params_changed();
}

StateDict DataParallel::optimizer_state() {
  const int64_t n = zero1_.shard;
  std::vector<float> m(size_t(n) * size_t(world_size())), v(m.size());
  comm_.all_gather_to_host(view_.shard_exp_avg, n, m.data());
  comm_.all_gather_to_host(view_.shard_exp_avg_sq, n, v.data());
  const std::vector<ParamInfo> info = backend_->trainable_params();
  std::vector<AdamMoments> moments;
  for (size_t t = 0; t < info.size(); ++t)
    moments.push_back({info[t].name, info[t].shape, std::vector<float>(size_t(view_.numel[t])),
                       std::vector<float>(size_t(view_.numel[t]))});
  for (int r = 0; r < world_size(); ++r) {
    int64_t off = int64_t(r) * n;  // rank r's shard in the gathered buffers
    for (const TensorSlice& s : zero1_.owned[size_t(r)]) {
      AdamMoments& a = moments[size_t(s.tensor)];
      std::copy(m.begin() + off, m.begin() + off + (s.end - s.begin), a.exp_avg.begin() + s.begin);
      std::copy(v.begin() + off, v.begin() + off + (s.end - s.begin), a.exp_avg_sq.begin() + s.begin);
      off += s.end - s.begin;
    }
  }
  return optimizer_state_dict(moments, backend_->optimizer_steps());
}

void DataParallel::load_optimizer_state(const StateDict& whole) {
  const std::vector<ParamInfo> info = backend_->trainable_params();
  std::map<std::string, size_t> index;
  for (size_t t = 0; t < info.size(); ++t) index[info[t].name] = t;
  // where each of this rank's slices sits in its shard
  std::map<int, std::vector<std::pair<TensorSlice, int64_t>>> mine;
  int64_t off = 0;
  for (const TensorSlice& s : zero1_.owned[size_t(rank())]) {
    mine[s.tensor].push_back({s, off});
    off += s.end - s.begin;
  }
  std::vector<float> m(size_t(zero1_.shard), 0.0f), v(m.size(), 0.0f);
  int64_t step = 0;
  read_optimizer_state(whole, step, [&](const std::string& name, bool second, const HostTensor& t) {
    const auto it = index.find(name);
    if (it == index.end() || t.numel() != view_.numel[it->second]) return false;
    const auto slices = mine.find(int(it->second));
    if (slices == mine.end()) return true;  // another rank's
    const std::vector<float> values = t.to_f32();
    for (const auto& [s, at] : slices->second)
      std::copy(values.begin() + s.begin, values.begin() + s.end, (second ? v : m).begin() + at);
    return true;
  });
  backend_->import_optimizer_shard(m.data(), v.data(), zero1_.shard, step);
}

std::vector<double> DataParallel::gather(const std::vector<double>& mine) {
  std::vector<double> out(mine.size() * size_t(world_size()));
  comm_.all_gather_host(mine.data(), int64_t(mine.size()), out.data());
  return out;
}

double DataParallel::mean(double value) {
  double sum = 0;
  for (double v : gather({value})) sum += v;
  return sum / world_size();
}

bool DataParallel::any(bool value) {
  for (double v : gather({value ? 1.0 : 0.0}))
    if (v != 0) return true;
  return false;
}

}  // namespace rwkv
