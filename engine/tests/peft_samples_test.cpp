// Training samples and loss masks equal RWKV-PEFT's own: fixtures/peft_samples/expected.json
// holds the (input, target) pairs that RWKV-PEFT's dataset code produced (JL-er 5b8aac9 and the
// newest Joluck tree; how: fixtures/peft_samples/README.md) for binidx --dataload pad, jsonl
// and sft, with --loss_mask none, pad and qa. Our data sources must give the same inputs, the
// same counted targets and no other counted position. Also: the flag combinations that
// RWKV-PEFT cannot run are refused with E_FLAG_UNSUPPORTED.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "core/errors.h"
#include "core/flags.h"
#include "core/json.h"
#include "tests/check.h"
#include "train/data_source.h"
#include "train/train_options.h"

using namespace rwkv;

static const std::string kDir = "fixtures/peft_samples/";

static Json load_expected() {
  std::ifstream f(kDir + "expected.json");
  return Json::parse(std::string((std::istreambuf_iterator<char>(f)), {}));
}

static TrainOptions options_for(const Json& c) {
  TrainOptions o;
  o.data_type = c.find("data_type")->as_string();
  o.loss_mask = c.find("loss_mask")->as_string();
  o.dataload = c.find("dataload")->as_string();
  o.dataload_given = true;
  o.ctx_len = int(c.find("ctx_len")->as_number());
  o.data_shuffle = false;  // sample i is document i, as RWKV-PEFT's __getitem__(i)
  const std::string file = c.find("data_file")->as_string();
  o.data_file = kDir + file;
  if (const Json* f = c.find("sft_field"))
    for (const Json& v : f->items()) o.sft_fields.push_back(v.as_string());
  return o;
}

// Returns how many targets counted over the case, so callers can compare modes.
static size_t check_case(const Json& c) {
  const std::string name = c.find("name")->as_string();
  const TrainOptions o = options_for(c);
  const auto& samples = c.find("samples")->items();
  std::unique_ptr<DataSource> src = open_data_source(o, int64_t(samples.size()));
  if (src->num_documents() != samples.size()) rwkv_test::fail(__FILE__, __LINE__, name + ": document count");
  const int T = o.ctx_len;
  std::vector<int32_t> in(static_cast<size_t>(T)), tgt(static_cast<size_t>(T));
  std::vector<float> mask(static_cast<size_t>(T));
  size_t counted = 0;
  for (const Json& s : samples) {
    const int64_t index = int64_t(s.find("index")->as_number());
    src->sample(0, index, in.data(), tgt.data(), mask.data());
    const auto& want_in = s.find("input")->items();
    const auto& want_tgt = s.find("target")->items();
    // sft batches are padded to the longest example, which may be shorter than ctx_len: our
    // extra positions must be padding that never counts.
    const size_t len = want_in.size();
    const std::string where = name + " sample " + std::to_string(index);
    if (len > size_t(T) || want_tgt.size() != len) rwkv_test::fail(__FILE__, __LINE__, where + ": fixture shape");
    for (size_t t = 0; t < size_t(T); ++t) {
      const std::string at = where + " t=" + std::to_string(t);
      if (t >= len) {
        if (mask[t] != 0 || in[t] != 0) rwkv_test::fail(__FILE__, __LINE__, at + ": padding beyond the batch");
        continue;
      }
      const int64_t wi = int64_t(want_in[t].as_number()), wt = int64_t(want_tgt[t].as_number());
      if (in[t] != wi)
        rwkv_test::fail(__FILE__, __LINE__, at + ": input " + std::to_string(in[t]) + " != " + std::to_string(wi));
      const bool want_counted = wt != -100;
      if ((mask[t] != 0) != want_counted)
        rwkv_test::fail(__FILE__, __LINE__, at + ": counted " + std::to_string(mask[t]) + ", RWKV-PEFT " +
                                                std::to_string(want_counted));
      else if (want_counted && tgt[t] != wt)
        rwkv_test::fail(__FILE__, __LINE__, at + ": target " + std::to_string(tgt[t]) + " != " + std::to_string(wt));
      if (mask[t] != 0 && mask[t] != 1) rwkv_test::fail(__FILE__, __LINE__, at + ": mask not 0/1");
      counted += want_counted;
    }
  }
  return counted;
}

static void matches_rwkv_peft_fixtures() {
  const Json expected = load_expected();
  size_t cases = 0;
  std::map<std::string, size_t> counted;
  for (const Json& c : expected.find("cases")->items()) {
    counted[c.find("name")->as_string()] = check_case(c);
    ++cases;
  }
  CHECK(cases == 28);  // binidx/jsonl x none/pad/qa x 2 ctx_len x 2 versions, sft x 2 x 2
  // The fixtures exercise real masking: qa counts fewer targets than pad, sft fewer than its
  // tokens, and pad equals none (RWKV-PEFT masks padding either way).
  for (const char* v : {"newest", "older"})
    for (const char* dt : {"binidx", "jsonl"}) {
      const std::string pad = std::string(dt) + "_pad_ctx40_" + v, qa = std::string(dt) + "_qa_ctx40_" + v,
                        none = std::string(dt) + "_none_ctx40_" + v;
      CHECK(counted[qa] > 0 && counted[qa] < counted[pad]);
      CHECK(counted[none] == counted[pad]);
    }
  CHECK(counted["sft_ctx64_newest"] > 0);
}

