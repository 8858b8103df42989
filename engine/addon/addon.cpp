// dist/bin/rwkv_studio.node: the engine's core library as seen by the language server
// (server/src/facts/addonFacts.ts). Each export checks its arguments on the JavaScript thread,
// then does disk or GPU work on the thread pool (JsonWorker); planMemory is pure arithmetic and
// answers synchronously. Shapes: server/src/facts/facts.ts.
#include <algorithm>
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <napi.h>

#include "addon/facts.h"
#include "addon/js_values.h"
#include "addon/json_worker.h"
#include "addon/run_check.h"
#include "addon/run_schedule.h"
#include "train/dataset_preview.h"
#include "core/paths.h"
#include "core/tokenizer.h"

namespace rwkv::addon {
namespace {

// The World vocabulary for .jsonl datasets: $RWKV_VOCAB, then beside this addon (dist/bin),
// then wherever the engine looks by default.
std::string vocab_path() {
  if (const char* env = std::getenv("RWKV_VOCAB"); env && *env) return env;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&vocab_path), &info) && info.dli_fname) {
    std::string self = info.dli_fname;
    const std::string beside = self.substr(0, self.rfind('/') + 1) + "rwkv_vocab_v20230424.txt";
    if (is_regular_file(beside)) return beside;
  }
  return default_vocab_path();
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString() || info[i].As<Napi::String>().Utf8Value().empty())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a non-empty string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Value InspectCheckpoint(const Napi::CallbackInfo& info) {
  const std::string path = string_arg(info, 0, "inspectCheckpoint(path): path");
  return JsonWorker::Start(info.Env(), "rwkv.inspectCheckpoint", [path] { return facts::inspect_checkpoint(path); });
}

Napi::Value InspectDataset(const Napi::CallbackInfo& info) {
  const std::string path = string_arg(info, 0, "inspectDataset(pathOrPrefix, ctxLen?): pathOrPrefix");
  int64_t ctx_len = 0;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "inspectDataset: ctxLen must be a number");
    ctx_len = info[1].As<Napi::Number>().Int64Value();
  }
  return JsonWorker::Start(info.Env(), "rwkv.inspectDataset",
                           [path, ctx_len] { return facts::inspect_dataset(path, ctx_len, vocab_path()); });
}

Napi::Value ListGpus(const Napi::CallbackInfo& info) {
  return JsonWorker::Start(info.Env(), "rwkv.listGpus", [] { return facts::list_gpus(); });
}

Napi::Value CheckRun(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "checkRun(argv) needs an array of strings");
  const Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> argv;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const Napi::Value v = arr.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "checkRun: argv must hold strings");
    argv.push_back(v.As<Napi::String>().Utf8Value());
  }
  return to_js(info.Env(), facts::check_run(argv));
}

// previewDataset(path, {dataType, ctxLen, lossMask, sftFields, magicPrime, samples, maxTokens})
Napi::Value PreviewDataset(const Napi::CallbackInfo& info) {
  PreviewOptions o;
  o.path = string_arg(info, 0, "previewDataset(path, options?): path");
  if (info.Length() > 1 && info[1].IsObject()) {
    const Napi::Object opt = info[1].As<Napi::Object>();
    auto str = [&](const char* key, std::string& out) { if (opt.Has(key) && opt.Get(key).IsString()) out = opt.Get(key).As<Napi::String>().Utf8Value(); };
    auto num = [&](const char* key, int& out) { if (opt.Has(key) && opt.Get(key).IsNumber()) out = opt.Get(key).As<Napi::Number>().Int32Value(); };
    str("dataType", o.data_type);
    str("lossMask", o.loss_mask);
    num("ctxLen", o.ctx_len);
    num("samples", o.samples);
    num("maxTokens", o.max_tokens);
    if (opt.Has("magicPrime") && opt.Get("magicPrime").IsBoolean()) o.magic_prime = opt.Get("magicPrime").As<Napi::Boolean>().Value();
    if (opt.Has("sftFields") && opt.Get("sftFields").IsArray()) {
      const Napi::Array a = opt.Get("sftFields").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i)
        if (a.Get(i).IsString()) o.sft_fields.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  o.samples = std::clamp(o.samples, 0, 64);
  o.max_tokens = std::clamp(o.max_tokens, 1, 4096);
  return JsonWorker::Start(info.Env(), "rwkv.previewDataset", [o] { return preview_dataset(o, vocab_path()); });
}

Napi::Value PlanSchedule(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(info.Env(), "planSchedule(argv, documents?) needs an array of strings");
  const Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> argv;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const Napi::Value v = arr.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "planSchedule: argv must hold strings");
    argv.push_back(v.As<Napi::String>().Utf8Value());
  }
  int64_t documents = -1;
  if (info.Length() > 1 && info[1].IsNumber()) documents = info[1].As<Napi::Number>().Int64Value();
  try {
    return to_js(info.Env(), facts::plan_schedule(argv, documents));
  } catch (const EngineError& e) {
    throw to_js_error(info.Env(), e);
  }
}

Napi::Value PlanMemory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1) throw Napi::TypeError::New(info.Env(), "planMemory(flags, stack?) needs flags");
  const auto flags = flags_from_js(info[0]);
  std::string stack = "reference";
  if (info.Length() > 1 && info[1].IsString()) stack = info[1].As<Napi::String>().Utf8Value();
  try {
    return to_js(info.Env(), facts::plan_memory(flags, stack));
  } catch (const EngineError& e) {
    throw to_js_error(info.Env(), e);
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectCheckpoint", Napi::Function::New(env, InspectCheckpoint, "inspectCheckpoint"));
  exports.Set("inspectDataset", Napi::Function::New(env, InspectDataset, "inspectDataset"));
  exports.Set("listGpus", Napi::Function::New(env, ListGpus, "listGpus"));
  exports.Set("planMemory", Napi::Function::New(env, PlanMemory, "planMemory"));
  exports.Set("checkRun", Napi::Function::New(env, CheckRun, "checkRun"));
  exports.Set("planSchedule", Napi::Function::New(env, PlanSchedule, "planSchedule"));
  exports.Set("previewDataset", Napi::Function::New(env, PreviewDataset, "previewDataset"));
  exports.Set("version", Napi::String::New(env, RWKV_STUDIO_VERSION));
  return exports;
}

}  // namespace
}  // namespace rwkv::addon

// NODE_API_MODULE pastes its second argument into an identifier, so it must be unqualified.
static Napi::Object InitRwkvStudio(Napi::Env env, Napi::Object exports) { return rwkv::addon::Init(env, exports); }
NODE_API_MODULE(rwkv_studio, InitRwkvStudio)
