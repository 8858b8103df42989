// See peft_samples.h.
#include "train/peft_samples.h"

#include <algorithm>

#include "core/tokenizer.h"

namespace rwkv {

SampleWindow binidx_pad_window(const TokenReader& read, uint64_t total, uint64_t doc_start, uint64_t doc_size,
                               int ctx_len) {
  const uint64_t req = uint64_t(ctx_len) + 1;
  SampleWindow w;
  w.min_len = size_t(std::min(doc_size, req));
  std::vector<uint32_t> part;
  if (doc_start + req <= total) {
    read(doc_start, req, w.tokens);
  } else {
    // RWKV-PEFT's fallback when the read would pass the end of the .bin: the document, then
    // the start of the data. Anything still missing (data shorter than a window) stays 0; it
    // is never counted either way.
    read(doc_start, doc_size, w.tokens);
    read(0, std::min(req - doc_size, total), part);
    w.tokens.insert(w.tokens.end(), part.begin(), part.end());
  }
  w.tokens.resize(req, 0);
  return w;
}

SampleWindow padded_window(const std::vector<uint32_t>& doc, int ctx_len) {
  const size_t req = size_t(ctx_len) + 1;
  SampleWindow w;
  w.min_len = std::min(doc.size(), req);
  w.tokens.assign(req, 0);
  std::copy(doc.begin(), doc.begin() + w.min_len, w.tokens.begin());
  return w;
}

static bool starts_with_at(const std::vector<uint32_t>& seq, size_t i, size_t end, const std::vector<uint32_t>& pat) {
  if (pat.empty() || i + pat.size() > end) return false;
  return std::equal(pat.begin(), pat.end(), seq.begin() + i);
}

std::vector<uint8_t> loss_mask_for(const SampleWindow& w, LossMask mode, const std::vector<uint32_t>& user,
                                   const std::vector<uint32_t>& assistant) {
  const size_t ctx = w.tokens.size() - 1, n = w.min_len;
  std::vector<uint8_t> mask(ctx, 0);
  if (mode != LossMask::Qa) {
    for (size_t t = 0; t + 1 < n; ++t) mask[t] = 1;
    return mask;
  }
  // Flags per window position (position i is target i - 1); markers must lie wholly inside
  // the document's own tokens.
  std::vector<uint8_t> on(ctx + 1, 0);
  uint8_t state = 0;
  size_t counted = 0;
  for (size_t i = 0; i < n; ++i) {
    if (starts_with_at(w.tokens, i, n, user)) state = 0;
    else if (starts_with_at(w.tokens, i, n, assistant)) state = 1;
    on[i] = state;
    counted += state;
  }
  if (counted == 0)
    for (size_t i = 0; i + 1 < n; ++i) on[i] = 1;  // positions 0..n-2: the last target drops out
  for (size_t t = 0; t < ctx; ++t) mask[t] = on[t + 1];
  return mask;
}

static const char* kSftPrompt =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n";

SftExample make_sft_example(const WorldTokenizer& tok, const std::string& query, const std::string& response,
                            int ctx_len) {
  const std::string prompt = std::string(kSftPrompt) + query + "\n\n### Response:";
  SftExample ex;
  // tokenized separately as RWKV-PEFT does: the prompt's own length, even where the greedy
  // tokenizer would merge across the prompt/response boundary in the whole text
  ex.prompt_len = std::min(tok.encode(prompt).size(), size_t(ctx_len));
  ex.ids = tok.encode(prompt + response + "\n\x17");
  if (ex.ids.size() > size_t(ctx_len)) ex.ids.resize(size_t(ctx_len));
  return ex;
}

SampleWindow sft_window(const SftExample& ex, int ctx_len) { return padded_window(ex.ids, ctx_len); }

std::vector<uint8_t> sft_loss_mask(const SftExample& ex, int ctx_len) {
  std::vector<uint8_t> mask(size_t(ctx_len), 0);
  for (size_t t = 0; t + 1 < ex.ids.size(); ++t) mask[t] = t + 1 >= ex.prompt_len ? 1 : 0;
  return mask;
}

}  // namespace rwkv
