// The CUDA backend's failure paths, each with the exact code this machine must give. What the
// machine has is found independently of the code under test: whether libcuda.so.1 loads
// (dlopen here), and the GPUs NVML lists (core/gpus, which reads the driver's NVML, not CUDA).
//   built without CUDA: a GPU run ends in E_NO_CUDA; the CUDA paths are skipped (exit 77,
//     CTest's SKIP_RETURN_CODE, so the run shows as skipped and not as passed);
//   no driver: E_NO_CUDA_DRIVER; a driver and no GPU: E_NO_GPU; a GPU older than sm_80:
//     E_GPU_TOO_OLD; a usable GPU: the probe reports the GPU NVML names.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/errors.h"
#include "core/gpus.h"
#include "core/json.h"
#include "core/protocol.h"
#include "tests/check.h"
#include "tests/protocol_check.h"
#include "train/trainer.h"

#ifdef RWKV_HAVE_CUDA
#include "core/backend.h"
#include "cuda/cublaslt_loader.h"
#include "cuda/cuda_context.h"
#endif

namespace {

constexpr int kSkip = 77;  // engine/CMakeLists.txt sets it as this test's SKIP_RETURN_CODE

// What the environment must make probe_device(0) say: "" for a usable GPU, else the code.
std::string expected_probe_code(const rwkv::GpuList& nvml) {
  void* cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!cuda) return "E_NO_CUDA_DRIVER";
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (visible && (std::string(visible).empty() || std::string(visible) == "-1")) return "E_NO_GPU";
  if (nvml.gpus.empty()) return "E_NO_GPU";
  // CUDA numbers GPUs fastest first, NVML by bus: device 0 is too old only when all are.
  for (const auto& g : nvml.gpus)
    if (g.cc_major >= 8) return "";
  return "E_GPU_TOO_OLD";
}

// Runs a tiny GPU training through the trainer; returns its error event's code ("" if none).
std::string gpu_run_error_code() {
  const std::string dir = "/tmp/rwkv_cuda_errors_test_" + std::to_string(::getpid());
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  rwkv::TrainOptions o;
  o.proj_dir = dir;
  o.data_file = dir + "/none";  // never read: the backend is opened first
  o.data_type = "binidx";
  o.vocab_size = 24;
  o.ctx_len = 16;
  o.n_layer = 1;
  o.n_embd = 64;
  o.head_size = 64;
  o.micro_bsz = 1;
  o.epoch_steps = 1;
  o.epoch_count = 1;
  o.accelerator = "gpu";
  o.seed = 1;
  std::string code;
  {
    rwkv::RunProtocol proto(dir + "/metrics.jsonl");
    rwkv::TrainHooks hooks;
    hooks.progress_bar = false;
    CHECK(rwkv::run_training(o, proto, hooks) != 0);
  }
  CHECK_PROTOCOL_FILE(dir + "/metrics.jsonl");
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const rwkv::Json j = rwkv::Json::parse(line);
    if (j.find("event")->as_string() == "error") code = j.find("code")->as_string();
  }
  std::system(("rm -rf '" + dir + "'").c_str());
  return code;
}

}  // namespace

