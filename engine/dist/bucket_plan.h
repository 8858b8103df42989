// Gradient buckets for the all-reduce that overlaps the backward: tensors in the order their
// gradients are finished (the backward runs from the head to the embedding, the reverse of
// trainable_params()), packed into buckets of at most cap_bytes (a tensor larger than that is a
// bucket of its own). As in PyTorch DDP the first bucket is small (first_cap_bytes) so the first
// all-reduce starts early, and the rest are 25 MiB. Buckets are launched strictly in index order
// on every rank: collectives must be issued in the same order everywhere or NCCL deadlocks.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace rwkv {

struct GradBucket {
  std::vector<int> tensors;  // trainable_params() indices, in launch order
  int64_t bytes = 0;
};

struct BucketPlan {
  std::vector<GradBucket> buckets;
  std::vector<int> bucket_of;  // per tensor
};

BucketPlan bucket_plan(const std::vector<int64_t>& numels, int64_t cap_bytes = 25ll << 20,
                       int64_t first_cap_bytes = 1ll << 20, int64_t element_bytes = 4);

}  // namespace rwkv
