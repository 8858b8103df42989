// An in-process stand-in for NCCL, for tests only: the ranks are threads of one test and every
// collective is a barrier plus plain loops over the other ranks' buffers. It checks what NCCL
// would silently hang on: every rank must issue the same collective with the same sizes in the
// same order (a mismatch throws E_TEST_COLLECTIVE_ORDER on every rank). It lets CI check the
// bucketing, sharding and ZeRO-1 logic of engine/dist; it is never linked into the product.
#pragma once
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/errors.h"
#include "dist/communicator.h"

namespace rwkv_test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int world) : world_(world), posted_(size_t(world)), sig_(size_t(world)) {}
  int world() const { return world_; }

  // Everyone posts (signature, payload), waits for all, and sees every rank's payload.
  std::vector<const void*> exchange(int rank, const std::string& sig, const void* payload) {
    std::unique_lock<std::mutex> lock(m_);
    posted_[size_t(rank)] = payload;
    sig_[size_t(rank)] = sig;
    wait(lock);
    std::vector<const void*> all = posted_;
    for (const auto& s : sig_)
      if (s != sig) mismatch_ = true;
    const bool bad = mismatch_;
    wait(lock);  // nobody reuses the slots before every rank read them
    if (bad)
      throw rwkv::EngineError("E_TEST_COLLECTIVE_ORDER", "ranks issued different collectives: " + sig, "");
    return all;
  }
  void barrier(int) {
    std::unique_lock<std::mutex> lock(m_);
    wait(lock);
  }
  void abort() {
    std::lock_guard<std::mutex> lock(m_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  void wait(std::unique_lock<std::mutex>& lock) {
    if (aborted_) throw rwkv::EngineError("E_DIST_ABORTED", "a rank aborted", "");
    const int64_t gen = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return generation_ != gen || aborted_; }))
      throw rwkv::EngineError("E_DIST_TIMEOUT", "a rank did not reach the collective within 20 s", "");
    if (generation_ == gen) throw rwkv::EngineError("E_DIST_ABORTED", "a rank aborted", "");
  }
  int world_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  bool aborted_ = false, mismatch_ = false;
  std::vector<const void*> posted_;
  std::vector<std::string> sig_;
};

class ThreadCommunicator final : public rwkv::Communicator {
 public:
  ThreadCommunicator(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return g_.world(); }
  std::string name() const override { return "test threads"; }

  void all_reduce_sum_async(const std::vector<rwkv::FloatSpan>& spans) override {
    std::string sig = "all_reduce";
    for (const auto& s : spans) sig += ":" + std::to_string(s.count);
    const auto all = g_.exchange(rank_, sig, &spans);
    std::vector<std::vector<float>> sums;
    for (size_t i = 0; i < spans.size(); ++i) {
      std::vector<float> acc(size_t(spans[i].count), 0.0f);
      for (const void* p : all) {  // rank order, as a fixed reduction order would be
        const auto& theirs = *static_cast<const std::vector<rwkv::FloatSpan>*>(p);
        for (int64_t k = 0; k < spans[i].count; ++k) acc[size_t(k)] += theirs[i].data[k];
      }
      sums.push_back(std::move(acc));
    }
    g_.barrier(rank_);  // everyone has read every input before anyone writes
    for (size_t i = 0; i < spans.size(); ++i) std::copy(sums[i].begin(), sums[i].end(), spans[i].data);
    ++all_reduces;
    elements_reduced += [&] { int64_t n = 0; for (const auto& s : spans) n += s.count; return n; }();
  }
  void wait_all() override { ++waits; }
  void broadcast(const std::vector<rwkv::BroadcastPiece>& pieces) override {
    std::string sig = "broadcast";
    for (const auto& p : pieces) sig += ":" + std::to_string(p.count) + "@" + std::to_string(p.root);
    const auto all = g_.exchange(rank_, sig, &pieces);
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i].root == rank_) continue;
      const auto& roots = *static_cast<const std::vector<rwkv::BroadcastPiece>*>(all[size_t(pieces[i].root)]);
      std::copy(roots[i].data, roots[i].data + pieces[i].count, pieces[i].data);
    }
    g_.barrier(rank_);  // the owners keep their slices unchanged until every copy is made
    ++broadcasts;
  }
  void all_gather_host(const double* in, int64_t count, double* out) override {
    const auto all = g_.exchange(rank_, "all_gather:" + std::to_string(count), in);
    for (size_t r = 0; r < all.size(); ++r)
      std::copy(static_cast<const double*>(all[r]), static_cast<const double*>(all[r]) + count, out + r * size_t(count));
    g_.barrier(rank_);  // every rank's input stays alive until all have copied it
  }
  void all_gather_to_host(const float* send, int64_t count, float* recv) override {
    const auto all = g_.exchange(rank_, "all_gather_to_host:" + std::to_string(count), send);
    for (size_t r = 0; r < all.size(); ++r)
      std::copy(static_cast<const float*>(all[r]), static_cast<const float*>(all[r]) + count, recv + r * size_t(count));
    g_.barrier(rank_);
  }
  void abort() override { g_.abort(); }

  int all_reduces = 0, waits = 0, broadcasts = 0;
  int64_t elements_reduced = 0;

 private:
  ThreadGroup& g_;
  int rank_;
};

}  // namespace rwkv_test
