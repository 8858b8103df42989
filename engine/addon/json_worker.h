// An AsyncWorker that runs one engine call on libuv's thread pool and settles a Promise with
// its Json result (converted on the JavaScript thread), so reading a header or asking NVML
// never blocks the language server. EngineError becomes a rejection with code and hint; any
// other exception a rejection with its message: the server must never see a crash.
#pragma once
#include <functional>
#include <string>
#include <utility>

#include <napi.h>

#include "addon/js_values.h"

namespace rwkv::addon {

class JsonWorker : public Napi::AsyncWorker {
 public:
  using Task = std::function<Json()>;
  static Napi::Promise Start(Napi::Env env, const char* name, Task task) {
    auto* worker = new JsonWorker(env, name, std::move(task));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();  // node-addon-api deletes the worker after OnOK/OnError
    return promise;
  }

 protected:
  void Execute() override {
    try {
      result_ = task_();
    } catch (const EngineError& e) {
      failed_ = true, code_ = e.code, message_ = e.what(), hint_ = e.hint;
    } catch (const std::exception& e) {
      failed_ = true, code_ = "E_INTERNAL", message_ = e.what();
    } catch (...) {
      failed_ = true, code_ = "E_INTERNAL", message_ = "unknown error";
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(to_js_error(env, EngineError(code_, message_, hint_)).Value());
      return;
    }
    deferred_.Resolve(to_js(env, result_));
  }

 private:
  JsonWorker(Napi::Env env, const char* name, Task task)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), task_(std::move(task)) {}
  Napi::Promise::Deferred deferred_;
  Task task_;
  Json result_;
  bool failed_ = false;
  std::string code_, message_, hint_;
};

}  // namespace rwkv::addon
