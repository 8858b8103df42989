// The dataset preview (train/dataset_preview.h): counts and the length histogram from the index,
// the shown tokens with the loss mask RWKV-PEFT builds (binidx pad: the next document's tokens
// never train; jsonl qa: only what follows "Assistant:"; sft: the response only), the round trip
// (World-tokenized ids come back, ids from another tokenizer do not), and the time on a large
// binidx.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/binidx.h"
#include "core/tokenizer.h"
#include "tests/check.h"
#include "train/dataset_preview.h"

using namespace rwkv;

static std::string dir() {
  static std::string d = [] {
    std::string p = "/tmp/rwkv_preview_test_" + std::to_string(::getpid());
    std::system(("rm -rf " + p + " && mkdir -p " + p).c_str());
    return p;
  }();
  return d;
}

static void binidx_counts_masks_round_trip() {
  const WorldTokenizer tok(default_vocab_path());
  std::vector<std::vector<uint32_t>> docs;
  for (int i = 0; i < 10; ++i) {
    docs.push_back(tok.encode("Document number " + std::to_string(i) + " says hello to the world."));
    docs.back().push_back(0);  // the end of text make_data.py appends: no text, still a round trip
  }
  // "hello" spelt byte by byte (ids 1-256 are the single bytes): the World tokenizer makes
  // fewer, longer tokens of it, as data from another tokenizer would show
  docs.push_back({'h' + 1u, 'e' + 1u, 'l' + 1u, 'l' + 1u, 'o' + 1u});
  write_binidx(dir() + "/data", docs);
  PreviewOptions o;
  o.path = dir() + "/data.bin";  // a suffix is accepted
  o.ctx_len = 16;
  o.samples = 11;
  const Json p = preview_dataset(o, default_vocab_path());
  CHECK(p.find("documents")->as_number() == 11);
  uint64_t tokens = 0;
  for (const auto& d : docs) tokens += d.size();
  CHECK(p.find("tokens")->as_number() == double(tokens));
  double sum = 0;
  for (const Json& c : p.find("histogram")->find("counts")->items()) sum += c.as_number();
  CHECK(sum == 11);
  const auto& samples = p.find("samples")->items();
  CHECK(samples.size() == 11);
  if (samples.size() == 11) {
    CHECK(samples[0].find("roundTrip")->as_bool());
    CHECK(!samples[10].find("roundTrip")->as_bool());
    // document 0 is shorter than ctx_len + 1: the window runs on into document 1, whose
    // tokens are shown as not the document's own and never train
    const auto& toks = samples[0].find("tokens")->items();
    const size_t own = docs[0].size();
    CHECK(toks.size() == 17);
    for (size_t t = 0; t < toks.size(); ++t) {
      const bool mine = toks[t].items()[3].as_number() == 1, trains = toks[t].items()[2].as_number() == 1;
      CHECK(mine == (t < own));
      CHECK(trains == (t > 0 && t < own));
    }
    CHECK(toks[1].items()[1].as_string() == tok.decode({docs[0][1]}));
  }
}

static void jsonl_qa_and_sft() {
  {
    std::ofstream f(dir() + "/chat.jsonl");
    f << "{\"text\":\"User: what is RWKV?\\n\\nAssistant: an RNN.\"}\n{\"text\":\"plain\"}\n";
  }
  PreviewOptions o;
  o.path = dir() + "/chat.jsonl";
  o.ctx_len = 64;
  o.loss_mask = "qa";
  const Json p = preview_dataset(o, default_vocab_path());
  CHECK(p.find("documents")->as_number() == 2 && p.find("tokensCounted")->as_bool());
  const Json& first = p.find("samples")->items()[0];
  CHECK(first.find("roundTrip")->as_bool());
  std::string trained;
  for (const Json& t : first.find("tokens")->items())
    if (t.items()[2].as_number() == 1) trained += t.items()[1].as_string();
  // from "Assistant:" on (RWKV-PEFT's qa mask: the marker follows the state it switches to)
  CHECK(trained == "Assistant: an RNN.");
  {
    std::ofstream f(dir() + "/sft.jsonl");
    f << "{\"query\":\"Say hi\",\"response\":\"hi\"}\n";
  }
  o.path = dir() + "/sft.jsonl";
  o.data_type = "sft";
  const Json s = preview_dataset(o, default_vocab_path());
  std::string response;
  for (const Json& t : s.find("samples")->items()[0].find("tokens")->items())
    if (t.items()[2].as_number() == 1) response += t.items()[1].as_string();
  CHECK(response == "hi\n\x17");  // the response and its "\n\x17" ending; never the Alpaca prompt
}

static void large_binidx_is_quick() {
  // 2,000,000 documents of 60 tokens (240 MB): the index is sized, 8 documents are read
  std::vector<std::vector<uint32_t>> docs(2000000, std::vector<uint32_t>(60, 33));
  write_binidx(dir() + "/big", docs);
  docs.clear();
  docs.shrink_to_fit();
  PreviewOptions o;
  o.path = dir() + "/big";
  const auto t0 = std::chrono::steady_clock::now();
  const Json p = preview_dataset(o, default_vocab_path());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "preview of 2,000,000 documents (240 MB): %.3f s\n", s);
  CHECK(p.find("documents")->as_number() == 2000000 && p.find("samples")->items().size() == 8);
  CHECK(s < 1.0);
}

static void jsonl_vocabulary_once_and_quick() {
  // ~4 MB of jsonl (12,000 lines of ~330 bytes). The World vocabulary is read once per process
  // (shared_world_tokenizer), not once a preview; the counts stay exact: every document is
  // tokenized (tokens equal the sum of the lines' own token counts).
  const std::string path = dir() + "/multi_mb.jsonl";
  uint64_t expected_tokens = 0;
  {
    const WorldTokenizer& tok = shared_world_tokenizer(default_vocab_path());
    std::ofstream f(path);
    for (int i = 0; i < 12000; ++i) {
      std::string text;
      for (int w = 0; w < 30; ++w) text += "word" + std::to_string((i * 31 + w * 7) % 997) + " ";
      expected_tokens += tok.encode(text).size();
      f << "{\"text\": \"" << text << "\"}\n";
    }
  }
  PreviewOptions o;
  o.path = path;
  o.data_type = "jsonl";
  const size_t loads = world_tokenizer_loads();
  double worst = 0;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    const Json p = preview_dataset(o, default_vocab_path());
    worst = std::max(worst, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    CHECK(p.find("documents")->as_number() == 12000);
    CHECK(p.find("tokens")->as_number() == double(expected_tokens));
    CHECK(p.find("tokensCounted")->as_bool());
  }
  std::fprintf(stderr, "preview of a 4 MB jsonl (12,000 documents): %.3f s at worst of 3\n", worst);
  CHECK(world_tokenizer_loads() == loads);  // the vocabulary was already loaded above: no preview reads it again
  CHECK(worst < 2.0);  // ~0.1 s here; a loaded 2-core CI machine has room, a per-line regression does not
}

int main() {
  binidx_counts_masks_round_trip();
  jsonl_qa_and_sft();
  large_binidx_is_quick();
  jsonl_vocabulary_once_and_quick();
  if (!rwkv_test::failures()) std::system(("rm -rf " + dir()).c_str());
  return rwkv_test::summary("dataset_preview_test");
}
