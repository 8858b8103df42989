// libFuzzer entry for the safetensors target (see fuzz_targets.h); built by engine/fuzz/run.sh.
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rwkv_fuzz::fuzz_safetensors(data, size);
  return 0;
}
