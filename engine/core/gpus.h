// The GPUs present, from NVIDIA's management library (NVML) loaded at run time with dlopen:
// the build machine has no NVML headers or library, and a machine without a driver must still
// run the editor and the CPU backend. Used by `rwkv-train gpus`, the Node addon's listGpus()
// (the language server's "memory vs GPU" check) and the engine's device report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

struct GpuInfo {
  int index = 0;                 // NVML index (as nvidia-smi numbers them)
  std::string name;              // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;  // compute capability, e.g. 9.0
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;

  // "9.0"; empty when NVML did not report it.
  std::string compute_capability() const {
    return cc_major ? std::to_string(cc_major) + "." + std::to_string(cc_minor) : std::string();
  }
};

struct GpuList {
  std::vector<GpuInfo> gpus;
  std::string driver_version;    // "550.54.15"; empty when unknown
  std::string nvml_library;      // the file that was loaded
  std::string reason;            // why the list is empty (no driver, NVML error); empty otherwise
};

// Never throws: every failure becomes an empty list with a reason. The library is looked up as
// $RWKV_NVML_LIBRARY when set, then libnvidia-ml.so.1 and libnvidia-ml.so (the driver installs
// them; containers get them through the NVIDIA container toolkit).
GpuList list_gpus();

// {"gpus":[{"index":0,"name":..,"compute_capability":"9.0","total_bytes":..,"free_bytes":..}],
//  "driver_version":..,"reason":..}: the CLI's form (snake_case, like the run protocol). The Node
// addon gives JavaScript the same fields in camelCase (addon/facts.cpp).
Json gpus_to_json(const GpuList& list);

}  // namespace rwkv
