// JSON value, parser (errors carry the byte offset) and compact writer. See json.h.
#include "core/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>

#include "core/errors.h"
#include "core/utf8.h"

namespace rwkv {

Json::Json(bool b) : kind_(Kind::Bool), bool_(b) {}
Json::Json(double n) : kind_(Kind::Number), number_(n) {}
Json::Json(int n) : kind_(Kind::Number), number_(n) {}
Json::Json(int64_t n) : kind_(Kind::Number), number_(static_cast<double>(n)) {}
Json::Json(uint64_t n) : kind_(Kind::Number), number_(static_cast<double>(n)) {}
Json::Json(const char* s) : kind_(Kind::String), string_(s ? s : "") {}
Json::Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}

Json Json::array() { Json j; j.kind_ = Kind::Array; return j; }
Json Json::object() { Json j; j.kind_ = Kind::Object; return j; }

static const char* kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "a boolean";
    case Json::Kind::Number: return "a number";
    case Json::Kind::String: return "a string";
    case Json::Kind::Array: return "an array";
    case Json::Kind::Object: return "an object";
  }
  return "?";
}

static void expect_kind(Json::Kind have, Json::Kind want) {
  if (have != want)
    throw EngineError("E_JSON_TYPE", std::string("expected ") + kind_name(want) + ", got " + kind_name(have));
}

bool Json::as_bool() const { expect_kind(kind_, Kind::Bool); return bool_; }
double Json::as_number() const { expect_kind(kind_, Kind::Number); return number_; }
const std::string& Json::as_string() const { expect_kind(kind_, Kind::String); return string_; }
const std::vector<Json>& Json::items() const { expect_kind(kind_, Kind::Array); return items_; }
const std::vector<std::pair<std::string, Json>>& Json::members() const {
  expect_kind(kind_, Kind::Object);
  return members_;
}

const Json* Json::find(const std::string& key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

Json& Json::set(const std::string& key, Json value) {
  if (kind_ == Kind::Null) kind_ = Kind::Object;
  expect_kind(kind_, Kind::Object);
  for (auto& m : members_)
    if (m.first == key) { m.second = std::move(value); return m.second; }
  members_.emplace_back(key, std::move(value));
  return members_.back().second;
}

Json& Json::push(Json value) {
  if (kind_ == Kind::Null) kind_ = Kind::Array;
  expect_kind(kind_, Kind::Array);
  items_.push_back(std::move(value));
  return items_.back();
}

// ---- parser ---------------------------------------------------------------------------------

namespace {

constexpr int kMaxDepth = 512;  // deep nesting from hostile input must not overflow the stack

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Json parse_document() {
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw EngineError("E_JSON", "malformed JSON: " + what + " at byte " + std::to_string(pos_),
                      "check the JSON text near that position (quotes, commas, brackets)");
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[pos_]; }
  void expect_literal(const char* lit) {
    size_t n = std::strlen(lit);
    if (s_.compare(pos_, n, lit) != 0) fail(std::string("expected '") + lit + "'");
    pos_ += n;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    if (eof()) fail("unexpected end of input");
    char c = peek();
    switch (c) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Json(parse_string());
      case 't': expect_literal("true"); return Json(true);
      case 'f': expect_literal("false"); return Json(false);
      case 'n': expect_literal("null"); return Json();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail(std::string("unexpected character '") + c + "'");
    }
  }

  Json parse_object(int depth) {
    ++pos_;  // {
    Json obj = Json::object();
    skip_ws();
    if (peek() == '}') { ++pos_; return obj; }
    for (;;) {
      skip_ws();
      if (peek() != '"') fail("expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (peek() != ':') fail("expected ':'");
      ++pos_;
      skip_ws();
      obj.set(key, parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == '}') { ++pos_; return obj; }
      fail("expected ',' or '}'");
    }
  }

  Json parse_array(int depth) {
    ++pos_;  // [
    Json arr = Json::array();
    skip_ws();
    if (peek() == ']') { ++pos_; return arr; }
    for (;;) {
      skip_ws();
      arr.push(parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == ']') { ++pos_; return arr; }
      fail("expected ',' or ']'");
    }
  }

  Json parse_number() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') ++pos_;
    else if (peek() >= '1' && peek() <= '9') { while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_; }
    else fail("invalid number");
    if (peek() == '.') {
      ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits after '.'");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits in exponent");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    std::string token = s_.substr(start, pos_ - start);
    return Json(std::strtod(token.c_str(), nullptr));
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else { --pos_; fail("invalid hex digit in \\u escape"); }
    }
    return v;
  }


  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (eof()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) { --pos_; fail("control character in string"); }
      if (c != '\\') { out += c; continue; }
      if (eof()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by a low one to form one code point.
            if (s_.compare(pos_, 2, "\\u") != 0) fail("unpaired surrogate in \\u escape");
            pos_ += 2;
            unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired low surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }
};

// Bytes that are not UTF-8 (a binary file name, a garbage argument echoed in an error) are
// written as U+FFFD, so every event line stays valid UTF-8 JSON for the reader.
void dump_string(const std::string& s, std::string& out) {
  out += '"';
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = bytes[i];
    if (c >= 0x80) {
      const size_t len = utf8_sequence_length(bytes + i, s.size() - i);
      if (len == 0) {
        out += "\\ufffd";
      } else {
        out.append(s, i, len);
        i += len - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void dump_number(double n, std::string& out) {
  if (!std::isfinite(n)) { out += "null"; return; }  // JSON has no NaN/Inf
  if (n == std::floor(n) && std::fabs(n) < 9.007199254740992e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    out += buf;
    return;
  }
  // Shortest text that reads back to the same double.
  char buf[40];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, n);
    if (std::strtod(buf, nullptr) == n) break;
  }
  out += buf;
}

void dump_value(const Json& j, std::string& out) {
  switch (j.kind()) {
    case Json::Kind::Null: out += "null"; break;
    case Json::Kind::Bool: out += j.as_bool() ? "true" : "false"; break;
    case Json::Kind::Number: dump_number(j.as_number(), out); break;
    case Json::Kind::String: dump_string(j.as_string(), out); break;
    case Json::Kind::Array: {
      out += '[';
      bool first = true;
      for (const auto& item : j.items()) {
        if (!first) out += ',';
        first = false;
        dump_value(item, out);
      }
      out += ']';
      break;
    }
    case Json::Kind::Object: {
      out += '{';
      bool first = true;
      for (const auto& m : j.members()) {
        if (!first) out += ',';
        first = false;
        dump_string(m.first, out);
        out += ':';
        dump_value(m.second, out);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

Json Json::parse(const std::string& text) { return Parser(text).parse_document(); }

std::string Json::dump() const {
  std::string out;
  dump_value(*this, out);
  return out;
}

}  // namespace rwkv
