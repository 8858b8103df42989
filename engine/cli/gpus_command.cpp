// `rwkv-train gpus`: the GPUs NVML sees, as one JSON object on stdout (the same facts the editor
// shows through the addon). Exit code 0 even with no GPU: an empty list with a reason is an
// answer, not a failure.
#include <cstdio>

#include "cli/command.h"
#include "core/gpus.h"

namespace rwkv::cli {
namespace {

int run_gpus(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::printf("usage: rwkv-train gpus\n  Lists the NVIDIA GPUs (name, compute capability, total/free memory) as JSON.\n");
      return 0;
    }
    std::fprintf(stderr, "rwkv-train gpus: unexpected argument \"%s\" (it takes none)\n", a.c_str());
    return 2;
  }
  std::printf("%s\n", gpus_to_json(list_gpus()).dump().c_str());
  return 0;
}

const RegisterCommand kRegister("gpus", "list NVIDIA GPUs with free memory (JSON)", run_gpus);

}  // namespace
}  // namespace rwkv::cli
