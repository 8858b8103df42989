// NVML through dlopen (see gpus.h). We declare the handful of entry points and the one struct
// we use, from NVML's documented C API: every call returns nvmlReturn_t (0 = success).
#include "core/gpus.h"

#include <dlfcn.h>

#include <cstdlib>

namespace rwkv {
namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {  // nvmlDeviceGetMemoryInfo's v1 layout: bytes
  unsigned long long total, free, used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned kNameBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kDriverBufferSize = 80;   // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*device_count)(unsigned*) = nullptr;
  nvmlReturn_t (*handle_by_index)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*device_name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*memory_info)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*compute_capability)(nvmlDevice_t, int*, int*) = nullptr;  // optional (NVML >= 10)
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;

  std::string describe(nvmlReturn_t rc) const {
    const char* text = error_string ? error_string(rc) : nullptr;
    return text ? std::string(text) + " (NVML error " + std::to_string(rc) + ")"
                : "NVML error " + std::to_string(rc);
  }
};

template <typename Fn>
bool bind(void* lib, const char* name, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(lib, name));
  return out != nullptr;
}

// Keeps the library loaded for the life of the process: NVML is cheap to keep and unloading it
// while another thread (the addon's workers) might be inside it is not.
void* open_nvml(std::string& loaded, std::string& why) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RWKV_NVML_LIBRARY"); env && *env) candidates.push_back(env);
  candidates.push_back("libnvidia-ml.so.1");
  candidates.push_back("libnvidia-ml.so");
  for (const std::string& c : candidates) {
    if (void* lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      loaded = c;
      return lib;
    }
    const char* err = dlerror();
    if (!why.empty()) why += "; ";
    why += err ? err : ("cannot load " + c);
  }
  return nullptr;
}

}  // namespace

GpuList list_gpus() {
  GpuList out;
  std::string why;
  void* lib = open_nvml(out.nvml_library, why);
  if (!lib) {
    out.reason = "no NVIDIA driver found: " + why +
                 " (install the NVIDIA driver; in a container, run it with the NVIDIA container toolkit)";
    return out;
  }
  NvmlApi api;
  const bool bound = bind(lib, "nvmlInit_v2", api.init) && bind(lib, "nvmlShutdown", api.shutdown) &&
                     bind(lib, "nvmlDeviceGetCount_v2", api.device_count) &&
                     bind(lib, "nvmlDeviceGetHandleByIndex_v2", api.handle_by_index) &&
                     bind(lib, "nvmlDeviceGetName", api.device_name) &&
                     bind(lib, "nvmlDeviceGetMemoryInfo", api.memory_info);
  bind(lib, "nvmlErrorString", api.error_string);
  bind(lib, "nvmlDeviceGetCudaComputeCapability", api.compute_capability);
  bind(lib, "nvmlSystemGetDriverVersion", api.driver_version);
  if (!bound) {
    out.reason = out.nvml_library + " lacks the NVML entry points we need (driver too old?)";
    return out;
  }
  if (nvmlReturn_t rc = api.init(); rc != kNvmlSuccess) {
    out.reason = "NVML could not start: " + api.describe(rc) + " (is the NVIDIA driver loaded?)";
    return out;
  }
  if (api.driver_version) {
    char buf[kDriverBufferSize] = {};
    if (api.driver_version(buf, sizeof buf) == kNvmlSuccess) out.driver_version = buf;
  }
  unsigned count = 0;
  if (nvmlReturn_t rc = api.device_count(&count); rc != kNvmlSuccess) {
    out.reason = "NVML could not count GPUs: " + api.describe(rc);
    api.shutdown();
    return out;
  }
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (api.handle_by_index(i, &dev) != kNvmlSuccess) continue;  // e.g. a GPU we may not see
    GpuInfo g;
    g.index = static_cast<int>(i);
    char name[kNameBufferSize] = {};
    if (api.device_name(dev, name, sizeof name) == kNvmlSuccess) g.name = name;
    nvmlMemory_t mem{};
    if (api.memory_info(dev, &mem) == kNvmlSuccess) g.total_bytes = mem.total, g.free_bytes = mem.free;
    if (api.compute_capability) api.compute_capability(dev, &g.cc_major, &g.cc_minor);
    out.gpus.push_back(g);
  }
  if (out.gpus.empty()) out.reason = count ? "NVML lists GPUs but none could be opened" : "the driver reports no GPU";
  api.shutdown();
  return out;
}

Json gpus_to_json(const GpuList& list) {
  Json gpus = Json::array();
  for (const GpuInfo& g : list.gpus) {
    Json o = Json::object();
    o.set("index", Json(g.index));
    o.set("name", Json(g.name));
    o.set("compute_capability", Json(g.compute_capability()));
    o.set("total_bytes", Json(static_cast<uint64_t>(g.total_bytes)));
    o.set("free_bytes", Json(static_cast<uint64_t>(g.free_bytes)));
    gpus.push(o);
  }
  Json out = Json::object();
  out.set("gpus", gpus);
  out.set("driver_version", Json(list.driver_version));
  if (!list.reason.empty()) out.set("reason", Json(list.reason));
  return out;
}

}  // namespace rwkv
