// The RWKV World tokenizer: the vocabulary file holds Python literals (str or bytes reprs),
// parsed here without Python; encoding is greedy longest match over UTF-8 bytes through a byte
// trie, exactly as RWKV's TRIE_TOKENIZER does. See tokenizer.h.
#include "core/tokenizer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "core/errors.h"
#include "core/utf8.h"

namespace rwkv {
namespace {


int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Evaluates a Python str or bytes literal ('..', "..", b'..', b"..") to the bytes the
// tokenizer uses: a str becomes its UTF-8 encoding. Returns false on anything else.
bool parse_python_literal(const std::string& lit, std::string& out) {
  size_t i = 0;
  bool is_bytes = false;
  if (i < lit.size() && (lit[i] == 'b' || lit[i] == 'B')) { is_bytes = true; ++i; }
  if (i >= lit.size() || (lit[i] != '\'' && lit[i] != '"')) return false;
  const char quote = lit[i++];
  out.clear();
  while (i < lit.size()) {
    char c = lit[i++];
    if (c == quote) return i == lit.size();  // the closing quote must end the literal
    if (c != '\\') {
      if (is_bytes && static_cast<unsigned char>(c) >= 0x80) return false;  // bytes literals are ASCII
      out += c;
      continue;
    }
    if (i >= lit.size()) return false;
    char e = lit[i++];
    auto hex_digits = [&](int n, uint32_t& v) {
      v = 0;
      for (int k = 0; k < n; ++k) {
        if (i >= lit.size() || hex_value(lit[i]) < 0) return false;
        v = v * 16 + static_cast<uint32_t>(hex_value(lit[i++]));
      }
      return true;
    };
    uint32_t v = 0;
    switch (e) {
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case 'x':
        if (!hex_digits(2, v)) return false;
        if (is_bytes) out += static_cast<char>(v); else append_utf8(out, v);  // str: U+00HH
        break;
      case 'u': case 'U':
        if (is_bytes) { out += '\\'; out += e; break; }  // not an escape in bytes literals
        if (!hex_digits(e == 'u' ? 4 : 8, v) || v > 0x10FFFF) return false;
        append_utf8(out, v);
        break;
      default:
        if (e >= '0' && e <= '7') {  // octal, up to three digits
          v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i < lit.size() && lit[i] >= '0' && lit[i] <= '7'; ++k) v = v * 8 + static_cast<uint32_t>(lit[i++] - '0');
          if (is_bytes) out += static_cast<char>(v & 0xFF); else append_utf8(out, v);
        } else {
          out += '\\';  // Python keeps unknown escapes literally
          out += e;
        }
    }
  }
  return false;  // no closing quote
}

}  // namespace

struct WorldTokenizer::Impl {
  // Trie node: children in a sorted small vector (most nodes have one or two), except the root
  // whose 256 children are a direct table. token = 0 means "no token ends here".
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> children;
    uint32_t token = 0;
  };
  std::vector<Node> nodes;
  std::array<uint32_t, 256> root{};
  std::vector<std::string> id_to_bytes;  // index = id; empty for unused ids and 0

  uint32_t child(uint32_t node, uint8_t byte) const {
    for (const auto& c : nodes[node].children)
      if (c.first == byte) return c.second;
    return 0;
  }
  void add(const std::string& bytes, uint32_t id) {
    uint32_t node = root[static_cast<uint8_t>(bytes[0])];
    if (!node) { node = new_node(); root[static_cast<uint8_t>(bytes[0])] = node; }
    for (size_t k = 1; k < bytes.size(); ++k) {
      uint8_t b = static_cast<uint8_t>(bytes[k]);
      uint32_t next = child(node, b);
      if (!next) {
        next = new_node();
        auto& ch = nodes[node].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, uint32_t{0})), {b, next});
      }
      node = next;
    }
    nodes[node].token = id;  // a later duplicate wins, as in the reference's dict
  }
  uint32_t new_node() { nodes.emplace_back(); return static_cast<uint32_t>(nodes.size() - 1); }
};

static std::atomic<size_t> g_loads{0};

