#include "train/dataset_preview.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/jsonl_documents.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "core/utf8.h"
#include "train/data_source.h"
#include "train/peft_samples.h"

namespace rwkv {

namespace {

constexpr int kBins = 32;

// A token's bytes as text: valid UTF-8 kept, other bytes (a character split across tokens)
// written as \xNN so the page shows them and every string stays valid JSON.
std::string piece_text(const std::string& bytes) {
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) {
    const size_t n = utf8_sequence_length(s + i, bytes.size() - i);
    if (n) {
      out.append(bytes, i, n);
      i += n;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[s[i] >> 4];
      out += hex[s[i] & 15];
      ++i;
    }
  }
  return out;
}

Json histogram(const std::vector<uint64_t>& lengths, uint64_t documents_total) {
  Json h = Json::object();
  uint64_t lo = UINT64_MAX, hi = 0;
  double sum = 0;
  for (uint64_t n : lengths) { lo = std::min(lo, n); hi = std::max(hi, n); sum += double(n); }
  if (lengths.empty()) lo = 0;
  const uint64_t width = std::max<uint64_t>(1, (hi + kBins) / kBins);
  std::vector<uint64_t> counts(kBins, 0);
  for (uint64_t n : lengths) counts[std::min<uint64_t>(kBins - 1, n / width)]++;
  std::vector<uint64_t> sorted = lengths;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  Json c = Json::array();
  for (uint64_t v : counts) c.push(int64_t(v));
  h.set("binWidth", int64_t(width));
  h.set("counts", c);
  h.set("min", int64_t(lo));
  h.set("max", int64_t(hi));
  h.set("mean", lengths.empty() ? 0.0 : sum / double(lengths.size()));
  h.set("median", lengths.empty() ? int64_t(0) : int64_t(sorted[sorted.size() / 2]));
  h.set("documents", int64_t(lengths.size()));  // how many the histogram counts
  h.set("ofDocuments", int64_t(documents_total));
  return h;
}

// Which documents to show: the first ones and then evenly through the data.
std::vector<uint64_t> sample_indices(uint64_t documents, int samples) {
  const uint64_t k = uint64_t(std::max(samples, 0));
  std::vector<uint64_t> out;
  if (documents <= k) {
    for (uint64_t i = 0; i < documents; ++i) out.push_back(i);
    return out;
  }
  const uint64_t head = k / 2, rest = k - head;
  for (uint64_t i = 0; i < head; ++i) out.push_back(i);
  for (uint64_t j = 0; j < rest; ++j) {
    const uint64_t idx = head + (documents - 1 - head) * (j + 1) / rest;
    if (out.empty() || idx > out.back()) out.push_back(idx);
  }
  return out;
}

// One shown document: its tokens (as pieces of text), which of them train, the round trip.
Json shown_document(const WorldTokenizer& tok, uint64_t index, const std::vector<uint32_t>& ids, const SampleWindow* window,
                    const std::vector<uint8_t>* mask, int max_tokens, bool round_trip, const std::string* text) {
  Json d = Json::object();
  d.set("index", int64_t(index));
  d.set("length", int64_t(ids.size()));
  // what the model reads: the window (ctx_len + 1 tokens) where there is one, else the document
  const std::vector<uint32_t>& seen = window ? window->tokens : ids;
  const size_t own = window ? window->min_len : ids.size();
  const size_t shown = std::min<size_t>(seen.size(), size_t(std::max(max_tokens, 1)));
  Json tokens = Json::array();
  int64_t trained = 0;
  for (size_t t = 0; t < shown; ++t) {
    Json k = Json::array();
    k.push(int64_t(seen[t]));
    k.push(seen[t] < tok.vocab_size() ? piece_text(tok.decode({seen[t]})) : std::string("\xEF\xBF\xBD"));
    // token t is a target of input t - 1: it trains when mask[t - 1] says so
    const bool trains = t > 0 && mask && t - 1 < mask->size() && (*mask)[t - 1];
    k.push(int64_t(trains ? 1 : 0));
    k.push(int64_t(t < own ? 1 : 0));  // 0: padding or the next document's tokens
    tokens.push(k);
  }
  if (mask) for (uint8_t m : *mask) trained += m;
  d.set("tokens", tokens);
  d.set("shownTokens", int64_t(shown));
  if (mask) d.set("trainedTokens", trained);
  if (round_trip) {
    // jsonl: text -> ids -> text; binidx: ids -> text -> ids (ids made by another tokenizer, or
    // a different cut, do not come back)
    // id 0 is the end of text (make_data.py ends every document with it): it has no text
    bool same = true;
    std::vector<uint32_t> words;
    bool in_range = true;
    for (uint32_t id : ids) {
      if (id >= tok.vocab_size()) in_range = false;
      else if (id != 0) words.push_back(id);
    }
    if (text) same = tok.decode(tok.encode(*text)) == *text;
    else same = in_range && tok.encode(tok.decode(words)) == words;
    d.set("roundTrip", same);
  }
  if (text) d.set("text", text->size() > 4000 ? text->substr(0, 4000) : *text);
  return d;
}

}  // namespace

