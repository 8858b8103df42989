// Device probe, stream, cuBLASLt handle and the row-major GEMM wrapper.
#include "cuda/cuda_context.h"

#include <cuda_runtime.h>

#include <cstring>

#include "core/errors.h"
#include "cuda/cublaslt_loader.h"

namespace rwkv::cuda {

void check_cuda(int err, const char* what) {
  if (err == cudaSuccess) return;
  throw EngineError("E_CUDA", std::string(what) + " failed: " +
                                  cudaGetErrorString(static_cast<cudaError_t>(err)),
                    "Check `nvidia-smi`; if the GPU is busy or out of memory, lower micro_bsz or "
                    "ctx_len, or use --grad_cp 1.");
}

DeviceInfo probe_device(int index) {
  DeviceInfo info;
  info.index = index;
  cudaDriverGetVersion(&info.driver_version);
  cudaRuntimeGetVersion(&info.runtime_version);
  if (info.driver_version == 0)
    throw EngineError("E_NO_CUDA_DRIVER", "No NVIDIA driver was found (libcuda.so is missing).",
                      "Install the NVIDIA driver for your GPU, or train with --accelerator cpu.");
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorInsufficientDriver)
    throw EngineError("E_NO_CUDA_DRIVER",
                      "The NVIDIA driver (CUDA " + std::to_string(info.driver_version / 1000) + "." +
                          std::to_string(info.driver_version % 1000 / 10) +
                          ") is older than this engine's CUDA runtime (" +
                          std::to_string(info.runtime_version / 1000) + "." +
                          std::to_string(info.runtime_version % 1000 / 10) + ").",
                      "Update the NVIDIA driver, or train with --accelerator cpu.");
  if (err == cudaErrorNoDevice || count == 0)
    throw EngineError("E_NO_GPU", "No CUDA GPU is visible to this process.",
                      "Check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or train with --accelerator cpu.");
  check_cuda(err, "cudaGetDeviceCount");
  if (index < 0 || index >= count)
    throw EngineError("E_NO_GPU", "GPU " + std::to_string(index) + " does not exist (" +
                                      std::to_string(count) + " visible).",
                      "Lower --devices or fix CUDA_VISIBLE_DEVICES.");
  cudaDeviceProp prop;
  check_cuda(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  if (prop.major < 8)
    throw EngineError("E_GPU_TOO_OLD",
                      info.name + " has compute capability " + std::to_string(prop.major) + "." +
                          std::to_string(prop.minor) + "; bf16 training needs 8.0 (Ampere) or newer.",
                      "Use an Ampere, Ada or Hopper GPU, or train with --accelerator cpu.");
  return info;
}

Context::Context(int device_index) : info_(probe_device(device_index)) {
  check_cuda(cudaSetDevice(device_index), "cudaSetDevice");
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  const lt::Api& api = lt::load();
  if (api.create(&handle_) != 0)
    throw EngineError("E_NO_CUBLAS", "cublasLtCreate failed with " + api.path,
                      "The cuBLASLt library may not match the driver; set RWKV_CUBLASLT.");
  workspace_bytes_ = 32u << 20;  // what cuBLASLt's Hopper kernels ask for at most
  check_cuda(cudaMalloc(&workspace_, workspace_bytes_), "cudaMalloc(cuBLASLt workspace)");
}

Context::~Context() {
  if (handle_) {
    const lt::Api& api = lt::load();
    for (auto& kv : plans_) {
      api.layout_destroy(kv.second.layout_first);
      api.layout_destroy(kv.second.layout_second);
      api.layout_destroy(kv.second.layout_out);
      api.desc_destroy(kv.second.desc);
    }
    api.destroy(handle_);
  }
  if (workspace_) cudaFree(workspace_);
  if (stream_) cudaStreamDestroy(stream_);
}

const std::string& Context::cublaslt_path() const { return lt::load().path; }

Context::GemmPlan& Context::plan_for(bool trans_a, bool trans_b, int M, int N, int K, int lda,
                                     int ldb, int ldc, GemmOut out) {
  const std::string key = std::to_string(trans_a) + std::to_string(trans_b) + ':' + std::to_string(M) +
                          ',' + std::to_string(N) + ',' + std::to_string(K) + ',' + std::to_string(lda) +
                          ',' + std::to_string(ldb) + ',' + std::to_string(ldc) + ',' +
                          std::to_string(static_cast<int>(out));
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second;
  // cuBLASLt is column-major: a row-major X[r][c] is the column-major X^T. So row-major
  // C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: pass B first, A second, m=N, n=M.
  const lt::Api& api = lt::load();
  auto fail = [&](const char* what, lt::Status s) {
    throw EngineError("E_CUBLAS", std::string(what) + " failed with cuBLAS status " + std::to_string(s),
                      "Shapes: M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  };
  GemmPlan plan;
  lt::Status s;
  if ((s = api.desc_create(&plan.desc, lt::kComputeF32, lt::kR32F))) fail("cublasLtMatmulDescCreate", s);
  int op_first = trans_b ? lt::kOpT : lt::kOpN, op_second = trans_a ? lt::kOpT : lt::kOpN;
  api.desc_set(plan.desc, lt::kDescTransA, &op_first, sizeof(int));
  api.desc_set(plan.desc, lt::kDescTransB, &op_second, sizeof(int));
  // First operand (B): column-major [N,K] when not transposed, else stored [K,N] column-major.
  if ((s = trans_b ? api.layout_create(&plan.layout_first, lt::kR16BF, K, N, ldb)
                   : api.layout_create(&plan.layout_first, lt::kR16BF, N, K, ldb)))
    fail("cublasLtMatrixLayoutCreate(B)", s);
  if ((s = trans_a ? api.layout_create(&plan.layout_second, lt::kR16BF, M, K, lda)
                   : api.layout_create(&plan.layout_second, lt::kR16BF, K, M, lda)))
    fail("cublasLtMatrixLayoutCreate(A)", s);
  if ((s = api.layout_create(&plan.layout_out, out == GemmOut::BF16 ? lt::kR16BF : lt::kR32F, N, M, ldc)))
    fail("cublasLtMatrixLayoutCreate(C)", s);
  lt::Preference pref = nullptr;
  api.pref_create(&pref);
  uint64_t ws = workspace_bytes_;
  api.pref_set(pref, lt::kPrefMaxWorkspace, &ws, sizeof(ws));
  lt::HeuristicResult result{};
  int returned = 0;
  s = api.heuristic(handle_, plan.desc, plan.layout_first, plan.layout_second, plan.layout_out,
                    plan.layout_out, pref, 1, &result, &returned);
  api.pref_destroy(pref);
  if (s || returned == 0) fail("cublasLtMatmulAlgoGetHeuristic", s ? s : -1);
  static_assert(sizeof(plan.algo) == sizeof(result.algo), "cublasLtMatmulAlgo_t is 64 bytes");
  std::memcpy(plan.algo, &result.algo, sizeof(plan.algo));
  return plans_.emplace(key, plan).first->second;
}

void Context::gemm(bool trans_a, bool trans_b, int M, int N, int K, const void* A, int lda,
                   const void* B, int ldb, void* C, int ldc, GemmOut out, float alpha, float beta) {
  GemmPlan& plan = plan_for(trans_a, trans_b, M, N, K, lda, ldb, ldc, out);
  const lt::Api& api = lt::load();
  lt::Algo algo;
  std::memcpy(&algo, plan.algo, sizeof(algo));
  const lt::Status s = api.matmul(handle_, plan.desc, &alpha, B, plan.layout_first, A, plan.layout_second,
                                  &beta, C, plan.layout_out, C, plan.layout_out, &algo, workspace_,
                                  workspace_bytes_, stream_);
  if (s)
    throw EngineError("E_CUBLAS", "cublasLtMatmul failed with cuBLAS status " + std::to_string(s),
                      "Shapes: M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
}

}  // namespace rwkv::cuda
