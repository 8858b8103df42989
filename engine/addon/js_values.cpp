#include "addon/js_values.h"

#include <cmath>

namespace rwkv::addon {
namespace {

Json from_js(const Napi::Value& v, int depth) {
  if (depth > 32) throw Napi::TypeError::New(v.Env(), "flag value nested too deeply");
  if (v.IsNull() || v.IsUndefined()) return Json();
  if (v.IsBoolean()) return Json(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) return Json(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return Json(v.As<Napi::String>().Utf8Value());
  if (v.IsArray()) {
    const Napi::Array a = v.As<Napi::Array>();
    Json out = Json::array();
    for (uint32_t i = 0; i < a.Length(); ++i) out.push(from_js(a.Get(i), depth + 1));
    return out;
  }
  if (v.IsObject()) {
    const Napi::Object o = v.As<Napi::Object>();
    const Napi::Array keys = o.GetPropertyNames();
    Json out = Json::object();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      out.set(key, from_js(o.Get(key), depth + 1));
    }
    return out;
  }
  throw Napi::TypeError::New(v.Env(), "unsupported flag value type");
}

}  // namespace

Napi::Value to_js(Napi::Env env, const Json& value) {
  switch (value.kind()) {
    case Json::Kind::Null: return env.Null();
    case Json::Kind::Bool: return Napi::Boolean::New(env, value.as_bool());
    case Json::Kind::Number: return Napi::Number::New(env, value.as_number());
    case Json::Kind::String: return Napi::String::New(env, value.as_string());
    case Json::Kind::Array: {
      Napi::Array a = Napi::Array::New(env, value.items().size());
      for (size_t i = 0; i < value.items().size(); ++i) a.Set(static_cast<uint32_t>(i), to_js(env, value.items()[i]));
      return a;
    }
    case Json::Kind::Object: {
      Napi::Object o = Napi::Object::New(env);
      for (const auto& m : value.members()) o.Set(m.first, to_js(env, m.second));
      return o;
    }
  }
  return env.Undefined();
}

std::map<std::string, Json> flags_from_js(const Napi::Value& value) {
  if (!value.IsObject() || value.IsArray())
    throw Napi::TypeError::New(value.Env(), "planMemory expects an object of flag values");
  std::map<std::string, Json> flags;
  const Json object = from_js(value, 0);  // named: a temporary would die before the loop body
  for (const auto& m : object.members()) flags[m.first] = m.second;
  return flags;
}

Napi::Error to_js_error(Napi::Env env, const EngineError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Value().Set("code", Napi::String::New(env, e.code));
  if (!e.hint.empty()) err.Value().Set("hint", Napi::String::New(env, e.hint));
  return err;
}

}  // namespace rwkv::addon
