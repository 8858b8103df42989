// The switch for training on several GPUs. Off by default: the multi-GPU path is built and
// checked on CPUs (launcher, rendezvous, sharding, buckets, ZeRO-1 with ranks as threads) but
// has not yet run over NCCL on GPUs; until it has, `--devices N > 1` / `--num_nodes M > 1` are
// refused as before (E_FLAG_UNSUPPORTED, and RWKV026 in the editor) unless
// RWKV_EXPERIMENTAL_MULTIGPU=1 is set. engine/tests/multigpu_switch_test.cpp holds it off.
#pragma once
#include <cstdlib>
#include <cstring>

namespace rwkv {

inline bool multigpu_enabled() {
  const char* v = std::getenv("RWKV_EXPERIMENTAL_MULTIGPU");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace rwkv
