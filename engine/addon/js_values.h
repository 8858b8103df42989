// Moving values between the engine's Json and JavaScript, for the addon's entry points.
#pragma once
#include <map>
#include <string>

#include <napi.h>

#include "core/errors.h"
#include "core/json.h"

namespace rwkv::addon {

Napi::Value to_js(Napi::Env env, const Json& value);

// A plain object of flag values ({n_layer: 24, peft_config: '{"r":64}', grad_cp: true, ...}).
// Throws Napi::TypeError for anything else; nested objects/arrays are kept as Json.
std::map<std::string, Json> flags_from_js(const Napi::Value& value);

// A JavaScript Error carrying the engine's stable code and hint as properties.
Napi::Error to_js_error(Napi::Env env, const EngineError& e);

}  // namespace rwkv::addon
