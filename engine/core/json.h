// A small JSON value with a parser and a writer, for the flag table, peft_config and the run
// protocol. The engine has no package manager to bring a JSON library from, and needs only
// this much; errors carry the byte offset.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rwkv {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Json() = default;                      // null
  Json(bool b);
  Json(double n);
  Json(int n);
  Json(int64_t n);
  Json(uint64_t n);
  Json(const char* s);
  Json(std::string s);
  static Json array();
  static Json object();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const std::vector<Json>& items() const;                 // array
  const std::vector<std::pair<std::string, Json>>& members() const;  // object, in order
  const Json* find(const std::string& key) const;         // object member or nullptr
  Json& set(const std::string& key, Json value);          // object: insert or replace
  Json& push(Json value);                                 // array: append

  // Throws EngineError("E_JSON", "... at byte N") on malformed text.
  static Json parse(const std::string& text);
  std::string dump() const;  // compact, one line (the run protocol is JSON Lines)

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace rwkv
