// A validator for the small part of JSON Schema (2020-12) the engine's contracts use, over
// core/json.h: type, const, enum, properties, required, additionalProperties (true, false or
// a schema), oneOf, local $ref ("#/$defs/name"), and the annotations title, description,
// $schema, $id, $defs and version. Any other keyword is refused when the schema is loaded, so a
// schema cannot say more than this checks. The run protocol's schema is
// core/protocol.schema.json; the engine's tests validate every event line against it.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

class JsonSchema {
 public:
  // Throws EngineError("E_SCHEMA", ...) on a keyword this validator does not implement or a
  // $ref that names nothing.
  explicit JsonSchema(Json root);
  static JsonSchema from_file(const std::string& path);

  // The problems found, each "path: what" (path "$" is the value itself); empty when it is valid.
  std::vector<std::string> validate(const Json& value) const;
  // Validates against $defs/<name> instead of the root.
  std::vector<std::string> validate_def(const std::string& name, const Json& value) const;
  const Json& root() const { return root_; }

 private:
  void check_schema(const Json& s, const std::string& where) const;
  const Json& resolve(const Json& s) const;
  void validate_at(const Json& s, const Json& v, const std::string& path, std::vector<std::string>& out) const;
  Json root_;
};

}  // namespace rwkv
