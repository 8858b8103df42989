// See json_schema.h: the subset of JSON Schema the run protocol's schema uses, nothing more.
#include "core/json_schema.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace rwkv {

namespace {

const char* kind_name(const Json& v) {
  switch (v.kind()) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "boolean";
    case Json::Kind::Number: return "number";
    case Json::Kind::String: return "string";
    case Json::Kind::Array: return "array";
    case Json::Kind::Object: return "object";
  }
  return "?";
}

bool has_type(const Json& v, const std::string& t) {
  if (t == "integer")
    return v.kind() == Json::Kind::Number && std::isfinite(v.as_number()) && std::floor(v.as_number()) == v.as_number();
  if (t == "number") return v.kind() == Json::Kind::Number;
  return t == kind_name(v);
}

bool same(const Json& a, const Json& b) { return a.dump() == b.dump(); }

}  // namespace

JsonSchema::JsonSchema(Json root) : root_(std::move(root)) { check_schema(root_, "$"); }

JsonSchema JsonSchema::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw EngineError("E_SCHEMA", path + ": cannot be read", "");
  std::stringstream text;
  text << in.rdbuf();
  return JsonSchema(Json::parse(text.str()));
}

void JsonSchema::check_schema(const Json& s, const std::string& where) const {
  if (s.kind() == Json::Kind::Bool) return;
  if (s.kind() != Json::Kind::Object) throw EngineError("E_SCHEMA", where + ": a schema is an object or a boolean", "");
  for (const auto& [key, value] : s.members()) {
    const std::string at = where + "/" + key;
    if (key == "title" || key == "description" || key == "$schema" || key == "$id" || key == "version") continue;
    if (key == "type") {
      std::vector<Json> types = value.kind() == Json::Kind::Array ? value.items() : std::vector<Json>{value};
      for (const Json& t : types) {
        const std::string n = t.kind() == Json::Kind::String ? t.as_string() : "";
        if (n != "null" && n != "boolean" && n != "number" && n != "integer" && n != "string" && n != "array" &&
            n != "object")
          throw EngineError("E_SCHEMA", at + ": unknown type " + t.dump(), "");
      }
    } else if (key == "const") {
    } else if (key == "enum" || key == "required" || key == "oneOf") {
      if (value.kind() != Json::Kind::Array) throw EngineError("E_SCHEMA", at + ": must be an array", "");
      if (key == "oneOf")
        for (size_t i = 0; i < value.items().size(); ++i) check_schema(value.items()[i], at + "/" + std::to_string(i));
    } else if (key == "properties" || key == "$defs") {
      if (value.kind() != Json::Kind::Object) throw EngineError("E_SCHEMA", at + ": must be an object", "");
      for (const auto& [name, sub] : value.members()) check_schema(sub, at + "/" + name);
    } else if (key == "additionalProperties" || key == "items") {
      check_schema(value, at);
    } else if (key == "$ref") {
      resolve(s);
    } else {
      throw EngineError("E_SCHEMA", at + ": keyword not implemented by core/json_schema", "");
    }
  }
}

const Json& JsonSchema::resolve(const Json& s) const {
  const Json* ref = s.kind() == Json::Kind::Object ? s.find("$ref") : nullptr;
  if (!ref) return s;
  const std::string prefix = "#/$defs/";
  const std::string r = ref->kind() == Json::Kind::String ? ref->as_string() : "";
  const Json* defs = root_.find("$defs");
  const Json* target = r.rfind(prefix, 0) == 0 && defs ? defs->find(r.substr(prefix.size())) : nullptr;
  if (!target) throw EngineError("E_SCHEMA", "$ref " + ref->dump() + " names no $defs entry", "");
  return *target;
}

std::vector<std::string> JsonSchema::validate(const Json& value) const {
  std::vector<std::string> out;
  validate_at(root_, value, "$", out);
  return out;
}

std::vector<std::string> JsonSchema::validate_def(const std::string& name, const Json& value) const {
  const Json* defs = root_.find("$defs");
  const Json* def = defs ? defs->find(name) : nullptr;
  if (!def) return {"$: the schema has no definition " + name};
  std::vector<std::string> out;
  validate_at(*def, value, "$", out);
  return out;
}

void JsonSchema::validate_at(const Json& schema, const Json& v, const std::string& path,
                             std::vector<std::string>& out) const {
  const Json& s = resolve(schema);
  if (s.kind() == Json::Kind::Bool) {
    if (!s.as_bool()) out.push_back(path + ": not allowed");
    return;
  }
  if (const Json* t = s.find("type")) {
    std::vector<Json> types = t->kind() == Json::Kind::Array ? t->items() : std::vector<Json>{*t};
    bool ok = false;
    for (const Json& one : types) ok = ok || has_type(v, one.as_string());
    if (!ok) {
      out.push_back(path + ": " + kind_name(v) + " " + v.dump() + " is not " + t->dump());
      return;
    }
  }
  if (const Json* c = s.find("const"))
    if (!same(*c, v)) out.push_back(path + ": " + v.dump() + " is not " + c->dump());
  if (const Json* e = s.find("enum")) {
    bool ok = false;
    for (const Json& one : e->items()) ok = ok || same(one, v);
    if (!ok) out.push_back(path + ": " + v.dump() + " is not one of " + e->dump());
  }
  if (v.kind() == Json::Kind::Object) {
    if (const Json* req = s.find("required"))
      for (const Json& name : req->items())
        if (!v.find(name.as_string())) out.push_back(path + ": missing " + name.as_string());
    const Json* props = s.find("properties");
    const Json* extra = s.find("additionalProperties");
    for (const auto& [name, sub] : v.members()) {
      const Json* p = props ? props->find(name) : nullptr;
      if (p) validate_at(*p, sub, path + "." + name, out);
      else if (extra) validate_at(*extra, sub, path + "." + name, out);
    }
  }
  if (const Json* items = s.find("items"); items && v.kind() == Json::Kind::Array)
    for (size_t i = 0; i < v.items().size(); ++i) validate_at(*items, v.items()[i], path + "[" + std::to_string(i) + "]", out);
  if (const Json* alts = s.find("oneOf")) {
    std::vector<std::string> best;
    size_t matches = 0;
    bool have_best = false;
    for (const Json& alt : alts->items()) {
      std::vector<std::string> errs;
      validate_at(alt, v, path, errs);
      if (errs.empty()) {
        ++matches;
      } else if (!have_best || errs.size() < best.size()) {
        best = errs;
        have_best = true;
      }
    }
    if (matches == 0) {
      out.push_back(path + ": matches none of oneOf; the closest says:");
      out.insert(out.end(), best.begin(), best.end());
    } else if (matches > 1) {
      out.push_back(path + ": matches " + std::to_string(matches) + " of oneOf");
    }
  }
}

}  // namespace rwkv
