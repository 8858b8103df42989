// How RWKV-PEFT turns one document into one training sample and its loss mask
// (rwkvt/dataset/dataset.py, binidx.py, mask.py, SFTdataset.py; JL-er 5b8aac9 and the newest
// Joluck tree build identical samples, checked by tests/peft_samples_test.cpp on fixtures that
// their code generated). Pure functions, so the data sources and the tests share one definition.
//
// A window holds ctx_len + 1 tokens; input t is window[t], target t is window[t + 1], and the
// target counts in the loss when mask[t] is 1 (RWKV-PEFT writes -100 into such labels instead).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rwkv {

class WorldTokenizer;

// --loss_mask: none and pad behave alike in RWKV-PEFT (padding never counts); qa keeps only
// what follows an "Assistant:" up to the next "User:".
enum class LossMask { None, Pad, Qa };

struct SampleWindow {
  std::vector<uint32_t> tokens;  // ctx_len + 1 tokens
  size_t min_len = 0;            // how many of them are the document's own tokens
};

// binidx --dataload pad (MMapIndexedDataset.pad): ctx_len + 1 tokens read from the document's
// start straight on through the following documents; when that runs past the end of the data,
// the document itself followed by the first tokens of the data. min_len = min(size, ctx_len + 1).
// `read(offset, count, out)` copies tokens of the whole stream (BinIdxDataset::read_tokens).
using TokenReader = std::function<void(uint64_t offset, uint64_t count, std::vector<uint32_t>& out)>;
SampleWindow binidx_pad_window(const TokenReader& read, uint64_t total_tokens, uint64_t doc_start,
                               uint64_t doc_size, int ctx_len);

// data_type jsonl: the document's tokens (no end-of-text is added), cut to ctx_len + 1 and
// padded with 0.
SampleWindow padded_window(const std::vector<uint32_t>& doc, int ctx_len);

// The ctx_len target flags for `mode`. qa follows RWKV-PEFT's create_mask: over the document's
// tokens a run starting with `user` ids switches counting off, one starting with `assistant`
// ids switches it on (the marker tokens themselves follow the new state); a document with no
// counted token falls back to all targets but its last one (RWKV-PEFT's own off-by-one).
std::vector<uint8_t> loss_mask_for(const SampleWindow& window, LossMask mode, const std::vector<uint32_t>& user,
                                   const std::vector<uint32_t>& assistant);

// data_type sft (SFTdataset.py): prompt = the Alpaca template around the query, target =
// response + "\n\x17"; ids = tokenize(prompt + target) cut to ctx_len tokens, and the first
// len(tokenize(prompt)) of them (also cut to ctx_len) never count.
struct SftExample {
  std::vector<uint32_t> ids;
  size_t prompt_len = 0;
};
SftExample make_sft_example(const WorldTokenizer& tok, const std::string& query, const std::string& response,
                            int ctx_len);

// The sft sample: inputs ids padded with 0, target t = ids[t + 1], counted when it is a
// response token (the label RWKV-PEFT rolls into the last position is always ignored).
SampleWindow sft_window(const SftExample& ex, int ctx_len);
std::vector<uint8_t> sft_loss_mask(const SftExample& ex, int ctx_len);

}  // namespace rwkv
