// Checks run protocol lines against core/protocol.schema.json, the one description of the
// protocol (the TypeScript types and ARCHITECTURE.md are generated from it). Every problem is a
// CHECK failure naming the line; a field or event the schema does not name is one.
#pragma once
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/json_schema.h"
#include "tests/check.h"

#ifndef RWKV_PROTOCOL_SCHEMA
#error "CMake passes the schema's path as RWKV_PROTOCOL_SCHEMA"
#endif

namespace rwkv_test {

inline const rwkv::JsonSchema& protocol_schema() {
  static const rwkv::JsonSchema schema = rwkv::JsonSchema::from_file(RWKV_PROTOCOL_SCHEMA);
  return schema;
}

// True when `event` is valid; reports each problem as a failure at file:line.
inline bool check_protocol_event(const rwkv::Json& event, const char* file, int line) {
  const std::vector<std::string> problems = protocol_schema().validate(event);
  for (const auto& p : problems) fail(file, line, "protocol: " + p + " in " + event.dump());
  return problems.empty();
}

// Validates every line of a metrics.jsonl; returns how many lines each event had.
inline std::map<std::string, int> check_protocol_file(const std::string& path, const char* file, int line) {
  std::map<std::string, int> counts;
  std::ifstream in(path);
  if (!in) fail(file, line, "protocol: cannot read " + path);
  for (std::string text; std::getline(in, text);) {
    rwkv::Json event;
    try {
      event = rwkv::Json::parse(text);
    } catch (const std::exception&) {
      fail(file, line, "protocol: not JSON: " + text);
      continue;
    }
    check_protocol_event(event, file, line);
    const rwkv::Json* name = event.kind() == rwkv::Json::Kind::Object ? event.find("event") : nullptr;
    ++counts[name && name->kind() == rwkv::Json::Kind::String ? name->as_string() : "?"];
  }
  return counts;
}

}  // namespace rwkv_test

#define CHECK_PROTOCOL_EVENT(event) rwkv_test::check_protocol_event((event), __FILE__, __LINE__)
#define CHECK_PROTOCOL_FILE(path) rwkv_test::check_protocol_file((path), __FILE__, __LINE__)
