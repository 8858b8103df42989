// The GPU the CUDA backend runs on: checks that a driver, a GPU and a new enough one exist
// (each missing piece is its own EngineError code), owns the stream, the cuBLASLt handle and
// its workspace, and does row-major bf16 matrix products on the tensor cores.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
  int driver_version = 0, runtime_version = 0;
};

// Throws EngineError: E_NO_CUDA_DRIVER (no driver / driver older than the runtime),
// E_NO_GPU (no CUDA device, or index out of range), E_GPU_TOO_OLD (compute capability < 8.0:
// bf16 tensor cores are needed).
DeviceInfo probe_device(int index);

// Throws EngineError E_CUDA with the failing call and CUDA's own message.
void check_cuda(int err, const char* what);

enum class GemmOut { BF16, F32 };

class Context {
 public:
  explicit Context(int device_index);  // probes, selects the device, loads cuBLASLt
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& device() const { return info_; }
  cudaStream_t stream() const { return stream_; }
  const std::string& cublaslt_path() const;

  // Row-major C[M,N] = alpha * op(A) op(B) + beta * C, A and B bf16, fp32 accumulation.
  // op(A) is [M,K]: A stored [M,K] (trans_a false, lda >= K) or [K,M] (trans_a true).
  // op(B) is [K,N]: B stored [K,N] (trans_b false) or [N,K] (trans_b true, e.g. a torch weight).
  void gemm(bool trans_a, bool trans_b, int M, int N, int K, const void* A, int lda,
            const void* B, int ldb, void* C, int ldc, GemmOut out, float alpha = 1.f,
            float beta = 0.f);

 private:
  // cuBLASLt descriptors, layouts and the chosen algorithm per GEMM shape: a training step
  // repeats the same few dozen shapes, so each is planned once (creating descriptors and
  // asking the heuristic costs tens of microseconds per call).
  struct GemmPlan {
    void* desc = nullptr;
    void* layout_first = nullptr;
    void* layout_second = nullptr;
    void* layout_out = nullptr;
    uint64_t algo[8] = {};
  };
  GemmPlan& plan_for(bool trans_a, bool trans_b, int M, int N, int K, int lda, int ldb, int ldc,
                     GemmOut out);
  std::unordered_map<std::string, GemmPlan> plans_;

  DeviceInfo info_;
  cudaStream_t stream_ = nullptr;
  void* handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace rwkv::cuda