int main() {
#ifndef RWKV_HAVE_CUDA
  const std::string code = gpu_run_error_code();
  if (code != "E_NO_CUDA") rwkv_test::fail(__FILE__, __LINE__, "a GPU run without the CUDA backend gave '" + code + "'");
  if (rwkv_test::failures()) return rwkv_test::summary("cuda_errors_test");
  std::fprintf(stderr, "cuda_errors_test: built without the CUDA backend: E_NO_CUDA checked, the CUDA paths skipped\n");
  return kSkip;
#else
  const rwkv::GpuList nvml = rwkv::list_gpus();
  const std::string want = expected_probe_code(nvml);
  std::fprintf(stderr, "cuda_errors_test: this machine must give '%s' (NVML: %zu GPU(s)%s%s)\n", want.c_str(),
               nvml.gpus.size(), nvml.reason.empty() ? "" : ", ", nvml.reason.c_str());
  std::string probe_code;  // what probe_device(0) gave, once it is checked against `want`
  try {
    rwkv::cuda::DeviceInfo info = rwkv::cuda::probe_device(0);
    if (!want.empty()) rwkv_test::fail(__FILE__, __LINE__, "probe_device(0) succeeded; expected " + want);
    bool named = false;
    for (const auto& g : nvml.gpus)
      if (g.name == info.name && g.cc_major == info.major && g.cc_minor == info.minor) named = true;
    CHECK(named);  // the GPU CUDA opened is one NVML lists, with the same compute capability
    CHECK(info.major >= 8);
    CHECK(info.total_memory > (size_t(1) << 30));
    CHECK(info.driver_version >= info.runtime_version || info.driver_version / 1000 == info.runtime_version / 1000);
  } catch (const rwkv::EngineError& e) {
    // a driver older than the engine's CUDA runtime is the one other answer a driver may give
    const bool old_driver = e.code == "E_NO_CUDA_DRIVER" && want != "E_NO_CUDA_DRIVER" &&
                            std::string(e.what()).find("older than this engine's CUDA runtime") != std::string::npos;
    if (e.code != want && !old_driver)
      rwkv_test::fail(__FILE__, __LINE__, "probe_device(0) gave " + e.code + " (" + e.what() + "); expected " +
                                              (want.empty() ? "success" : want));
    CHECK(!e.hint.empty());
    probe_code = e.code;
  }
  // A GPU index past the end: E_NO_GPU, or the driver's absence first.
  try {
    rwkv::cuda::probe_device(4096);
    CHECK(false);
  } catch (const rwkv::EngineError& e) {
    CHECK(e.code == (probe_code == "E_NO_CUDA_DRIVER" ? "E_NO_CUDA_DRIVER" : "E_NO_GPU"));
  }
  // make_cuda_backend reports the probe's reason; on a usable GPU the empty state dict is not an
  // x070 model (E_MODEL_SHAPE), unless cuBLASLt cannot be found (E_NO_CUBLAS).
  std::string backend_code;
  try {
    rwkv::ModelConfig cfg = rwkv::model_config_for_size(2, 64, 256);
    rwkv::make_cuda_backend(cfg, rwkv::PeftConfig{}, rwkv::StateDict{}, rwkv::BackendOptions{});
    CHECK(false);
  } catch (const rwkv::EngineError& e) {
    backend_code = e.code;
    if (probe_code.empty()) CHECK(e.code == "E_MODEL_SHAPE" || e.code == "E_NO_CUBLAS");
    else CHECK(e.code == probe_code);
    CHECK(!e.hint.empty());
  }
  // The trainer reports the same code in its error event.
  if (!probe_code.empty()) CHECK(gpu_run_error_code() == probe_code);
  // RWKV_CUBLASLT is looked at first, before the toolkit and the Python wheels.
  setenv("RWKV_CUBLASLT", "/nonexistent/libcublasLt.so.99", 1);
  auto paths = rwkv::cuda::lt::candidate_paths();
  CHECK(!paths.empty() && paths.front() == "/nonexistent/libcublasLt.so.99");
  // Loading: either a real library is found, or E_NO_CUBLAS lists where it looked.
  try {
    const auto& api = rwkv::cuda::lt::load();
    CHECK(api.version >= 110000);
    CHECK(backend_code != "E_NO_CUBLAS");  // the backend found it too
  } catch (const rwkv::EngineError& e) {
    CHECK(e.code == "E_NO_CUBLAS");
    CHECK(std::string(e.what()).find("/nonexistent/libcublasLt.so.99") != std::string::npos);
  }
  return rwkv_test::summary("cuda_errors_test");
#endif
}
