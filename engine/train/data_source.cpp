#include "train/data_source.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/tokenizer.h"
#include "train/train_options.h"

namespace rwkv {

uint64_t magic_prime_offset(uint64_t p, uint64_t ctx_len, uint64_t ii) {
  const uint64_t factor = uint64_t(double(p) * ((std::sqrt(5.0) - 1) / 2));
  using u128 = unsigned __int128;
  const u128 i3 = (u128(ii % p) * (ii % p) % p) * (ii % p) % p;
  return uint64_t((u128(factor) * i3) % p) * ctx_len;
}

namespace {

class MagicPrimeSource final : public DataSource {
 public:
  MagicPrimeSource(const std::string& prefix, const TrainOptions& o, int64_t samples_per_epoch)
      : data_(prefix), ctx_(o.ctx_len), prime_(uint64_t(o.magic_prime)), spe_(samples_per_epoch) {
    const uint64_t tokens = data_.num_tokens();
    if (tokens == 0) throw EngineError("E_DATA_EMPTY", "the dataset has no tokens", "");
    if (!is_prime(prime_) || prime_ % 3 != 2)
      throw EngineError("E_FLAG_VALUE", "--magic_prime " + std::to_string(prime_) + " is not a prime p with p % 3 == 2",
                        "use the value `rwkv-train make-data` (or make_data.py) printed: " +
                            std::to_string(magic_prime_for(tokens, ctx_))); 
    if (prime_ * uint64_t(ctx_) + 1 > tokens)  // the last slot starts at (p-1)*ctx_len, reads ctx_len+1
      throw EngineError("E_FLAG_VALUE", "--magic_prime " + std::to_string(prime_) + " reads past the end of the data (" +
                        std::to_string(tokens) + " tokens, ctx_len " + std::to_string(ctx_) + ")",
                        "the largest valid value for this data is " + std::to_string(magic_prime_for(tokens, ctx_)));
  }
  void sample(int64_t epoch, int64_t index, int32_t* in, int32_t* tgt, float* mask) const override {
    const uint64_t ii = 1 + uint64_t(epoch) * spe_ + uint64_t(index);
    const uint64_t off = magic_prime_offset(prime_, ctx_, ii);
    std::vector<uint32_t> buf;
    data_.read_tokens(off, ctx_ + 1, buf);
    for (int t = 0; t < ctx_; ++t) { in[t] = int32_t(buf[t]); tgt[t] = int32_t(buf[t + 1]); mask[t] = 1.0f; }
  }
  uint64_t num_tokens() const override { return data_.num_tokens(); }
  uint64_t num_documents() const override { return data_.num_documents(); }
  std::string kind() const override { return "binidx (magic_prime sampling)"; }

 private:
  BinIdxDataset data_;
  int ctx_;
  uint64_t prime_;
  uint64_t spe_;
};

// Documents held as token lists plus a per-token "counts in the loss" flag.
class DocumentSource final : public DataSource {
 public:
  DocumentSource(std::vector<std::vector<uint32_t>> docs, std::vector<std::vector<uint8_t>> trainable,
                 const TrainOptions& o, std::string kind)
      : docs_(std::move(docs)), trainable_(std::move(trainable)), ctx_(o.ctx_len),
        shuffle_(o.data_shuffle), seed_(uint64_t(o.seed < 0 ? 0 : o.seed)), kind_(std::move(kind)) {
    docs_.erase(std::remove_if(docs_.begin(), docs_.end(), [](const auto& d) { return d.size() < 2; }), docs_.end());
    if (docs_.empty())
      throw EngineError("E_DATA_EMPTY", "the dataset has no document of 2 or more tokens",
                        "check --data_file; every training sample needs at least one next-token pair");
    for (const auto& d : docs_) tokens_ += d.size();
  }
  void sample(int64_t epoch, int64_t index, int32_t* in, int32_t* tgt, float* mask) const override {
    const size_t n = docs_.size();
    size_t doc = size_t(uint64_t(index) % n);
    if (shuffle_) {
      // Each pass over the documents within an epoch gets its own permutation.
      const uint64_t pass = uint64_t(index) / n;
      std::vector<size_t> order(n);
      for (size_t i = 0; i < n; ++i) order[i] = i;
      std::mt19937_64 gen(seed_ * 1000003ull + uint64_t(epoch) * 7919ull + pass);
      std::shuffle(order.begin(), order.end(), gen);
      doc = order[doc];
    }
    const auto& d = docs_[doc];
    const auto* tr = trainable_.empty() ? nullptr : &trainable_[doc];
    const size_t len = std::min(d.size(), size_t(ctx_) + 1);
    for (int t = 0; t < ctx_; ++t) {
      const bool real = size_t(t) + 1 < len;
      in[t] = size_t(t) < len ? int32_t(d[t]) : 0;
      tgt[t] = real ? int32_t(d[t + 1]) : 0;
      mask[t] = real && (!tr || (*tr)[t + 1]) ? 1.0f : 0.0f;
    }
  }
  uint64_t num_tokens() const override { return tokens_; }
  uint64_t num_documents() const override { return docs_.size(); }
  std::string kind() const override { return kind_; }

