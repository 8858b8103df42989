// list_gpus() against a fake NVML (engine/addon/testing/fake_nvml.cpp, built beside this test):
// the fields come through, an NVML that fails to start and a missing library give an empty list
// with a reason, never a crash. Then the real machine, found independently of the code under
// test (dlopen of the driver's NVML, /dev/nvidia<N>, /proc/driver/nvidia/version): no driver
// gives "no NVIDIA driver found" naming each library tried; a driver with GPU device nodes gives
// GPUs whose driver version is the kernel module's and whose memory figures make sense.
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/gpus.h"
#include "tests/check.h"

namespace {

std::string beside_this_test(const char* file) {
  char buf[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  return self.substr(0, self.rfind('/') + 1) + file;
}

void fake_driver_lists_two_gpus() {
  const std::string lib = beside_this_test("libfake_nvml.so");
  setenv("RWKV_NVML_LIBRARY", lib.c_str(), 1);
  unsetenv("FAKE_NVML_FAIL_INIT");
  const rwkv::GpuList list = rwkv::list_gpus();
  CHECK(list.reason.empty());
  CHECK(list.nvml_library == lib);
  CHECK(list.driver_version == "555.42.06");
  CHECK(list.gpus.size() == 2);
  if (list.gpus.size() == 2) {
    CHECK(list.gpus[0].name == "NVIDIA H100 80GB HBM3");
    CHECK(list.gpus[0].cc_major == 9 && list.gpus[0].cc_minor == 0);
    CHECK(list.gpus[0].total_bytes == 85520809984ULL);
    CHECK(list.gpus[1].index == 1 && list.gpus[1].free_bytes == 1073741824ULL);
    CHECK(list.gpus[1].cc_major == 8 && list.gpus[1].cc_minor == 9);
  }
  const rwkv::Json j = rwkv::gpus_to_json(list);
  CHECK(j.find("gpus") && j.find("gpus")->items().size() == 2);
  CHECK(j.find("gpus")->items()[1].find("compute_capability")->as_string() == "8.9");
  CHECK(!j.find("reason"));
}

void failing_driver_gives_a_reason() {
  setenv("RWKV_NVML_LIBRARY", beside_this_test("libfake_nvml.so").c_str(), 1);
  setenv("FAKE_NVML_FAIL_INIT", "1", 1);
  const rwkv::GpuList list = rwkv::list_gpus();
  CHECK(list.gpus.empty());
  CHECK(list.reason.find("Driver Not Loaded") != std::string::npos);
  unsetenv("FAKE_NVML_FAIL_INIT");
}

// The driver's NVML as the loader finds it, without the code under test: "" when there is none.
std::string real_nvml() {
  for (const char* name : {"libnvidia-ml.so.1", "libnvidia-ml.so"})
    if (void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      dlclose(h);
      return name;
    }
  return "";
}

// How many /dev/nvidia<N> device nodes exist (one per GPU the driver exposes to this machine or
// container; nvidiactl, nvidia-uvm and the like are not GPUs).
int gpu_device_nodes() {
  int n = 0;
  if (DIR* d = opendir("/dev")) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 6 && name.rfind("nvidia", 0) == 0 && std::isdigit(static_cast<unsigned char>(name[6])) &&
          name.find_first_not_of("0123456789", 6) == std::string::npos)
        ++n;
    }
    closedir(d);
  }
  return n;
}

void missing_library_gives_a_reason() {
  setenv("RWKV_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  const rwkv::GpuList list = rwkv::list_gpus();
  unsetenv("RWKV_NVML_LIBRARY");
  const std::string real = real_nvml();
  std::fprintf(stderr, "gpus_test: this machine's NVML: %s, %d GPU device node(s); list_gpus: %zu GPU(s) %s\n",
               real.empty() ? "none" : real.c_str(), gpu_device_nodes(), list.gpus.size(), list.reason.c_str());
  const rwkv::Json j = rwkv::gpus_to_json(list);
  if (real.empty()) {
    // No driver: every library tried is named, the override first.
    CHECK(list.gpus.empty());
    CHECK(list.nvml_library.empty());
    CHECK(list.reason.rfind("no NVIDIA driver found: ", 0) == 0);
    CHECK(list.reason.find("/nonexistent/libnvidia-ml.so.1") != std::string::npos);
    CHECK(list.reason.find("libnvidia-ml.so.1") != list.reason.rfind("libnvidia-ml.so.1"));  // and the real name
    CHECK(j.find("reason") && j.find("reason")->as_string() == list.reason);
    CHECK(j.find("gpus") && j.find("gpus")->items().empty());
    return;
  }
  // A driver: the override failed, so the library loaded is the driver's own.
  CHECK(list.nvml_library == real);
  if (gpu_device_nodes() == 0) {
    // the library without GPU nodes (a container without the GPUs passed in): a reason, no GPUs
    CHECK(list.gpus.empty() && !list.reason.empty());
    return;
  }
  CHECK(list.reason.empty());
  CHECK(!list.gpus.empty());
  CHECK(int(list.gpus.size()) <= gpu_device_nodes());
  std::ifstream version_file("/proc/driver/nvidia/version");
  if (version_file) {  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  555.42.06 ..."
    std::stringstream text;
    text << version_file.rdbuf();
    CHECK(!list.driver_version.empty() && text.str().find(list.driver_version) != std::string::npos);
  }
  for (size_t i = 0; i < list.gpus.size(); ++i) {
    const rwkv::GpuInfo& g = list.gpus[i];
    CHECK(!g.name.empty());
    CHECK(g.total_bytes > (uint64_t(1) << 30));
    CHECK(g.free_bytes <= g.total_bytes);
    CHECK(g.cc_major >= 3);
    CHECK(i == 0 || g.index > list.gpus[i - 1].index);
  }
  CHECK(j.find("gpus") && j.find("gpus")->items().size() == list.gpus.size());
  CHECK(!j.find("reason"));
}

}  // namespace

int main() {
  fake_driver_lists_two_gpus();
  failing_driver_gives_a_reason();
  missing_library_gives_a_reason();
  return rwkv_test::summary("gpus_test");
}
