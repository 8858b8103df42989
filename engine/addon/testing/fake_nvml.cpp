// A stand-in for libnvidia-ml.so used by gpus_test and the addon's tests on machines without a
// driver: two GPUs with known properties, driven by environment variables so a test can also
// make NVML fail. Exports the same C symbols as NVML (only the ones core/gpus.cpp binds).
#include <cstdlib>
#include <cstring>

namespace {
struct FakeDevice { const char* name; int major, minor; unsigned long long total, free; };
const FakeDevice kDevices[] = {
    {"NVIDIA H100 80GB HBM3", 9, 0, 85520809984ULL, 84893155328ULL},
    {"NVIDIA GeForce RTX 4090", 8, 9, 25757220864ULL, 1073741824ULL},
};
int fail_init() { const char* v = std::getenv("FAKE_NVML_FAIL_INIT"); return v && *v == '1'; }
void copy(char* dst, unsigned len, const char* src) {
  std::strncpy(dst, src, len);
  if (len) dst[len - 1] = '\0';
}
}  // namespace

extern "C" {
struct nvmlDevice_st;
struct FakeMemory { unsigned long long total, free, used; };
int nvmlInit_v2() { return fail_init() ? 9 /* NVML_ERROR_DRIVER_NOT_LOADED */ : 0; }
int nvmlShutdown() { return 0; }
const char* nvmlErrorString(int rc) { return rc == 9 ? "Driver Not Loaded" : "Unknown Error"; }
int nvmlSystemGetDriverVersion(char* buf, unsigned len) { copy(buf, len, "555.42.06"); return 0; }
int nvmlDeviceGetCount_v2(unsigned* n) { *n = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_st** dev) {
  if (i >= 2) return 2;
  *dev = reinterpret_cast<nvmlDevice_st*>(const_cast<FakeDevice*>(&kDevices[i]));
  return 0;
}
int nvmlDeviceGetName(nvmlDevice_st* dev, char* buf, unsigned len) {
  copy(buf, len, reinterpret_cast<const FakeDevice*>(dev)->name);
  return 0;
}
int nvmlDeviceGetMemoryInfo(nvmlDevice_st* dev, FakeMemory* mem) {
  const auto* d = reinterpret_cast<const FakeDevice*>(dev);
  mem->total = d->total, mem->free = d->free, mem->used = d->total - d->free;
  return 0;
}
int nvmlDeviceGetCudaComputeCapability(nvmlDevice_st* dev, int* major, int* minor) {
  const auto* d = reinterpret_cast<const FakeDevice*>(dev);
  *major = d->major, *minor = d->minor;
  return 0;
}
}