Json preview_dataset(const PreviewOptions& o, const std::string& vocab_path) {
  const WorldTokenizer& tok = shared_world_tokenizer(vocab_path);
  const int ctx = std::max(o.ctx_len, 1);
  const LossMask mode = o.loss_mask == "qa" ? LossMask::Qa : o.loss_mask == "pad" ? LossMask::Pad : LossMask::None;
  const std::vector<uint32_t> user = tok.encode("User:"), assistant = tok.encode("Assistant:");
  std::string type = o.data_type;
  if (type.empty()) type = ends_with(o.path, ".jsonl") ? "jsonl" : "binidx";
  Json out = Json::object();
  out.set("path", o.path);
  out.set("dataType", type);
  out.set("ctxLen", int64_t(ctx));
  out.set("lossMask", o.magic_prime ? std::string("all (magic_prime sampling)") : type == "sft" ? std::string("sft (response only)") : o.loss_mask);
  Json docs = Json::array();
  if (type == "binidx") {
    std::string prefix = o.path;
    if (ends_with(prefix, ".bin") || ends_with(prefix, ".idx")) prefix.resize(prefix.size() - 4);
    const BinIdxDataset data(prefix);
    const uint64_t n = data.num_documents();
    std::vector<uint64_t> lengths(n);
    uint64_t over = 0;
    for (uint64_t d = 0; d < n; ++d) {
      lengths[d] = data.document_size(d);
      over += lengths[d] > uint64_t(ctx) + 1;
    }
    out.set("format", "binidx");
    out.set("documents", int64_t(n));
    out.set("tokens", int64_t(data.num_tokens()));
    out.set("histogram", histogram(lengths, n));
    out.set("longerThanCtx", int64_t(over));
    const uint64_t prime = magic_prime_for(data.num_tokens(), uint64_t(ctx));
    out.set("magicPrime", int64_t(prime));
    out.set("myExitTokens", int64_t(data.num_tokens()));
    const TokenReader read = [&](uint64_t off, uint64_t count, std::vector<uint32_t>& v) { data.read_tokens(off, count, v); };
    for (uint64_t d : sample_indices(n, o.samples)) {
      std::vector<uint32_t> ids;
      data.read_document(d, ids);
      if (ids.size() > 4096) ids.resize(4096);  // the round trip of a long document: its start
      if (o.magic_prime) {
        // RWKV-LM's sampler reads ctx_len-token slots of the whole stream: every token is a target
        const std::vector<uint8_t> all(ids.size(), 1);
        docs.push(shown_document(tok, d, ids, nullptr, &all, o.max_tokens, true, nullptr));
        continue;
      }
      const SampleWindow w = binidx_pad_window(read, data.num_tokens(), data.document_start(d), data.document_size(d), ctx);
      const std::vector<uint8_t> mask = loss_mask_for(w, mode, user, assistant);
      docs.push(shown_document(tok, d, ids, &w, &mask, o.max_tokens, true, nullptr));
    }
  } else {
    out.set("format", "jsonl");
    const bool sft = type == "sft";
    std::vector<JsonlObject> rows = read_jsonl_objects(o.path);
    std::vector<std::string> fields;
    if (sft) {
      fields = sft_fields_of(o.sft_fields, rows.front());
      Json f = Json::array();
      for (const auto& x : fields) f.push(x);
      out.set("sftFields", f);
    }
    auto text_of = [&](const JsonlObject& row) {
      if (sft) return sft_text(row, o.path, fields[0]) + "\n" + sft_text(row, o.path, fields[1]);
      const Json* t = row.value.find("text");
      if (!t || t->kind() != Json::Kind::String)
        throw EngineError("E_DATA_JSONL", o.path + ":" + std::to_string(row.line_no) + ": no \"text\" string in this line",
                          "jsonl data for RWKV-PEFT holds {\"text\": \"...\"} a line");
      return t->as_string();
    };
    std::vector<uint64_t> lengths;
    uint64_t bytes = 0, tokens = 0, over = 0;
    for (const JsonlObject& row : rows) {
      if (bytes > o.histogram_bytes) break;
      const std::string text = text_of(row);
      bytes += text.size();
      const uint64_t len = tok.encode(text).size();
      lengths.push_back(len);
      tokens += len;
      over += len > uint64_t(ctx) + 1;
    }
    out.set("documents", int64_t(rows.size()));
    // tokens of the documents the histogram counts (all of them unless the budget ran out)
    out.set("tokens", int64_t(tokens));
    out.set("tokensCounted", lengths.size() == rows.size());
    out.set("histogram", histogram(lengths, rows.size()));
    out.set("longerThanCtx", int64_t(over));
    for (uint64_t d : sample_indices(rows.size(), o.samples)) {
      const JsonlObject& row = rows[size_t(d)];
      if (sft) {
        const std::string q = sft_text(row, o.path, fields[0]), r = sft_text(row, o.path, fields[1]);
        const SftExample ex = make_sft_example(tok, q, r, ctx);
        const SampleWindow w = sft_window(ex, ctx);
        const std::vector<uint8_t> mask = sft_loss_mask(ex, ctx);
        const std::string text = q + "\n" + r;
        docs.push(shown_document(tok, d, ex.ids, &w, &mask, o.max_tokens, true, &text));
      } else {
        const std::string text = text_of(row);
        const std::vector<uint32_t> ids = tok.encode(text);
        const SampleWindow w = padded_window(ids, ctx);
        const std::vector<uint8_t> mask = loss_mask_for(w, mode, user, assistant);
        docs.push(shown_document(tok, d, ids, &w, &mask, o.max_tokens, true, &text));
      }
    }
  }
  out.set("samples", docs);
  return out;
}

}  // namespace rwkv
