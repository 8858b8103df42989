// list_gpus() against a fake NVML (engine/addon/testing/fake_nvml.cpp, built beside this test):
// the fields come through, an NVML that fails to start and a missing library give an empty list
// with a reason, never a crash. On a machine with a real driver, `rwkv-train gpus` is the check.
#include <unistd.h>

#include <climits>
#include <cstdlib>
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

void missing_library_gives_a_reason() {
  setenv("RWKV_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  const rwkv::GpuList list = rwkv::list_gpus();
  // On a machine with a driver the real libnvidia-ml.so.1 is found after the override fails.
  if (list.gpus.empty()) {
    CHECK(!list.reason.empty());
    CHECK(list.reason.find("driver") != std::string::npos);
    const rwkv::Json j = rwkv::gpus_to_json(list);
    CHECK(j.find("reason") && !j.find("reason")->as_string().empty());
  }
  unsetenv("RWKV_NVML_LIBRARY");
}

}  // namespace

int main() {
  fake_driver_lists_two_gpus();
  failing_driver_gives_a_reason();
  missing_library_gives_a_reason();
  return rwkv_test::summary("gpus_test");
}
