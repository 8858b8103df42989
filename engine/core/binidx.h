// Megatron MMapIndexedDataset (the binidx pair RWKV uses): PREFIX.idx (header, dtype, sizes,
// pointers, document index) and PREFIX.bin (tokens), memory-mapped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

class BinIdxDataset {
 public:
  // `prefix` without suffix. Throws EngineError: E_BINIDX_NO_IDX, E_BINIDX_NO_BIN,
  // E_BINIDX_CORRUPT, E_DATA_EMPTY. A prefix given with .bin/.idx gets a hint to strip it.
  explicit BinIdxDataset(const std::string& prefix);
  ~BinIdxDataset();
  BinIdxDataset(const BinIdxDataset&) = delete;
  BinIdxDataset& operator=(const BinIdxDataset&) = delete;

  uint64_t num_tokens() const;       // total tokens in .bin
  uint64_t num_documents() const;
  int dtype_code() const;            // Megatron code (8 = uint16, 4 = int32, ...)
  // Copies `count` tokens starting at global token offset `offset` (across documents, as
  // RWKV-LM's pretraining sampler reads) into `out`.
  void read_tokens(uint64_t offset, uint64_t count, std::vector<uint32_t>& out) const;
  // Tokens of one document.
  void read_document(uint64_t doc, std::vector<uint32_t>& out) const;
  // A document's length and where it starts in the token stream, from the index alone (no
  // token is read: a dataset preview sizes millions of documents this way).
  uint64_t document_size(uint64_t doc) const;
  uint64_t document_start(uint64_t doc) const;
  // Throws EngineError(E_DATA_CHANGED) when PREFIX.bin or PREFIX.idx is no longer the file that
  // was mapped (deleted, replaced, or rewritten in place: size or mtime changed). One rewritten
  // in place feeds other tokens than the ones checked at open, which no read can notice; a
  // trainer calls this before each batch. A file that shrinks after the check is caught by the
  // read itself: every read above runs under core/mapped_guard.h and throws E_DATA_CHANGED
  // where the touched page is gone, instead of the SIGBUS that would end the process.
  void check_unchanged() const;

  struct Impl;

 private:
  static void check_files(const Impl& d);
  Impl* impl_;
};

// Scans every token once; throws EngineError(E_DATA_TOKEN_RANGE) naming how many ids are
// >= vocab_size, the first one and its offset, and the largest id, so data made with another
// tokenizer is caught before training instead of indexing past the embedding.
void check_token_ids(const BinIdxDataset& data, uint64_t vocab_size);

// Writes PREFIX.bin/.idx (uint16 tokens when every id < 65536) atomically.
void write_binidx(const std::string& prefix, const std::vector<std::vector<uint32_t>>& documents);

// make_data.py's rule: the largest prime p with p % 3 == 2 and p <= floor(tokens/ctx_len) - 1;
// returns 0 when tokens < 3 * ctx_len (too little data).
uint64_t magic_prime_for(uint64_t data_tokens, uint64_t ctx_len);
bool is_prime(uint64_t n);

}  // namespace rwkv
