// dist/shard_plan, dist/zero1_plan, dist/bucket_plan: the sharding written out from torch's
// DistributedSampler and RWKV-LM's dataset formula, ZeRO-1 slices that cover every element once
// with equal shares (and re-slice the same state for another world size), and gradient buckets
// in backward order under their caps.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "check.h"
#include "core/errors.h"
#include "dist/bucket_plan.h"
#include "dist/shard_plan.h"
#include "dist/zero1_plan.h"

using namespace rwkv;

namespace {

// torch.utils.data.DistributedSampler(shuffle=False, drop_last=False) over range(n) for rank r,
// then DataLoader(batch_size=B, drop_last=True): the rank's batches, written from torch's code
// (pad to total_size by repeating the start, indices[rank:total_size:num_replicas]).
std::vector<std::vector<int64_t>> torch_batches(int64_t n, int W, int r, int B) {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), 0);
  const int64_t num_samples = (n + W - 1) / W, total = num_samples * W;
  for (int64_t i = 0; int64_t(indices.size()) < total; ++i) indices.push_back(indices[size_t(i % n)]);
  std::vector<int64_t> mine;
  for (int64_t i = r; i < total; i += W) mine.push_back(indices[size_t(i)]);
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i + size_t(B) <= mine.size(); i += size_t(B))
    batches.emplace_back(mine.begin() + long(i), mine.begin() + long(i) + B);
  return batches;
}

}  // namespace

