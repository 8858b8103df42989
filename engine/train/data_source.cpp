#include "train/data_source.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/jsonl_documents.h"
#include "core/tokenizer.h"
#include "train/epoch_plan.h"
#include "train/peft_samples.h"
#include "train/train_options.h"

namespace rwkv {

uint64_t magic_prime_offset(uint64_t p, uint64_t ctx_len, uint64_t ii) {
  const uint64_t factor = uint64_t(double(p) * ((std::sqrt(5.0) - 1) / 2));
  using u128 = unsigned __int128;
  const u128 i3 = (u128(ii % p) * (ii % p) % p) * (ii % p) % p;
  return uint64_t((u128(factor) * i3) % p) * ctx_len;
}

static std::string where(const std::string& file, size_t line_no) { return file + ":" + std::to_string(line_no); }

// A string field of an sft row; numbers and other JSON values are an error, as HF's string
// concatenation in SFTdataset.py would fail on them.
std::string sft_text(const JsonlObject& row, const std::string& file, const std::string& name) {
  const Json* v = row.value.find(name);
  if (!v || v->kind() != Json::Kind::String)
    throw EngineError("E_DATA_JSONL", where(file, row.line_no) + ": no \"" + name + "\" string in this line",
                      "--sft_field names the prompt field and the response field, e.g. --sft_field query response");
  return v->as_string();
}

// The two fields --sft_field names, or (an engine convenience where RWKV-PEFT would stop with a
// TypeError) the first common pair present in the first row.
std::vector<std::string> sft_fields_of(const std::vector<std::string>& given, const JsonlObject& first) {
  if (!given.empty()) return given;
  static const char* const pairs[][2] = {{"query", "response"}, {"instruction", "output"}, {"prompt", "response"},
                                         {"question", "answer"}};
  for (const auto& p : pairs)
    if (first.value.find(p[0]) && first.value.find(p[1])) return {p[0], p[1]};
  throw EngineError("E_FLAG_VALUE", "--sft_field: not given and the data has none of the usual field pairs",
                    "name the prompt and response fields, e.g. --sft_field query response");
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
    // RWKV-LM's dataset.py: magic_prime / (tokens // ctx_len) in (0.9, 1], so one pass of the
    // sampler covers (nearly) all of the data.
    const uint64_t slots = tokens / uint64_t(ctx_);
    if (o.lm_v7 && !(slots > 0 && double(prime_) / double(slots) > 0.9 && prime_ <= slots))
      throw EngineError("E_LM_MAGIC_PRIME",
                        "--magic_prime " + std::to_string(prime_) + " is not within 0.9-1.0 of tokens / ctx_len = " +
                            std::to_string(tokens) + " / " + std::to_string(ctx_) + " = " + std::to_string(slots) +
                            " (RWKV-LM's dataset asserts it)",
                        "use " + std::to_string(magic_prime_for(tokens, ctx_)) +
                            ", what make_data.py prints for this data and ctx_len");
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
  void check_unchanged() const override { data_.check_unchanged(); }

 private:
  BinIdxDataset data_;
  int ctx_;
  uint64_t prime_;
  uint64_t spe_;
};

// RWKV-PEFT's document sampler: one document per sample, its window and loss mask built as
// peft_samples.h describes; documents shuffled per epoch from the seed when --data_shuffle 1.
class DocumentSource final : public DataSource {
 public:
  enum class Fill { Stream, Zeros, Sft };

  // The pool is the first pool_limit documents (train/epoch_plan.h): RWKV-PEFT 5b8aac9 draws an
  // epoch's epoch_steps * micro_bsz samples as a permutation of the first that many documents
  // (a smaller dataset is cycled, where it would stop); the newest RWKV-PEFT makes one pass over
  // its first epoch_steps documents, always shuffled (its DataLoader's shuffle=True whatever
  // --data_shuffle says).
  DocumentSource(const TrainOptions& o, Fill fill, LossMask mode, std::string kind, int64_t pool_limit)
      : ctx_(o.ctx_len), shuffle_(o.data_shuffle || epoch_plan(o, -1).one_pass),
        seed_(uint64_t(o.seed < 0 ? 0 : o.seed)), fill_(fill), mode_(mode), kind_(std::move(kind)),
        pool_(pool_limit < 0 ? UINT64_MAX : uint64_t(std::max<int64_t>(pool_limit, 1))) {}

  // binidx: the memory-mapped data and the sizes of its first documents (the pool at most).
  void add_binidx(std::unique_ptr<BinIdxDataset> data, const std::vector<uint64_t>& sizes) {
    binidx_ = std::move(data);
    uint64_t start = 0;
    for (uint64_t size : sizes) {
      const bool in_pool = seen_++ < pool_;
      if (size >= 2 && in_pool) docs_.push_back({start, size, {}, 0});
      start += size;
    }
    tokens_ = binidx_->num_tokens();
  }
  void add_document(std::vector<uint32_t> ids, size_t prompt_len = 0) {
    tokens_ += ids.size();
    const bool in_pool = seen_++ < pool_;
    if (ids.size() >= 2 && in_pool) docs_.push_back({0, ids.size(), std::move(ids), prompt_len});
  }
  void set_markers(std::vector<uint32_t> user, std::vector<uint32_t> assistant) {
    user_ = std::move(user);
    assistant_ = std::move(assistant);
  }
  void finish() {
    if (docs_.empty())
      throw EngineError("E_DATA_EMPTY", "the dataset has no document of 2 or more tokens",
                        "check --data_file; every training sample needs at least one next-token pair");
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
    const Doc& d = docs_[doc];
    SampleWindow w;
    std::vector<uint8_t> counts;
    if (fill_ == Fill::Sft) {
      const SftExample ex{d.ids, d.prompt_len};
      w = sft_window(ex, ctx_);
      counts = sft_loss_mask(ex, ctx_);
    } else {
      w = fill_ == Fill::Stream
              ? binidx_pad_window([this](uint64_t off, uint64_t count, std::vector<uint32_t>& out) {
                  binidx_->read_tokens(off, count, out);
                }, binidx_->num_tokens(), d.start, d.size, ctx_)
              : padded_window(d.ids, ctx_);
      counts = loss_mask_for(w, mode_, user_, assistant_);
    }
    for (int t = 0; t < ctx_; ++t) {
      in[t] = int32_t(w.tokens[size_t(t)]);
      tgt[t] = int32_t(w.tokens[size_t(t) + 1]);
      mask[t] = counts[size_t(t)] ? 1.0f : 0.0f;
    }
  }
  uint64_t num_tokens() const override { return tokens_; }
  uint64_t num_documents() const override { return docs_.size(); }
  uint64_t pool_documents() const override { return std::min(seen_, pool_); }
  std::string kind() const override { return kind_; }
  void check_unchanged() const override { if (binidx_) binidx_->check_unchanged(); }

