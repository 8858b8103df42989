// The product Communicator (dist/communicator.h): NCCL through the symbols dist/nccl_loader.h
// loaded, on its own CUDA stream ordered against the backend's compute stream with events, so
// a gradient bucket's all-reduce runs while the backward computes earlier layers. Every wait is
// bounded: the host polls the collective's event, NCCL's asynchronous error and a deadline,
// and on a dead or hung peer aborts the communicator (ncclCommAbort) and throws, so the rank
// ends with an error instead of hanging (the launcher then stops the others).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/errors.h"
#include "cuda/cuda_context.h"
#include "dist/communicator.h"
#include "dist/nccl_loader.h"

namespace rwkv {
namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int world, int device, const UniqueIdBytes& id, int timeout_ms)
      : lib_(process_nccl()), rank_(rank), world_(world), timeout_ms_(timeout_ms) {
    cuda::check_cuda(cudaSetDevice(device), "cudaSetDevice (NCCL rank)");
    cuda::check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate (NCCL)");
    cuda::check_cuda(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming), "cudaEventCreate");
    cuda::check_cuda(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming), "cudaEventCreate");
    nccl::UniqueId uid;
    std::memcpy(uid.internal, id.data(), nccl::kUniqueIdBytes);
    check(lib_.api.comm_init_rank(&comm_, world, uid, rank), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) (aborted_ ? lib_.api.comm_abort : lib_.api.comm_destroy)(comm_);
    if (host_buf_) cudaFree(host_buf_);
    if (stage_) cudaFree(stage_);
    cudaEventDestroy(compute_done_);
    cudaEventDestroy(comm_done_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string name() const override { return "NCCL " + nccl_version_string(lib_.version); }
  void bind_compute_stream(void* s) override { compute_ = static_cast<cudaStream_t>(s); }

  void all_reduce_sum_async(const std::vector<FloatSpan>& spans) override {
    after_compute();
    check(lib_.api.group_start(), "ncclGroupStart");
    for (const FloatSpan& sp : spans)
      check(lib_.api.all_reduce(sp.data, sp.data, size_t(sp.count), nccl::kFloat32, nccl::kSum, comm_, stream_),
            "ncclAllReduce");
    check(lib_.api.group_end(), "ncclGroupEnd");
  }

  void wait_all() override {
    cuda::check_cuda(cudaEventRecord(comm_done_, stream_), "cudaEventRecord (NCCL)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    while (true) {
      const cudaError_t q = cudaEventQuery(comm_done_);
      if (q == cudaSuccess) break;
      if (q != cudaErrorNotReady) cuda::check_cuda(q, "NCCL collective");
      nccl::Result async = nccl::kSuccess;
      if (lib_.api.comm_get_async_error(comm_, &async) == nccl::kSuccess && async != nccl::kSuccess &&
          async != nccl::kInProgress) {
        abort();
        throw EngineError("E_NCCL", std::string("a collective failed: ") + lib_.api.get_error_string(async),
                          "another rank failed or its machine is unreachable; see that rank's error");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        abort();
        throw EngineError("E_DIST_TIMEOUT",
                          "a collective did not finish within " + std::to_string(timeout_ms_ / 1000) +
                              " s: another rank is gone or hangs",
                          "see the other ranks' errors; RWKV_DIST_TIMEOUT_S sets this limit");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (compute_) cuda::check_cuda(cudaStreamWaitEvent(compute_, comm_done_, 0), "cudaStreamWaitEvent");
  }

  void broadcast(const std::vector<BroadcastPiece>& pieces) override {
    after_compute();
    check(lib_.api.group_start(), "ncclGroupStart");
    for (const BroadcastPiece& p : pieces)
      check(lib_.api.broadcast(p.data, p.data, size_t(p.count), nccl::kFloat32, p.root, comm_, stream_), "ncclBroadcast");
    check(lib_.api.group_end(), "ncclGroupEnd");
    wait_all();
  }

  void all_gather_host(const double* in, int64_t count, double* out) override {
    const size_t need = size_t(count) * size_t(world_ + 1) * sizeof(double);
    if (need > host_buf_bytes_) {
      if (host_buf_) cudaFree(host_buf_);
    if (stage_) cudaFree(stage_);
      cuda::check_cuda(cudaMalloc(&host_buf_, need), "cudaMalloc (NCCL scalars)");
      host_buf_bytes_ = need;
    }
    double* send = static_cast<double*>(host_buf_);
    double* recv = send + count;
    cuda::check_cuda(cudaMemcpyAsync(send, in, size_t(count) * sizeof(double), cudaMemcpyHostToDevice, stream_), "cudaMemcpy");
    check(lib_.api.all_gather(send, recv, size_t(count), nccl::kFloat64, comm_, stream_), "ncclAllGather");
    wait_all();
    cuda::check_cuda(cudaMemcpy(out, recv, size_t(count) * world_ * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  }

  void all_gather_to_host(const float* send, int64_t count, float* recv) override {
    after_compute();
    const int64_t chunk = std::min<int64_t>(count, int64_t(4) << 20);  // 16 MiB a rank per piece
    const size_t need = size_t(std::max<int64_t>(chunk, 1)) * size_t(world_) * sizeof(float);
    if (need > stage_bytes_) {
      if (stage_) cudaFree(stage_);
      cuda::check_cuda(cudaMalloc(&stage_, need), "cudaMalloc (NCCL gather staging)");
      stage_bytes_ = need;
    }
    float* stage = static_cast<float*>(stage_);
    for (int64_t at = 0; at < count; at += chunk) {
      const int64_t n = std::min(chunk, count - at);
      check(lib_.api.all_gather(send + at, stage, size_t(n), nccl::kFloat32, comm_, stream_), "ncclAllGather");
      wait_all();
      for (int r = 0; r < world_; ++r)
        cuda::check_cuda(cudaMemcpyAsync(recv + size_t(r) * size_t(count) + size_t(at), stage + size_t(r) * size_t(n),
                                         size_t(n) * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                         "cudaMemcpy (NCCL gather)");
      cuda::check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (NCCL gather)");
    }
  }

  void abort() override {
    if (comm_ && !aborted_) lib_.api.comm_abort(comm_);
    aborted_ = true;
    comm_ = nullptr;
  }

 private:
  // The collective reads what the compute stream has queued so far.
  void after_compute() {
    if (aborted_) throw EngineError("E_DIST_ABORTED", "the NCCL communicator was aborted", "");
    if (!compute_) return;
    cuda::check_cuda(cudaEventRecord(compute_done_, compute_), "cudaEventRecord (compute)");
    cuda::check_cuda(cudaStreamWaitEvent(stream_, compute_done_, 0), "cudaStreamWaitEvent (NCCL)");
  }
  void check(nccl::Result r, const char* what) {
    if (r == nccl::kSuccess) return;
    const std::string why = lib_.api.get_error_string ? lib_.api.get_error_string(r) : "error";
    throw EngineError("E_NCCL", std::string(what) + " failed: " + why + " (rank " + std::to_string(rank_) + ")",
                      "NCCL_DEBUG=INFO in the environment shows NCCL's own account");
  }

  const NcclLibrary& lib_;
  int rank_, world_, timeout_ms_;
  nccl::Comm comm_ = nullptr;
  bool aborted_ = false;
  cudaStream_t stream_ = nullptr, compute_ = nullptr;
  cudaEvent_t compute_done_ = nullptr, comm_done_ = nullptr;
  void* host_buf_ = nullptr;
  size_t host_buf_bytes_ = 0;
  void* stage_ = nullptr;  // all_gather_to_host's pieces
  size_t stage_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(int rank, int world_size, int device, const UniqueIdBytes& id,
                                                     int timeout_ms) {
  return std::make_unique<NcclCommunicator>(rank, world_size, device, id, timeout_ms);
}

UniqueIdBytes nccl_unique_id() {
  const NcclLibrary& lib = process_nccl();
  nccl::UniqueId uid;
  const nccl::Result r = lib.api.get_unique_id(&uid);
  if (r != nccl::kSuccess)
    throw EngineError("E_NCCL", std::string("ncclGetUniqueId failed: ") + lib.api.get_error_string(r),
                      "NCCL_DEBUG=INFO shows why; NCCL_SOCKET_IFNAME picks the network interface");
  UniqueIdBytes id;
  std::memcpy(id.data(), uid.internal, nccl::kUniqueIdBytes);
  return id;
}

}  // namespace rwkv
