// ZeRO-1 (what DeepSpeed's stage 1 means): each rank owns a contiguous slice of the trained
// parameters, laid end to end in trainable_params() order, and keeps the AdamW update for that
// slice; after the step every owner sends its slice to the others (dist/data_parallel.h). The
// slices are equal (a multiple of `granule` elements) except the last, so ranks do the same work.
// The plan is a pure function of the tensor sizes and the world size, so a run resumed with
// another world size takes a new plan over the same full optimizer state (the resume file
// always holds every tensor's moments whole, gathered before it is written).
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace rwkv {

struct Zero1Plan {
  int world_size = 1;
  int64_t total = 0;   // elements over all trained tensors
  int64_t shard = 0;   // elements each rank owns (the last may own fewer)
  std::vector<std::vector<TensorSlice>> owned;  // per rank, in flat order

  int owner(int64_t flat_element) const { return int(flat_element / shard); }
};

Zero1Plan zero1_plan(const std::vector<int64_t>& numels, int world_size, int64_t granule = 128);

}  // namespace rwkv