// RWKV-PEFT's epoch is a permutation of its first epoch_steps * micro_bsz documents: with 2
// samples per epoch, every epoch reads documents 0 and 1 only, each once.
static void epoch_reads_the_first_documents() {
  const Json expected = load_expected();
  const Json* c = nullptr;
  for (const Json& x : expected.find("cases")->items())
    if (x.find("name")->as_string() == "binidx_none_ctx16_newest") c = &x;
  CHECK(c != nullptr);
  if (!c) return;
  TrainOptions o = options_for(*c);
  o.data_shuffle = true;
  std::unique_ptr<DataSource> src = open_data_source(o, 2);
  CHECK(src->num_documents() == 2);
  std::vector<std::vector<int32_t>> first_two;
  for (int i = 0; i < 2; ++i) {
    std::vector<int32_t> v;
    for (const Json& t : c->find("samples")->items()[size_t(i)].find("input")->items()) v.push_back(int32_t(t.as_number()));
    first_two.push_back(v);
  }
  std::vector<int32_t> in(16), tgt(16);
  std::vector<float> mask(16);
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    int seen[2] = {0, 0};
    for (int64_t i = 0; i < 2; ++i) {
      src->sample(epoch, i, in.data(), tgt.data(), mask.data());
      for (int d = 0; d < 2; ++d) seen[d] += in == first_two[size_t(d)];
    }
    CHECK(seen[0] == 1 && seen[1] == 1);
  }
}

static std::string flags_error(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--data_file", kDir + "qa_docs", "--ctx_len", "16", "--vocab_size", "65536", "--data_type", "binidx"};
  args.insert(args.end(), extra.begin(), extra.end());
  try {
    train_options_from_flags(parse_flags(args));
  } catch (const EngineError& e) {
    return e.code;
  }
  return "";
}

static void refuses_what_rwkv_peft_cannot_run() {
  CHECK(flags_error({"--loss_mask", "se"}) == "E_FLAG_UNSUPPORTED");
  CHECK(flags_error({"--dataload", "only"}) == "E_FLAG_UNSUPPORTED");
  CHECK(flags_error({"--dataload", "get"}) == "E_FLAG_UNSUPPORTED");  // no magic_prime
  CHECK(flags_error({"--dataload", "get", "--magic_prime", "11", "--loss_mask", "qa"}) == "E_FLAG_UNSUPPORTED");
  CHECK(flags_error({"--data_type", "sft", "--sft_split", "test"}) == "E_FLAG_UNSUPPORTED");
  CHECK(flags_error({"--data_type", "sft", "--sft_field", "query"}) == "E_FLAG_VALUE");
  // what the tutorials run is accepted
  CHECK(flags_error({"--dataload", "pad", "--loss_mask", "pad"}).empty());
  CHECK(flags_error({"--dataload", "pad", "--loss_mask", "qa"}).empty());
  CHECK(flags_error({"--data_type", "jsonl", "--dataload", "only", "--loss_mask", "qa"}).empty());
  const TrainOptions sft = train_options_from_flags(
      parse_flags({"--data_file", kDir + "sft_rows.jsonl", "--data_type", "sft", "--sft_field", "query", "response",
                   "--sft_split", "train[:2]", "--ctx_len", "48", "--vocab_size", "65536"}));
  CHECK(sft.sft_fields == std::vector<std::string>({"query", "response"}));
  CHECK(sft.sft_split_rows == 2);
  CHECK(open_data_source(sft, 3)->num_documents() == 2);
  // --dataload pad given explicitly wins over magic_prime (RWKV-PEFT ignores magic_prime)
  const TrainOptions pad = train_options_from_flags(
      parse_flags({"--data_file", kDir + "qa_docs", "--ctx_len", "16", "--magic_prime", "11", "--dataload", "pad", "--vocab_size", "65536", "--data_type", "binidx"}));
  CHECK(!uses_stream_sampler(pad));
  const TrainOptions lm = train_options_from_flags(
      parse_flags({"--data_file", kDir + "qa_docs", "--ctx_len", "16", "--magic_prime", "11", "--vocab_size", "65536", "--data_type", "binidx"}));
  CHECK(uses_stream_sampler(lm));
}

int main() {
  setenv("RWKV_VOCAB", "../data/rwkv_vocab_v20230424.txt", 0);
  try {
    matches_rwkv_peft_fixtures();
    epoch_reads_the_first_documents();
    refuses_what_rwkv_peft_cannot_run();
  } catch (const EngineError& e) {
    rwkv_test::fail(__FILE__, __LINE__, e.code + ": " + e.what() + " (" + e.hint + ")");
  }
  return rwkv_test::summary("peft_samples_test");
}