WorldTokenizer::WorldTokenizer(const std::string& vocab_path) : impl_(new Impl) {
  ++g_loads;
  try {
    std::ifstream in(vocab_path, std::ios::binary);
    if (!in)
      throw EngineError("E_VOCAB_NOT_FOUND", vocab_path + ": vocabulary file not found",
                        "set RWKV_VOCAB to rwkv_vocab_v20230424.txt or reinstall (it ships next to rwkv-train)");
    impl_->nodes.emplace_back();  // node 0 = "none"
    impl_->id_to_bytes.resize(65536);
    std::string line, bytes;
    size_t line_no = 0, tokens = 0;
    auto bad = [&](const std::string& why) {
      throw EngineError("E_VOCAB_CORRUPT", vocab_path + ":" + std::to_string(line_no) + ": " + why,
                        "the vocabulary file is damaged; use rwkv_vocab_v20230424.txt from RWKV-LM");
    };
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const size_t first = line.find(' '), last = line.rfind(' ');
      if (first == std::string::npos || last <= first) bad("expected `id literal length`");
      char* end = nullptr;
      const unsigned long id = std::strtoul(line.c_str(), &end, 10);
      if (end != line.c_str() + first || id == 0 || id > 0xFFFFFF) bad("bad token id");
      const unsigned long length = std::strtoul(line.c_str() + last + 1, &end, 10);
      if (*end != '\0') bad("bad length");
      if (!parse_python_literal(line.substr(first + 1, last - first - 1), bytes)) bad("bad Python literal");
      if (bytes.size() != length || bytes.empty()) bad("literal has " + std::to_string(bytes.size()) + " bytes, line says " + std::to_string(length));
      if (id >= impl_->id_to_bytes.size()) impl_->id_to_bytes.resize(id + 1);
      impl_->id_to_bytes[id] = bytes;
      impl_->add(bytes, static_cast<uint32_t>(id));
      ++tokens;
    }
    if (tokens == 0) bad("no tokens");
    for (int b = 0; b < 256; ++b)
      if (!impl_->root[b] || !impl_->nodes[impl_->root[b]].token)
        bad("byte " + std::to_string(b) + " has no single-byte token, so some text could not be encoded");
  } catch (...) {
    delete impl_;
    throw;
  }
}

WorldTokenizer::~WorldTokenizer() { delete impl_; }

std::vector<uint32_t> WorldTokenizer::encode(const std::string& utf8) const {
  std::vector<uint32_t> out;
  out.reserve(utf8.size() / 3 + 1);
  const Impl& t = *impl_;
  const uint8_t* s = reinterpret_cast<const uint8_t*>(utf8.data());
  const size_t n = utf8.size();
  size_t i = 0;
  while (i < n) {
    uint32_t node = t.root[s[i]];
    uint32_t best = t.nodes[node].token;  // every byte has a token (checked at load)
    size_t best_end = i + 1;
    for (size_t j = i + 1; j < n; ++j) {
      node = t.child(node, s[j]);
      if (!node) break;
      if (t.nodes[node].token) { best = t.nodes[node].token; best_end = j + 1; }
    }
    out.push_back(best);
    i = best_end;
  }
  return out;
}

std::string WorldTokenizer::decode(const std::vector<uint32_t>& ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id == 0) continue;  // end of text: no bytes
    if (id >= impl_->id_to_bytes.size() || impl_->id_to_bytes[id].empty())
      throw EngineError("E_TOKEN_ID", "token id " + std::to_string(id) + " is not in the World vocabulary",
                        "the data was made with another tokenizer");
    out += impl_->id_to_bytes[id];
  }
  return out;
}

size_t WorldTokenizer::vocab_size() const { return impl_->id_to_bytes.size(); }

std::string default_vocab_path() {
  const char* kName = "rwkv_vocab_v20230424.txt";
  if (const char* env = std::getenv("RWKV_VOCAB"); env && *env) return env;
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    std::string candidate = dir + "/" + kName;
    if (::access(candidate.c_str(), R_OK) == 0) return candidate;
  }
#ifdef RWKV_ENGINE_DATA_DIR
  std::string source = std::string(RWKV_ENGINE_DATA_DIR) + "/" + kName;
  if (::access(source.c_str(), R_OK) == 0) return source;
#endif
  return std::string("engine/data/") + kName;
}

const WorldTokenizer& shared_world_tokenizer(const std::string& vocab_path) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<const WorldTokenizer>> loaded;  // kept until the process exits
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = loaded[vocab_path];
  if (!slot) slot = std::make_unique<const WorldTokenizer>(vocab_path);  // throws: the slot stays empty
  return *slot;
}

size_t world_tokenizer_loads() { return g_loads.load(); }

}  // namespace rwkv
