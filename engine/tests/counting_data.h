// A learnable binidx dataset for training tests: counting documents of 40 tokens, each a random
// start then +1 or +3 modulo (vocab - 1), shifted by one so token 0 never appears. After two
// tokens every next token is predictable, so a model that learns drives the loss far below
// ln(vocab). Same seed, same documents: a test's expectations depend on them.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/binidx.h"

namespace rwkv_test {

// Writes DIR/data.bin and DIR/data.idx; returns the prefix DIR/data.
inline std::string write_counting_data(const std::string& dir, int documents, int vocab = 24) {
  std::mt19937 gen(3);
  std::vector<std::vector<uint32_t>> docs;
  for (int d = 0; d < documents; ++d) {
    const uint32_t stride = gen() % 2 ? 1 : 3;
    uint32_t cur = gen() % uint32_t(vocab - 1);
    std::vector<uint32_t> doc;
    for (int t = 0; t < 40; ++t) { doc.push_back(1 + cur); cur = (cur + stride) % uint32_t(vocab - 1); }
    docs.push_back(doc);
  }
  rwkv::write_binidx(dir + "/data", docs);
  return dir + "/data";
}

}  // namespace rwkv_test
