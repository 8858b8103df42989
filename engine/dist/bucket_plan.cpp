// Gradient buckets (see bucket_plan.h).
#include "dist/bucket_plan.h"

namespace rwkv {

BucketPlan bucket_plan(const std::vector<int64_t>& numels, int64_t cap_bytes, int64_t first_cap_bytes,
                       int64_t element_bytes) {
  BucketPlan p;
  p.bucket_of.assign(numels.size(), -1);
  for (int t = int(numels.size()) - 1; t >= 0; --t) {
    const int64_t bytes = numels[size_t(t)] * element_bytes;
    // the bucket being filled is the first (small cap) or a later one
    const int64_t cap = p.buckets.size() == 1 ? first_cap_bytes : cap_bytes;
    const bool fits = !p.buckets.empty() && p.buckets.back().bytes + bytes <= cap;
    if (!fits) p.buckets.push_back({});
    p.buckets.back().tensors.push_back(t);
    p.buckets.back().bytes += bytes;
    p.bucket_of[size_t(t)] = int(p.buckets.size()) - 1;
  }
  return p;
}

}  // namespace rwkv
