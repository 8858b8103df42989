// See facts.h. The analysis of files is core/inspect's (shared with `rwkv-train inspect`); this
// file only shapes it for JavaScript.
#include "addon/facts.h"

#include "core/errors.h"
#include "core/gpus.h"
#include "core/inspect.h"
#include "core/planner.h"

namespace rwkv::facts {

// The shapes of server/src/facts/facts.ts (camelCase), over the core's one analysis.
Json inspect_checkpoint(const std::string& path) {
  const CheckpointSummary s = summarize_checkpoint(path);
  Json list = Json::array();
  for (const TensorInfo& t : s.tensors) {
    Json shape = Json::array();
    for (int64_t d : t.shape) shape.push(Json(d));
    Json o = Json::object();
    o.set("name", Json(t.name));
    o.set("shape", shape);
    o.set("dtype", Json(dtype_name(t.dtype)));
    list.push(o);
  }
  Json out = Json::object();
  out.set("tensors", list);
  out.set("version", Json(s.version));
  out.set("nLayer", Json(s.n_layer));
  out.set("nEmbd", Json(s.n_embd));
  out.set("vocabSize", Json(s.vocab_size));
  out.set("headSize", Json(s.head_size));
  out.set("isAdapter", Json(s.is_adapter));
  return out;
}

Json inspect_dataset(const std::string& path, int64_t ctx_len, const std::string& vocab_path) {
  const DatasetSummary s = summarize_dataset(path, ctx_len > 0 ? static_cast<uint64_t>(ctx_len) : 0, vocab_path);
  Json out = Json::object();
  out.set("tokens", Json(s.tokens));
  out.set("documents", Json(s.documents));
  out.set("dtype", Json(s.dtype));
  if (ctx_len > 0) {
    out.set("magicPrime", Json(s.magic_prime));
    out.set("myExitTokens", Json(s.tokens));
  }
  return out;
}

Json list_gpus() {
  const GpuList list = rwkv::list_gpus();
  Json gpus = Json::array();
  for (const GpuInfo& g : list.gpus) {
    Json o = Json::object();
    o.set("index", Json(g.index));
    o.set("name", Json(g.name));
    o.set("computeCapability", Json(g.compute_capability()));
    o.set("totalBytes", Json(g.total_bytes));
    o.set("freeBytes", Json(g.free_bytes));
    o.set("driverVersion", Json(list.driver_version));
    gpus.push(o);
  }
  Json out = Json::object();
  out.set("gpus", gpus);
  if (!list.reason.empty()) out.set("reason", Json(list.reason));
  return out;
}

Json plan_memory(const std::map<std::string, Json>& flags, const std::string& stack) {
  if (stack != "reference" && stack != "engine")
    throw EngineError("E_PLAN_FLAGS", "unknown planner stack \"" + stack + "\"", "use \"reference\" or \"engine\"");
  const PlanInput in = plan_input_from_flags(flags);
  const MemoryPlan plan = rwkv::plan_memory(in, stack == "engine" ? PlanStack::Engine : PlanStack::Reference);
  Json by = Json::object();
  for (const auto& c : plan.categories) by.set(c.first, Json(c.second));
  Json out = Json::object();
  out.set("totalBytes", Json(plan.total_bytes));
  out.set("byCategory", by);
  out.set("stack", Json(plan_stack_name(plan.stack)));
  out.set("totalParams", Json(plan.params.total));
  out.set("trainableParams", Json(plan.params.trainable));
  return out;
}

}  // namespace rwkv::facts
