// The CUDA backend's failure paths on a machine that cannot use it (the CI machine has no GPU,
// and may have no driver): every path ends in an EngineError with a known code and a hint,
// never a crash. On a machine with a usable GPU the probe's success is checked instead.
// Built without CUDA (no nvcc), this test only reports that there is nothing to check.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "core/errors.h"
#include "tests/check.h"

#ifdef RWKV_HAVE_CUDA
#include "core/backend.h"
#include "cuda/cublaslt_loader.h"
#include "cuda/cuda_context.h"
#endif

int main() {
#ifndef RWKV_HAVE_CUDA
  std::fprintf(stderr, "cuda_errors_test: built without the CUDA backend, nothing to check\n");
  return 0;
#else
  const std::set<std::string> device_codes = {"E_NO_CUDA_DRIVER", "E_NO_GPU", "E_GPU_TOO_OLD"};
  bool have_gpu = false;
  try {
    rwkv::cuda::DeviceInfo info = rwkv::cuda::probe_device(0);
    have_gpu = true;
    CHECK(info.major >= 8);
    CHECK(!info.name.empty());
  } catch (const rwkv::EngineError& e) {
    CHECK(device_codes.count(e.code) == 1);
    CHECK(!e.hint.empty());
    CHECK(std::string(e.what()).size() > 10);
  }
  // A GPU index past the end is E_NO_GPU (or the driver error when there is no driver).
  try {
    rwkv::cuda::probe_device(4096);
    CHECK(false);
  } catch (const rwkv::EngineError& e) {
    CHECK(e.code == "E_NO_GPU" || e.code == "E_NO_CUDA_DRIVER");
  }
  // make_cuda_backend reports the same reasons as the probe (or, on a GPU, that the empty
  // state dict is not an x070 model), as an EngineError.
  try {
    rwkv::ModelConfig cfg = rwkv::model_config_for_size(2, 64, 256);
    rwkv::make_cuda_backend(cfg, rwkv::PeftConfig{}, rwkv::StateDict{}, rwkv::BackendOptions{});
    CHECK(false);
  } catch (const rwkv::EngineError& e) {
    CHECK(device_codes.count(e.code) == 1 || e.code == "E_NO_CUBLAS" ||
          (have_gpu && e.code == "E_MODEL_SHAPE"));
    CHECK(!e.hint.empty());
  }
  // RWKV_CUBLASLT is looked at first, before the toolkit and the Python wheels.
  setenv("RWKV_CUBLASLT", "/nonexistent/libcublasLt.so.99", 1);
  auto paths = rwkv::cuda::lt::candidate_paths();
  CHECK(!paths.empty() && paths.front() == "/nonexistent/libcublasLt.so.99");
  // Loading: either a real library is found, or E_NO_CUBLAS lists where it looked.
  try {
    const auto& api = rwkv::cuda::lt::load();
    CHECK(api.version >= 110000);
  } catch (const rwkv::EngineError& e) {
    CHECK(e.code == "E_NO_CUBLAS");
    CHECK(std::string(e.what()).find("/nonexistent/libcublasLt.so.99") != std::string::npos);
  }
  return rwkv_test::summary("cuda_errors_test");
#endif
}