int main() {
  // One rank: exactly the single-GPU order (micro * B + row), for both rules.
  for (ShardRule rule : {ShardRule::DistributedSampler, ShardRule::RankInterleaved}) {
    const ShardPlan p = shard_plan(rule, 10, 3, 1, 0);
    CHECK(p.micro_batches == 10 && p.epoch_samples == 30);
    for (int m = 0; m < 10; ++m)
      for (int b = 0; b < 3; ++b) CHECK(p.sample_index(m, b) == m * 3 + b);
  }
  // DistributedSampler: equal to torch's, including the padded tail, for several shapes.
  for (auto [steps, B, W] : std::vector<std::tuple<int64_t, int, int>>{{8, 2, 2}, {10, 3, 4}, {7, 1, 3}, {5, 2, 8}, {100, 1, 16}, {9, 5, 4}}) {
    int64_t total_micro = 0;
    for (int r = 0; r < W; ++r) {
      const ShardPlan p = shard_plan(ShardRule::DistributedSampler, steps, B, W, r);
      const auto want = torch_batches(steps * B, W, r, B);
      CHECK(p.micro_batches == int64_t(want.size()));
      for (int64_t m = 0; m < p.micro_batches && m < int64_t(want.size()); ++m)
        for (int b = 0; b < B; ++b) CHECK(p.sample_index(m, b) == want[size_t(m)][size_t(b)]);
      total_micro += p.micro_batches;
    }
    if (steps % W == 0) CHECK(total_micro == steps);  // an epoch is still epoch_steps micro-batches in all
  }
  // 2 ranks x micro_bsz 4 see the samples one rank with micro_bsz 8 would, step for step.
  {
    const ShardPlan one = shard_plan(ShardRule::DistributedSampler, 6, 8, 1, 0);
    const ShardPlan r0 = shard_plan(ShardRule::DistributedSampler, 12, 4, 2, 0);
    const ShardPlan r1 = shard_plan(ShardRule::DistributedSampler, 12, 4, 2, 1);
    CHECK(r0.micro_batches == 6 && one.micro_batches == 6);
    for (int m = 0; m < 6; ++m) {
      std::set<int64_t> a, b;
      for (int i = 0; i < 8; ++i) a.insert(one.sample_index(m, i));
      for (int i = 0; i < 4; ++i) { b.insert(r0.sample_index(m, i)); b.insert(r1.sample_index(m, i)); }
      CHECK(a == b);
    }
  }
  // RWKV-LM: ii - 1 - epoch * 40320 = idx * world_size + rank, every rank epoch_steps micro-batches.
  {
    const int W = 4, B = 6;
    const int64_t epoch_steps = 40320 / (B * W);
    std::set<int64_t> seen;
    for (int r = 0; r < W; ++r) {
      const ShardPlan p = shard_plan(ShardRule::RankInterleaved, epoch_steps, B, W, r);
      CHECK(p.micro_batches == epoch_steps && p.epoch_samples == 40320);
      for (int64_t m = 0; m < epoch_steps; ++m)
        for (int b = 0; b < B; ++b) {
          const int64_t idx = m * B + b;  // the DataLoader's index on that rank
          CHECK(p.sample_index(m, b) == idx * W + r);
          seen.insert(p.sample_index(m, b));
        }
    }
    CHECK(seen.size() == 40320 && *seen.rbegin() == 40319);
  }
  CHECK_THROWS_CODE(shard_plan(ShardRule::DistributedSampler, 1, 2, 4, 0), "E_FLAG_VALUE");

  // ZeRO-1: every element owned once, shares equal but the last, the same for any world size.
  const std::vector<int64_t> sizes = {65536 * 8, 8, 8, 64 * 8, 1000, 3, 8 * 65536, 77};
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  for (int W : {1, 2, 3, 4, 8}) {
    const Zero1Plan p = zero1_plan(sizes, W);
    CHECK(p.total == total && p.shard % 128 == 0);
    std::vector<std::vector<int>> owners(sizes.size());
    for (size_t t = 0; t < sizes.size(); ++t) owners[t].assign(size_t(sizes[t]), -1);
    std::vector<int64_t> share(size_t(W), 0);
    for (int r = 0; r < W; ++r) {
      int64_t prev_flat = -1;
      for (const TensorSlice& s : p.owned[size_t(r)]) {
        CHECK(s.begin < s.end && s.end <= sizes[size_t(s.tensor)]);
        for (int64_t i = s.begin; i < s.end; ++i) {
          CHECK(owners[size_t(s.tensor)][size_t(i)] == -1);
          owners[size_t(s.tensor)][size_t(i)] = r;
        }
        int64_t flat = s.begin;
        for (int t = 0; t < s.tensor; ++t) flat += sizes[size_t(t)];
        CHECK(flat > prev_flat);  // in flat order
        prev_flat = flat;
        share[size_t(r)] += s.end - s.begin;
      }
    }
    for (const auto& o : owners) CHECK(std::count(o.begin(), o.end(), -1) == 0);
    for (int r = 0; r + 1 < W; ++r) CHECK(share[size_t(r)] == p.shard);
    CHECK(share[size_t(W - 1)] <= p.shard && share[size_t(W - 1)] > 0);
  }
  // Resume with another world size: moments updated by the owners of a 3-rank plan, gathered
  // whole, are found again by the owners of a 2-rank plan, every element exactly once.
  {
    std::vector<std::vector<float>> m(sizes.size());
    for (size_t t = 0; t < sizes.size(); ++t) m[t].assign(size_t(sizes[t]), 0.0f);
    const Zero1Plan three = zero1_plan(sizes, 3);
    for (int r = 0; r < 3; ++r)
      for (const TensorSlice& s : three.owned[size_t(r)])
        for (int64_t i = s.begin; i < s.end; ++i) m[size_t(s.tensor)][size_t(i)] = float(r + 1);
    const Zero1Plan two = zero1_plan(sizes, 2);
    std::map<float, int64_t> counts;
    int64_t covered = 0;
    for (int r = 0; r < 2; ++r)
      for (const TensorSlice& s : two.owned[size_t(r)])
        for (int64_t i = s.begin; i < s.end; ++i) { ++counts[m[size_t(s.tensor)][size_t(i)]]; ++covered; }
    CHECK(covered == total && counts.count(0.0f) == 0 && counts.size() == 3);
  }
  // A model smaller than one granule per rank: rank 0 owns it all, the others nothing.
  {
    const Zero1Plan p = zero1_plan({10, 20}, 4);
    CHECK(p.owned[0].size() == 2 && p.owned[1].empty() && p.owned[3].empty());
  }

  // Buckets: backward order, caps kept, the first small, every tensor once.
  {
    const std::vector<int64_t> n = {1 << 20, 100, 100, 3 << 20, 1 << 18, 1 << 18, 1 << 18, 50, 8 << 20};
    const BucketPlan p = bucket_plan(n, 16 << 20, 1 << 20);
    std::vector<int> order;
    for (const auto& b : p.buckets) {
      for (int t : b.tensors) order.push_back(t);
      int64_t bytes = 0;
      for (int t : b.tensors) bytes += n[size_t(t)] * 4;
      CHECK(bytes == b.bytes);
      CHECK(b.tensors.size() == 1 || b.bytes <= (&b == &p.buckets[0] ? (1 << 20) : (16 << 20)));
    }
    std::vector<int> want(n.size());
    std::iota(want.rbegin(), want.rend(), 0);
    CHECK(order == want);  // the head's gradient is finished first
    CHECK(p.buckets[0].tensors == std::vector<int>{8});  // 32 MiB: alone, over every cap
    // 200 B + 3 x 1 MiB + 12 MiB + 800 B fill the next bucket to just under 16 MiB; 4 MiB starts a third
    CHECK(p.buckets.size() == 3);
    if (p.buckets.size() == 3) {
      CHECK(p.buckets[1].tensors == (std::vector<int>{7, 6, 5, 4, 3, 2, 1}));
      CHECK(p.buckets[2].tensors == std::vector<int>{0});
    }
    // small tensors after the head: the first bucket stays under its 1 MiB
    const BucketPlan q = bucket_plan({1 << 18, 1 << 17, 1 << 17, 1 << 17}, 16 << 20, 1 << 20);
    CHECK(q.buckets.size() == 2 && q.buckets[0].tensors == (std::vector<int>{3, 2}) && q.buckets[0].bytes == 1 << 20);
    for (size_t t = 0; t < n.size(); ++t)
      CHECK(std::find(p.buckets[size_t(p.bucket_of[t])].tensors.begin(), p.buckets[size_t(p.bucket_of[t])].tensors.end(),
                      int(t)) != p.buckets[size_t(p.bucket_of[t])].tensors.end());
  }
  return rwkv_test::summary("dist_plans_test");
}