 private:
  std::vector<std::vector<uint32_t>> docs_;
  std::vector<std::vector<uint8_t>> trainable_;
  int ctx_;
  bool shuffle_;
  uint64_t seed_;
  uint64_t tokens_ = 0;
  std::string kind_;
};

std::string field(const Json& obj, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const Json* v = obj.find(n)) if (v->kind() == Json::Kind::String) return v->as_string();
  return "";
}

std::unique_ptr<DataSource> open_jsonl(const TrainOptions& o) {
  std::ifstream in(o.data_file);
  if (!in) throw EngineError("E_DATA_OPEN", "cannot open " + o.data_file, "check --data_file");
  WorldTokenizer tok(default_vocab_path());
  std::vector<std::vector<uint32_t>> docs;
  std::vector<std::vector<uint8_t>> trainable;
  const bool sft = o.data_type == "sft";
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json obj;
    try { obj = Json::parse(line); } catch (const EngineError& e) {
      throw EngineError("E_DATA_JSONL", o.data_file + ":" + std::to_string(line_no) + ": " + e.what(),
                        "each line must be one JSON object such as {\"text\": \"...\"}");
    }
    if (obj.kind() != Json::Kind::Object)
      throw EngineError("E_DATA_JSONL", o.data_file + ":" + std::to_string(line_no) + ": not a JSON object", "");
    std::string prompt = field(obj, {"prompt", "instruction", "question"});
    const std::string input = field(obj, {"input"});
    if (!input.empty()) prompt += (prompt.empty() ? "" : "\n") + input;
    const std::string response = field(obj, {"response", "output", "answer"});
    std::vector<uint32_t> ids;
    std::vector<uint8_t> mask;
    if (sft && !response.empty()) {
      ids = tok.encode(prompt);
      mask.assign(ids.size(), 0);
      auto r = tok.encode(response);
      ids.insert(ids.end(), r.begin(), r.end());
      ids.push_back(0);  // end of text, trained so the model learns to stop
      mask.resize(ids.size(), 1);
    } else {
      const std::string text = field(obj, {"text"});
      if (text.empty())
        throw EngineError("E_DATA_JSONL", o.data_file + ":" + std::to_string(line_no) + ": no \"text\" field" +
                                              (sft ? " and no prompt/response pair" : ""),
                          "jsonl lines look like {\"text\": \"User: ...\\n\\nAssistant: ...\"}");
      ids = tok.encode(text);
      ids.push_back(0);
      mask.assign(ids.size(), 1);
    }
    docs.push_back(std::move(ids));
    trainable.push_back(std::move(mask));
  }
  return std::make_unique<DocumentSource>(std::move(docs), std::move(trainable), o, sft ? "sft" : "jsonl");
}

}  // namespace

std::unique_ptr<DataSource> open_data_source(const TrainOptions& o, int64_t samples_per_epoch) {
  if (o.data_type == "jsonl" || o.data_type == "sft") return open_jsonl(o);
  if (o.magic_prime > 0) return std::make_unique<MagicPrimeSource>(o.data_file, o, samples_per_epoch);
  BinIdxDataset data(o.data_file);
  std::vector<std::vector<uint32_t>> docs(data.num_documents());
  for (uint64_t d = 0; d < docs.size(); ++d) data.read_document(d, docs[d]);
  return std::make_unique<DocumentSource>(std::move(docs), std::vector<std::vector<uint8_t>>{}, o,
                                          "binidx (documents)");
}

}  // namespace rwkv
