// How many whole sequences of a micro-batch the GPU backend runs through forward, head and
// backward at a time. A micro-batch of B sequences is split into passes of `per` sequences;
// their parameter gradients add up into the same buffers and each pass's loss gradient is
// scaled by the micro-batch's whole token count, so a split step computes the gradient of the
// unsplit one (only the order of the fp32 sums differs). With --grad_cp 1 what a step holds
// beyond the weights (the kept layer inputs, one layer's activation table, the backward's
// scratch) is proportional to tokens x n_embd in flight, so by default a pass holds at most
// 2^23 token-channels (4096 tokens at n_embd 2048: one layer's table and scratch then stay near
// 1 GiB): a 1.5B LoRA run at ctx_len 1024, micro_bsz 8 runs as two passes of 4 sequences and
// needs the activation memory of micro_bsz 4, a 0.1B one (n_embd 768) runs whole.
// The cost is time: the WKV7 kernel's time does not shrink with the batch (it is sequential in
// T, parallel over B x H), so each extra pass adds one layer-stack's worth of WKV7 time (on an
// H200: 1.5B 1024 x 8, 25.6k -> 19.9k tokens/s for two passes). Hence splitting only where the
// activations are large. One definition for the CUDA backend and the memory planner.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/errors.h"

namespace rwkv {

// Token-channels (tokens x n_embd) a pass holds at most under --grad_cp 1, unless
// RWKV_PASS_TOKENS says otherwise.
constexpr int64_t kDefaultPassTokenChannels = int64_t(1) << 23;

// RWKV_PASS_TOKENS: unset/"auto" = -1 (the default policy), 0 = the whole micro-batch at once,
// N > 0 = at most N tokens (whole sequences, at least one) a pass, with or without --grad_cp.
inline int64_t pass_tokens_from_env() {
  const char* v = std::getenv("RWKV_PASS_TOKENS");
  if (!v || !*v || std::string(v) == "auto") return -1;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n < 0)
    throw EngineError("E_PASS_TOKENS", std::string("RWKV_PASS_TOKENS=") + v + " is not a token count",
                      "unset it, or give 0 (whole micro-batch) or a number of tokens");
  return n;
}

// Sequences per pass for a micro-batch of `micro_bsz` sequences of `seq_len` tokens.
inline int64_t sequences_per_pass(int64_t micro_bsz, int64_t seq_len, int64_t n_embd, bool grad_cp,
                                  int64_t pass_tokens) {
  if (pass_tokens < 0) pass_tokens = grad_cp ? kDefaultPassTokenChannels / std::max<int64_t>(n_embd, 1) : 0;
  if (pass_tokens == 0 || micro_bsz <= 1) return std::max<int64_t>(micro_bsz, 1);
  return std::clamp<int64_t>(pass_tokens / std::max<int64_t>(seq_len, 1), 1, micro_bsz);
}

}  // namespace rwkv
