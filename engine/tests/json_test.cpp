// The JSON parser/writer: round trips, escapes, unicode, and byte offsets in errors.
#include <string>

#include "core/errors.h"
#include "core/json.h"
#include "tests/check.h"

using rwkv::Json;

int main() {
  Json v = Json::parse(R"( {"a": 1, "b": [true, false, null, -2.5e3, "x\"y\\z\n"], "c": {"d": "\u00e9\ud83d\ude00"}} )");
  CHECK(v.kind() == Json::Kind::Object);
  CHECK(v.find("a")->as_number() == 1);
  CHECK(v.find("b")->items().size() == 5);
  CHECK(v.find("b")->items()[0].as_bool() == true);
  CHECK(v.find("b")->items()[2].is_null());
  CHECK(v.find("b")->items()[3].as_number() == -2500);
  CHECK(v.find("b")->items()[4].as_string() == "x\"y\\z\n");
  CHECK(v.find("c")->find("d")->as_string() == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(v.find("missing") == nullptr);
  // Member order is kept, output is compact.
  CHECK(v.dump() == R"({"a":1,"b":[true,false,null,-2500,"x\"y\\z\n"],"c":{"d":"é😀"}})");
  CHECK(Json::parse(v.dump()).dump() == v.dump());

  // Numbers: integers print without a fraction, doubles round-trip exactly.
  CHECK(Json(int64_t{1234567890123}).dump() == "1234567890123");
  CHECK(Json(0.1).dump() == "0.1");
  CHECK(Json::parse(Json(1.0 / 3.0).dump()).as_number() == 1.0 / 3.0);
  CHECK(Json(6e-4).dump() == "0.0006");
  CHECK(Json(std::string("\x01")).dump() == "\"\\u0001\"");
  // Bytes that are not UTF-8 are written as U+FFFD, so every event line is valid UTF-8 JSON;
  // well-formed sequences (2, 3 and 4 bytes) pass through.
  CHECK(Json(std::string("a\x98\x8c b")).dump() == "\"a\\ufffd\\ufffd b\"");
  CHECK(Json(std::string("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80")).dump() == "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"");
  CHECK(Json(std::string("\xc0\xaf")).dump() == "\"\\ufffd\\ufffd\"");         // overlong '/'
  CHECK(Json(std::string("\xed\xa0\x80")).dump() == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(Json(std::string("\xe4\xb8")).dump() == "\"\\ufffd\\ufffd\"");         // truncated
  CHECK(Json::parse(Json(std::string("x\xff")).dump()).as_string() == "x\xef\xbf\xbd");

  // set replaces in place, push appends.
  Json o = Json::object();
  o.set("x", 1);
  o.set("y", "s");
  o.set("x", 2);
  CHECK(o.dump() == R"({"x":2,"y":"s"})");
  Json a = Json::array();
  a.push(1);
  a.push(Json::array()).push("nested");  // push returns the new element
  CHECK(a.dump() == R"([1,["nested"]])");
  CHECK_THROWS_CODE(a.set("k", 1), "E_JSON_TYPE");

  // Errors: a stable code and the byte offset.
  auto message_of = [](const std::string& text) -> std::string {
    try { Json::parse(text); } catch (const rwkv::EngineError& e) { return e.code + ": " + e.what(); }
    return "no error";
  };
  CHECK(message_of("{\"a\": tru}").find("at byte 6") != std::string::npos);
  CHECK(message_of("[1, 2,]").find("E_JSON") == 0);
  CHECK(message_of("[1 2]").find("at byte 3") != std::string::npos);
  CHECK(message_of("\"abc").find("unterminated") != std::string::npos);
  CHECK(message_of("{} x").find("at byte 3") != std::string::npos);
  CHECK(message_of("").find("E_JSON") == 0);
  CHECK(message_of("01").find("E_JSON") == 0);
  CHECK(message_of("\"\\ud800\"").find("surrogate") != std::string::npos);
  CHECK(message_of(std::string(100000, '[')).find("too deep") != std::string::npos);
  CHECK_THROWS_CODE(Json(1).as_string(), "E_JSON_TYPE");
  return rwkv_test::summary("json_test");
}
