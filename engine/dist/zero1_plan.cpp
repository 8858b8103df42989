// ZeRO-1 slices of the trained parameters (see zero1_plan.h).
#include "dist/zero1_plan.h"

#include <algorithm>

namespace rwkv {

Zero1Plan zero1_plan(const std::vector<int64_t>& numels, int world_size, int64_t granule) {
  Zero1Plan p;
  p.world_size = world_size;
  for (int64_t n : numels) p.total += n;
  const int64_t even = (p.total + world_size - 1) / world_size;
  p.shard = std::max<int64_t>(granule, (even + granule - 1) / granule * granule);
  p.owned.assign(size_t(world_size), {});
  int64_t start = 0;  // the tensor's first flat element
  for (size_t t = 0; t < numels.size(); ++t) {
    const int64_t end = start + numels[t];
    for (int64_t at = start; at < end;) {
      const int r = p.owner(at);
      const int64_t stop = std::min(end, int64_t(r + 1) * p.shard);
      p.owned[size_t(r)].push_back(TensorSlice{int(t), at - start, stop - start});
      at = stop;
    }
    start = end;
  }
  return p;
}

}  // namespace rwkv
