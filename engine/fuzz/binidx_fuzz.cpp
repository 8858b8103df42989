// libFuzzer entry for the binidx target (see fuzz_targets.h); built by engine/fuzz/run.sh.
#include "fuzz/fuzz_targets.h"

#include <string>
static const std::string kScratch = "/tmp/rwkv-fuzz-binidx-" + std::to_string(::getpid());
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rwkv_fuzz::fuzz_binidx(data, size, kScratch);
  return 0;
}
