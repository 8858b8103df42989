// `rwkv-train make-data IN.jsonl OUT_PREFIX --ctx_len N [--epochs E] [--seed S] [--shuffle 0|1]`:
// jsonl -> binidx with the World tokenizer, as RWKV-LM's make_data.py: the non-empty lines are
// shuffled anew for each of E copies (make_data.py's N_EPOCH), each document is its tokens
// followed by 0 (end of document) as one item, uint16; then my_exit_tokens (= the token count)
// and magic_prime for ctx_len are printed. make_data.py shuffles unseeded; here --seed makes
// the order reproducible.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/jsonl_documents.h"
#include "core/binidx.h"
#include "core/flags.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/tokenizer.h"

namespace rwkv::cli {
namespace {

const char* kUsage =
    "usage: rwkv-train make-data IN.jsonl OUT_PREFIX --ctx_len N [--epochs E] [--seed S] [--shuffle 0|1]\n"
    "       rwkv-train make-data IN.jsonl N_EPOCH CTX_LEN   (make_data.py's form: writes ./IN.bin/.idx)\n"
    "  Tokenizes each line's \"text\" with the RWKV World tokenizer into OUT_PREFIX.bin/.idx,\n"
    "  repeating the data E times (default 1), reshuffled each time (default on), and prints\n"
    "  --my_exit_tokens and --magic_prime for pretraining with that ctx_len.\n";

uint64_t parse_count(const std::string& flag, const std::string& value, uint64_t min) {
  char* end = nullptr;
  unsigned long long v = value.empty() || value[0] == '-' ? 0 : std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || value[0] == '-' || *end != '\0' || v < min)
    throw EngineError("E_FLAG_VALUE", "make-data: " + flag + " expects an integer >= " + std::to_string(min) + ", got \"" + value + "\"", kUsage);
  return v;
}

// Fisher-Yates with an explicit generator so the order is the same on every platform
// (std::shuffle's algorithm is implementation-defined).
void shuffle(std::vector<size_t>& order, std::mt19937_64& rng) {
  for (size_t i = order.size(); i > 1; --i) {
    const uint64_t bound = i, limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do { r = rng(); } while (r >= limit);
    std::swap(order[i - 1], order[static_cast<size_t>(r % bound)]);
  }
}

int run_make_data(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  uint64_t ctx_len = 0, epochs = 1, seed = 0, do_shuffle = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (a == "-h" || a == "--help") { std::printf("%s", kUsage); return 0; }
    if (a.compare(0, 2, "--") != 0) { positional.push_back(a); continue; }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) { value = a.substr(eq + 1); a = a.substr(0, eq); }
    else if (i + 1 < args.size()) value = args[++i];
    else throw EngineError("E_FLAG_VALUE", "make-data: " + a + " needs a value", kUsage);
    if (a == "--ctx_len") ctx_len = parse_count(a, value, 1);
    else if (a == "--epochs") epochs = parse_count(a, value, 1);
    else if (a == "--seed") seed = parse_count(a, value, 0);
    else if (a == "--shuffle") { do_shuffle = parse_count(a, value, 0); if (do_shuffle > 1) parse_count(a, "-", 0); }
    else {
      std::string near = closest_name(a.substr(2), {"ctx_len", "epochs", "seed", "shuffle"});
      throw EngineError("E_FLAG_UNKNOWN", "make-data: unknown flag " + a, near.empty() ? kUsage : "did you mean --" + near + "?");
    }
  }
  // make_data.py's own form, `make_data.py IN.jsonl N_EPOCH CTX_LEN`, writes IN's base name in
  // the current folder; accepted as is so tutorial commands carry over.
  auto all_digits = [](const std::string& v) { return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos; };
  if (positional.size() == 3 && all_digits(positional[1]) && all_digits(positional[2]) && ctx_len == 0) {
    epochs = parse_count("N_EPOCH", positional[1], 1);
    ctx_len = parse_count("CTX_LEN", positional[2], 1);
    std::string base = positional[0].substr(positional[0].rfind('/') + 1);
    if (base.rfind('.') != std::string::npos && base.rfind('.') > 0) base.resize(base.rfind('.'));
    positional = {positional[0], base};
  }
  if (positional.size() != 2) throw EngineError("E_FLAG_VALUE", "make-data: expected IN.jsonl and OUT_PREFIX", kUsage);
  if (ctx_len == 0) throw EngineError("E_FLAG_VALUE", "make-data: --ctx_len is required (the ctx_len you will train with)", kUsage);
  const std::string& in = positional[0];
  std::string prefix = positional[1];
  if (prefix.size() > 4 && (prefix.compare(prefix.size() - 4, 4, ".bin") == 0 || prefix.compare(prefix.size() - 4, 4, ".idx") == 0))
    prefix.resize(prefix.size() - 4);

  const std::vector<std::string> texts = read_jsonl_texts(in);
  WorldTokenizer tokenizer(default_vocab_path());
  std::vector<std::vector<uint32_t>> tokens(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    tokens[i] = tokenizer.encode(texts[i]);
    tokens[i].push_back(0);  // end of document
  }
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(texts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<std::vector<uint32_t>> documents;
  documents.reserve(texts.size() * epochs);
  for (uint64_t e = 0; e < epochs; ++e) {
    if (do_shuffle) shuffle(order, rng);  // cumulative, like random.shuffle on the same list
    for (size_t i : order) documents.push_back(tokens[i]);
  }
  write_binidx(prefix, documents);
  BinIdxDataset written(prefix);  // read back, as make_data.py verifies its output
  const uint64_t total = written.num_tokens();
  const uint64_t prime = magic_prime_for(total, ctx_len);

  Json out = Json::object();
  out.set("prefix", prefix);
  out.set("documents", static_cast<uint64_t>(documents.size()));
  out.set("tokens", total);
  out.set("dtype", written.dtype_code() == 8 ? "uint16" : "int32");
  out.set("ctx_len", ctx_len);
  out.set("my_exit_tokens", total);
  out.set("magic_prime", prime);
  std::printf("%s\n", out.dump().c_str());
  std::fprintf(stderr, "### %s.bin/idx: %llu tokens, %zu documents (%zu lines x %llu)\n", prefix.c_str(),
               static_cast<unsigned long long>(total), documents.size(), texts.size(), static_cast<unsigned long long>(epochs));
  if (prime)
    std::fprintf(stderr, "### magic_prime = %llu (for ctx_len %llu)\n--my_exit_tokens %llu --magic_prime %llu --ctx_len %llu\n",
                 static_cast<unsigned long long>(prime), static_cast<unsigned long long>(ctx_len),
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(prime),
                 static_cast<unsigned long long>(ctx_len));
  else
    std::fprintf(stderr, "### too little data for pretraining at ctx_len %llu: needs at least %llu tokens (3 x ctx_len); "
                 "fine-tuning does not need magic_prime\n", static_cast<unsigned long long>(ctx_len),
                 static_cast<unsigned long long>(3 * ctx_len));
  return 0;
}

const RegisterCommand kRegister("make-data", "jsonl -> binidx with the World tokenizer; prints my_exit_tokens and magic_prime", run_make_data);

}  // namespace
}  // namespace rwkv::cli
