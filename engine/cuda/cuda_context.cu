// Device probe, stream, cuBLASLt handle and the row-major GEMM wrapper.
#include "cuda/cuda_context.h"

#include <cuda_runtime.h>

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
  if (handle_) lt::load().destroy(handle_);
  if (workspace_) cudaFree(workspace_);
  if (stream_) cudaStreamDestroy(stream_);
}

const std::string& Context::cublaslt_path() const { return lt::load().path; }

void Context::gemm(bool trans_a, bool trans_b, int M, int N, int K, const void* A, int lda,
                   const void* B, int ldb, void* C, int ldc, GemmOut out, float alpha, float beta) {
  // cuBLASLt is column-major: a row-major X[r][c] is the column-major X^T. So row-major
  // C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: pass B first, A second, m=N, n=M.
  const lt::Api& api = lt::load();
  lt::MatmulDesc desc = nullptr;
  lt::MatrixLayout la = nullptr, lb = nullptr, lc = nullptr;
  lt::Preference pref = nullptr;
  auto fail = [&](const char* what, lt::Status s) {
    throw EngineError("E_CUBLAS", std::string(what) + " failed with cuBLAS status " + std::to_string(s),
                      "Shapes: M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  };
  lt::Status s;
  if ((s = api.desc_create(&desc, lt::kComputeF32, lt::kR32F))) fail("cublasLtMatmulDescCreate", s);
  int op_first = trans_b ? lt::kOpT : lt::kOpN, op_second = trans_a ? lt::kOpT : lt::kOpN;
  api.desc_set(desc, lt::kDescTransA, &op_first, sizeof(int));
  api.desc_set(desc, lt::kDescTransB, &op_second, sizeof(int));
  // First operand (B): column-major [N,K] when not transposed, else stored [K,N] column-major.
  if ((s = trans_b ? api.layout_create(&la, lt::kR16BF, K, N, ldb) : api.layout_create(&la, lt::kR16BF, N, K, ldb)))
    fail("cublasLtMatrixLayoutCreate(B)", s);
  if ((s = trans_a ? api.layout_create(&lb, lt::kR16BF, M, K, lda) : api.layout_create(&lb, lt::kR16BF, K, M, lda)))
    fail("cublasLtMatrixLayoutCreate(A)", s);
  if ((s = api.layout_create(&lc, out == GemmOut::BF16 ? lt::kR16BF : lt::kR32F, N, M, ldc)))
    fail("cublasLtMatrixLayoutCreate(C)", s);
  api.pref_create(&pref);
  uint64_t ws = workspace_bytes_;
  api.pref_set(pref, lt::kPrefMaxWorkspace, &ws, sizeof(ws));
  lt::HeuristicResult result{};
  int returned = 0;
  s = api.heuristic(handle_, desc, la, lb, lc, lc, pref, 1, &result, &returned);
  if (s || returned == 0) fail("cublasLtMatmulAlgoGetHeuristic", s ? s : -1);
  s = api.matmul(handle_, desc, &alpha, B, la, A, lb, &beta, C, lc, C, lc, &result.algo, workspace_,
                 workspace_bytes_, stream_);
  api.pref_destroy(pref);
  api.layout_destroy(la);
  api.layout_destroy(lb);
  api.layout_destroy(lc);
  api.desc_destroy(desc);
  if (s) fail("cublasLtMatmul", s);
}

}  // namespace rwkv::cuda
