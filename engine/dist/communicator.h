// The collectives data-parallel training needs, over the buffers of Backend::trainable_view().
// The product implementation is NCCL's (engine/cuda/nccl_communicator.cu, through the symbols
// dist/nccl_loader.h loads); tests check the bucketing and sharding logic with an in-process
// stand-in over threads (engine/tests/thread_communicator.h), which is never a product path.
// Every rank must call the same collectives in the same order with the same sizes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/rendezvous.h"

namespace rwkv {

struct FloatSpan {
  float* data = nullptr;
  int64_t count = 0;
};

struct BroadcastPiece {
  float* data = nullptr;  // the same element range on every rank: written by `root`, read by the rest
  int64_t count = 0;
  int root = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sums every span over the ranks, in place, as one group (one gradient bucket). Returns when
  // it is queued: it runs while the backward goes on, ordered after the work already queued on
  // the compute stream.
  virtual void all_reduce_sum_async(const std::vector<FloatSpan>& spans) = 0;
  // Every queued collective has finished and the compute stream is ordered after it. Bounded:
  // a peer that is gone or hangs ends in E_DIST_TIMEOUT / E_NCCL after the timeout, with the
  // communicator aborted.
  virtual void wait_all() = 0;
  // In-place broadcasts as one group: ZeRO-1's all-gather of the updated slices, each piece
  // from the rank that owns it.
  virtual void broadcast(const std::vector<BroadcastPiece>& pieces) = 0;
  // Every rank's `count` floats from `send` (the backend's memory: device for CUDA) into host
  // memory, rank r's at recv[r * count ...]: ZeRO-1's sharded AdamW state gathered for the
  // resume file. Synchronous; staged in bounded pieces, so it needs no second copy of the state
  // on the device.
  virtual void all_gather_to_host(const float* send, int64_t count, float* recv) = 0;
  // Small host values (losses, memory figures, stop flags): rank r's `count` values land at
  // out[r * count ...]. Synchronous.
  virtual void all_gather_host(const double* in, int64_t count, double* out) = 0;
  // Stops every collective of this rank now (a peer failed); later calls throw.
  virtual void abort() = 0;
  // What carries the collectives, for the start event ("NCCL 2.21.3").
  virtual std::string name() const = 0;
  // The stream the backend computes on (TrainableView::stream): collectives are ordered after
  // the work queued there when they are called, and the stream waits for them in wait_all().
  virtual void bind_compute_stream(void* stream) { (void)stream; }
};

#ifdef RWKV_HAVE_CUDA
// NCCL over the CUDA device `device` (engine/cuda/nccl_communicator.cu). Rank 0 made `id` with
// nccl_unique_id(); collectives that take longer than timeout_ms end in E_DIST_TIMEOUT.
std::unique_ptr<Communicator> make_nccl_communicator(int rank, int world_size, int device, const UniqueIdBytes& id,
                                                     int timeout_ms);
UniqueIdBytes nccl_unique_id();
#endif

}  // namespace rwkv
