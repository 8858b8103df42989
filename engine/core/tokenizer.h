// The RWKV World tokenizer: rwkv_vocab_v20230424.txt (`id repr(bytes) length` a line), greedy
// longest match over bytes. Ids must equal the reference tokenizer's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

class WorldTokenizer {
 public:
  explicit WorldTokenizer(const std::string& vocab_path);  // throws EngineError(E_VOCAB_*)
  std::vector<uint32_t> encode(const std::string& utf8) const;
  std::string decode(const std::vector<uint32_t>& ids) const;
  size_t vocab_size() const;  // 65536 for the World vocabulary (ids 0..65535, 0 = end of text)
 ~WorldTokenizer();
  WorldTokenizer(const WorldTokenizer&) = delete;
  WorldTokenizer& operator=(const WorldTokenizer&) = delete;
 private:
  struct Impl;  // the byte trie, in tokenizer.cpp
  Impl* impl_;
};

// Where the engine finds the vocabulary: $RWKV_VOCAB, then next to the executable
// (dist/bin/rwkv_vocab_v20230424.txt), then engine/data/.
std::string default_vocab_path();

// The tokenizer of `vocab_path`, read once per process and kept (a vocabulary is 65,536 lines: its
// load is most of a small preview's time). Thread-safe; encode/decode are const. A failed load
// is not kept, so the next call tries again (and throws the same EngineError).
const WorldTokenizer& shared_world_tokenizer(const std::string& vocab_path);

// How many vocabularies this process has read from disk (tests: "loaded once per process").
size_t world_tokenizer_loads();

}  // namespace rwkv
