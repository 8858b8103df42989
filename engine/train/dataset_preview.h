// The dataset as the model sees it, for the editor's preview panel: document and token counts, a
// histogram of document lengths, and a few documents with their World-tokenizer tokens, whether
// each token is trained on (the loss mask RWKV-PEFT's dataset code builds: train/peft_samples.h)
// and whether the text round-trips through the tokenizer. binidx is read through its index and
// the mmapped tokens of the sampled documents only, so a multi-GB file opens at once; jsonl is
// tokenized up to a byte budget for the histogram (the counts say how far).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

struct PreviewOptions {
  std::string path;                    // a binidx prefix (or its .bin/.idx) or a .jsonl file
  std::string data_type;               // binidx | jsonl | sft ("" = from the path)
  int ctx_len = 1024;
  std::string loss_mask = "none";      // none | pad | qa
  std::vector<std::string> sft_fields; // sft: prompt and response fields ("" = the usual pairs)
  bool magic_prime = false;            // binidx read by RWKV-LM's magic_prime sampler (all tokens train)
  int samples = 8;                     // documents shown
  int max_tokens = 256;                // tokens shown per document
  uint64_t histogram_bytes = 64u << 20;  // jsonl text tokenized for the histogram
};

// Throws EngineError for missing or unreadable data (the data sources' codes).
Json preview_dataset(const PreviewOptions& options, const std::string& vocab_path);

}  // namespace rwkv
