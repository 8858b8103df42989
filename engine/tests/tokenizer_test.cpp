// World tokenizer: ids equal fixtures produced by an independent Python implementation
// (fixtures/make_tokenizer_fixtures.py) on multilingual text, decode round trips, Python
// literal forms in the vocabulary, and clean errors for a bad vocabulary.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/errors.h"
#include "core/json.h"
#include "core/tokenizer.h"
#include "tests/check.h"

using namespace rwkv;

int main() {
  WorldTokenizer tok("../data/rwkv_vocab_v20230424.txt");
  CHECK(tok.vocab_size() == 65536);

  std::ifstream f("fixtures/tokenizer_ids.json");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  Json fixture = Json::parse(text);
  size_t cases = 0;
  for (const Json& c : fixture.find("cases")->items()) {
    const std::string& input = c.find("text")->as_string();
    std::vector<uint32_t> expected;
    for (const Json& id : c.find("ids")->items()) expected.push_back(static_cast<uint32_t>(id.as_number()));
    std::vector<uint32_t> got = tok.encode(input);
    if (got != expected) {
      std::fprintf(stderr, "mismatch on: %s\n", input.c_str());
      CHECK(got == expected);
    }
    CHECK(tok.decode(got) == input);
    ++cases;
  }
  CHECK(cases >= 10);

  // Hand-checked pieces: single bytes are ids 1..256 (byte b -> b + 1), token 0 is end of text.
  CHECK(tok.encode(std::string(1, '\0')) == std::vector<uint32_t>{1});
  CHECK(tok.encode("\xff") == std::vector<uint32_t>{256});
  CHECK(tok.encode("").empty());
  CHECK(tok.decode({0}).empty());
  CHECK_THROWS_CODE(tok.decode({65535}), "E_TOKEN_ID");  // ids past 65529 are unused
  // The longest entries win: 80 '#' is one token (65527), 81 is that plus one '#'.
  CHECK(tok.encode(std::string(80, '#')) == std::vector<uint32_t>{65527});
  CHECK(tok.encode(std::string(81, '#')).size() == 2);
  // Invalid UTF-8 still encodes byte by byte and decodes back.
  const std::string broken = "ok\xe4\xbd";
  CHECK(tok.decode(tok.encode(broken)) == broken);

  // Vocabulary literal forms: str and bytes reprs, both quote styles, escapes.
  const std::string dir = "/tmp/rwkv_tok_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  {
    std::ofstream v(dir + "/vocab.txt", std::ios::binary);
    for (int b = 0; b < 256; ++b) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "b'\\x%02x'", b);
      v << (b + 1) << ' ' << buf << " 1\n";
    }
    v << "300 'ab' 2\n"
      << "301 \"it's\" 4\n"
      << "302 b'\\xe4\\xbd' 2\n"
      << "303 '\\u4f60\\n' 4\n"
      << "304 '\\x80' 2\n"                 // a str escape: U+0080, two UTF-8 bytes
      << "305 'a b' 3\n"                   // spaces inside the literal
      << "306 '\\\\\\'' 2\n"               // backslash and quote
      << "307 '你好' 6\n"
      << "308 '\\U0001F600' 4\n";
  }
  WorldTokenizer small(dir + "/vocab.txt");
  CHECK(small.encode("ab") == std::vector<uint32_t>{300});
  CHECK(small.encode("it's") == std::vector<uint32_t>{301});
  CHECK(small.encode("\xe4\xbd\xa0") == (std::vector<uint32_t>{302, 0xa0 + 1}));
  CHECK(small.encode("\xe4\xbd\xa0\n") == std::vector<uint32_t>{303});
  CHECK(small.encode("\xc2\x80") == std::vector<uint32_t>{304});
  CHECK(small.encode("a b") == std::vector<uint32_t>{305});
  CHECK(small.encode("\\'") == std::vector<uint32_t>{306});
  CHECK(small.encode("你好") == std::vector<uint32_t>{307});
  CHECK(small.encode("\xF0\x9F\x98\x80") == std::vector<uint32_t>{308});
  CHECK(small.encode("abc") == (std::vector<uint32_t>{300, 'c' + 1}));

  CHECK_THROWS_CODE(WorldTokenizer(dir + "/missing.txt"), "E_VOCAB_NOT_FOUND");
  auto bad_vocab = [&](const std::string& content) {
    std::ofstream v(dir + "/bad.txt", std::ios::binary);
    v << content;
  };
  bad_vocab("1 'a' 2\n");  // wrong length
  CHECK_THROWS_CODE(WorldTokenizer(dir + "/bad.txt"), "E_VOCAB_CORRUPT");
  bad_vocab("1 'a 1\n");   // unterminated
  CHECK_THROWS_CODE(WorldTokenizer(dir + "/bad.txt"), "E_VOCAB_CORRUPT");
  bad_vocab("1 'a' 1\n");  // bytes without single-byte tokens cannot encode everything
  CHECK_THROWS_CODE(WorldTokenizer(dir + "/bad.txt"), "E_VOCAB_CORRUPT");
  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("tokenizer_test");
}