 private:
  struct Doc {
    uint64_t start, size;       // binidx: where in the token stream
    std::vector<uint32_t> ids;  // jsonl / sft: the tokens
    size_t prompt_len;          // sft: leading tokens that never count
  };
  int ctx_;
  bool shuffle_;
  uint64_t seed_;
  Fill fill_;
  LossMask mode_;
  std::string kind_;
  std::unique_ptr<BinIdxDataset> binidx_;
  std::vector<Doc> docs_;
  std::vector<uint32_t> user_, assistant_;
  uint64_t pool_;
  uint64_t seen_ = 0;  // documents offered so far, the pool being the first pool_ of them
  uint64_t tokens_ = 0;
};

LossMask loss_mask_mode(const TrainOptions& o) {
  if (o.loss_mask == "qa") return LossMask::Qa;
  if (o.loss_mask == "pad") return LossMask::Pad;
  return LossMask::None;
}

std::unique_ptr<DataSource> open_sft(const TrainOptions& o, const WorldTokenizer& tok, int64_t spe) {
  std::vector<JsonlObject> rows = read_jsonl_objects(o.data_file);
  if (o.sft_split_rows >= 0 && size_t(o.sft_split_rows) < rows.size()) rows.resize(size_t(o.sft_split_rows));
  const std::vector<std::string> fields = sft_fields_of(o.sft_fields, rows.front());
  auto src = std::make_unique<DocumentSource>(o, DocumentSource::Fill::Sft, LossMask::None,
                                              "sft (" + fields[0] + " -> " + fields[1] + ")", spe);
  for (const JsonlObject& row : rows) {
    SftExample ex = make_sft_example(tok, sft_text(row, o.data_file, fields[0]), sft_text(row, o.data_file, fields[1]),
                                     o.ctx_len);
    src->add_document(std::move(ex.ids), ex.prompt_len);
  }
  src->finish();
  return src;
}

std::unique_ptr<DataSource> open_jsonl(const TrainOptions& o, const WorldTokenizer& tok, int64_t spe) {
  auto src = std::make_unique<DocumentSource>(o, DocumentSource::Fill::Zeros, loss_mask_mode(o),
                                              "jsonl (loss_mask " + o.loss_mask + ")", spe);
  for (const std::string& text : read_jsonl_texts(o.data_file)) src->add_document(tok.encode(text));
  src->set_markers(tok.encode("User:"), tok.encode("Assistant:"));
  src->finish();
  return src;
}

}  // namespace

std::unique_ptr<DataSource> open_data_source(const TrainOptions& o, int64_t pool_limit) {
  if (o.data_type == "jsonl" || o.data_type == "sft") {
    WorldTokenizer tok(default_vocab_path());
    return o.data_type == "sft" ? open_sft(o, tok, pool_limit) : open_jsonl(o, tok, pool_limit);
  }
  if (uses_stream_sampler(o)) return std::make_unique<MagicPrimeSource>(o.data_file, o, pool_limit);
  auto data = std::make_unique<BinIdxDataset>(o.data_file);
  // Only the documents an epoch can draw (see DocumentSource) need their sizes; documents are
  // contiguous in the .bin as make_data.py and json2binidx write them, so each starts where
  // the one before ends.
  const uint64_t pool = pool_limit < 0 ? UINT64_MAX : uint64_t(std::max<int64_t>(pool_limit, 1));
  std::vector<uint64_t> sizes(size_t(std::min<uint64_t>(data->num_documents(), pool)));
  std::vector<uint32_t> doc;
  for (uint64_t d = 0; d < sizes.size(); ++d) {
    data->read_document(d, doc);
    sizes[d] = doc.size();
  }
  auto src = std::make_unique<DocumentSource>(o, DocumentSource::Fill::Stream, loss_mask_mode(o),
                                              "binidx (dataload pad, loss_mask " + o.loss_mask + ")",
                                              pool_limit);
  src->add_binidx(std::move(data), sizes);
  if (o.loss_mask == "qa") {
    WorldTokenizer tok(default_vocab_path());
    src->set_markers(tok.encode("User:"), tok.encode("Assistant:"));
  }
  src->finish();
  return src;
}

bool uses_stream_sampler(const TrainOptions& o) {
  return o.data_type == "binidx" && o.magic_prime > 0 && (o.dataload == "get" || !o.dataload_given);
}

}  // namespace rwkv
