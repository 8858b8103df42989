// Data-parallel training as the trainer sees it (train/trainer.cpp, when TrainHooks::dp is
// set): the gradient all-reduce in buckets overlapping the backward, ZeRO-1 (each rank updates
// the AdamW state of its slice, then every slice is sent to the others), the whole optimizer
// state gathered before rank 0 writes it, and the small agreements between ranks (mean loss,
// a stop requested anywhere, every rank's memory). The gradients are summed: the trainer scales
// the loss by 1 / world_size so the sum is the mean over the global batch.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/zero1_plan.h"

namespace rwkv {

class DataParallel {
 public:
  DataParallel(Communicator& comm, int num_nodes, int devices);
  int rank() const { return comm_.rank(); }
  int world_size() const { return comm_.world_size(); }
  int num_nodes() const { return num_nodes_; }
  int devices() const { return devices_; }
  std::string collectives() const { return comm_.name(); }

  // Plans the buckets and the ZeRO-1 slices over the backend's trainable tensors and hooks the
  // backward. Every rank starts from the same weights (each loads the same files), so nothing is
  // broadcast here.
  void attach(Backend& backend);
  // The coming micro-batch ends an optimizer step (its gradients go out bucket by bucket).
  void arm() { sync_->arm(); }
  void sync_grads() { sync_->finish(); }
  int buckets_overlapped() const { return sync_->launched_early(); }
  // AdamW on this rank's slice, then every rank's slice to every rank.
  void optimizer_step(const AdamWParams& hp);
  // The whole AdamW state, "<name>.exp_avg"/".exp_avg_sq" per tensor + "step", as one backend
  // exports it (core/optimizer_state.h): a collective, every rank gets it, rank 0 writes it.
  StateDict optimizer_state();
  // This rank's slices of a whole state (a resume file written with any world size).
  void load_optimizer_state(const StateDict& whole);

  double mean(double value);
  bool any(bool value);
  std::vector<double> gather(const std::vector<double>& mine);  // rank-major: out[r * n + i]

  const Zero1Plan& zero1() const { return zero1_; }

 private:
  std::vector<BroadcastPiece> pieces(const std::vector<float*>& buffers) const;
  Communicator& comm_;
  int num_nodes_, devices_;
  Backend* backend_ = nullptr;
  TrainableView view_;
  Zero1Plan zero1_;
  std::unique_ptr<GradSync> sync_;
};

}  // namespace rwkv
