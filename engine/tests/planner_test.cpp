// The memory planner against every measured row we have: the tutorials' tables
// (../shared/reference/FACTS.md; fine-tuning rows ran RWKV-PEFT with DeepSpeed stage 1 in bf16,
// pretraining rows RWKV-LM-V7) and the peer's H100 measurements (../shared/peer/README.md).
// The reference-stack estimate must land within ±15% of each. Also: flag parsing (every form a
// script uses), parameter counts against the official model sizes, and monotonic behaviour.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/batch_passes.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/planner.h"
#include "tests/check.h"

using rwkv::Json;
using rwkv::PlanInput;
using rwkv::PlanStack;

namespace {

struct MeasuredRow {
  const char* source;   // where the figure comes from
  const char* version;  // x070 / x060
  int n_layer, n_embd;
  const char* peft;     // none = full-parameter
  const char* quant;
  int ctx_len, micro_bsz, grad_cp;
  double measured_gib;  // nvidia-smi MiB / 1024, as the tables print it
};

// Fine-tuning tables: ctx_len 1024, micro_bsz 1, deepspeed_stage_1, r 64, bf16/int8/nf4 base,
// grad_cp 1 as every tutorial script sets it. Pretraining: ctx_len 4096, GRAD_CP=1 (the
// tutorial's demo-training-run.sh) except the 1.5B and 3B rows: the table does not say, and
// with GRAD_CP=1 no accounting that fits the 0.1B/0.4B rows reaches them (they would need 26-31
// bytes per parameter where the small models show 18-20), while the un-checkpointed run lands
// on them (+5%, -14%). The RWKV-6 rows come from the older RWKV-PEFT (--lora_config form,
// train_parts time+ln); the peer's runs use that version with --strategy auto.
const MeasuredRow kRows[] = {
    {"LoRA table", "x070", 12, 768, "lora", "none", 1024, 1, 1, 2.7},
    {"LoRA table", "x070", 24, 1024, "lora", "none", 1024, 1, 1, 3.4},
    {"LoRA table", "x070", 24, 2048, "lora", "none", 1024, 1, 1, 5.6},
    {"LoRA table", "x070", 32, 2560, "lora", "none", 1024, 1, 1, 8.8},
    {"LoRA table", "x070", 12, 768, "lora", "int8", 1024, 1, 1, 2.5},
    {"LoRA table", "x070", 24, 1024, "lora", "int8", 1024, 1, 1, 2.9},
    {"LoRA table", "x070", 24, 2048, "lora", "int8", 1024, 1, 1, 4.6},
    {"LoRA table", "x070", 32, 2560, "lora", "int8", 1024, 1, 1, 6.7},
    {"LoRA table", "x070", 12, 768, "lora", "nf4", 1024, 1, 1, 2.4},
    {"LoRA table", "x070", 24, 1024, "lora", "nf4", 1024, 1, 1, 2.7},
    {"LoRA table", "x070", 24, 2048, "lora", "nf4", 1024, 1, 1, 3.9},
    {"LoRA table", "x070", 32, 2560, "lora", "nf4", 1024, 1, 1, 5.7},
    {"MiSS table", "x070", 12, 768, "miss", "none", 1024, 1, 1, 2.7},
    {"MiSS table", "x070", 24, 1024, "miss", "none", 1024, 1, 1, 3.1},
    {"MiSS table", "x070", 24, 2048, "miss", "none", 1024, 1, 1, 5.6},
    {"MiSS table", "x070", 32, 2560, "miss", "none", 1024, 1, 1, 8.8},
    {"MiSS table", "x070", 12, 768, "miss", "int8", 1024, 1, 1, 2.5},
    {"MiSS table", "x070", 24, 1024, "miss", "int8", 1024, 1, 1, 2.9},
    {"MiSS table", "x070", 24, 2048, "miss", "int8", 1024, 1, 1, 4.5},
    {"MiSS table", "x070", 32, 2560, "miss", "int8", 1024, 1, 1, 6.7},
    {"MiSS table", "x070", 12, 768, "miss", "nf4", 1024, 1, 1, 2.4},
    {"MiSS table", "x070", 24, 1024, "miss", "nf4", 1024, 1, 1, 2.7},
    {"MiSS table", "x070", 24, 2048, "miss", "nf4", 1024, 1, 1, 3.9},
    {"MiSS table", "x070", 32, 2560, "miss", "nf4", 1024, 1, 1, 5.7},
    {"RWKV-6 table", "x060", 24, 2048, "lora", "none", 1024, 1, 1, 7.3},
    {"RWKV-6 table", "x060", 32, 2560, "lora", "none", 1024, 1, 1, 11.8},
    {"RWKV-6 table", "x060", 32, 4096, "lora", "none", 1024, 1, 1, 23.7},
    {"RWKV-6 table", "x060", 24, 2048, "lora", "int8", 1024, 1, 1, 5.9},
    {"RWKV-6 table", "x060", 32, 2560, "lora", "int8", 1024, 1, 1, 9.4},
    {"RWKV-6 table", "x060", 32, 4096, "lora", "int8", 1024, 1, 1, 17.3},
    {"RWKV-6 table", "x060", 24, 2048, "lora", "nf4", 1024, 1, 1, 5.4},
    {"RWKV-6 table", "x060", 32, 2560, "lora", "nf4", 1024, 1, 1, 8.1},
    {"RWKV-6 table", "x060", 32, 4096, "lora", "nf4", 1024, 1, 1, 14.9},
    {"pretraining table", "x070", 12, 768, "none", "none", 4096, 1, 1, 6.39},
    {"pretraining table", "x070", 12, 768, "none", "none", 4096, 8, 1, 23.08},
    {"pretraining table", "x070", 24, 1024, "none", "none", 4096, 1, 1, 12.12},
    {"pretraining table", "x070", 24, 1024, "none", "none", 4096, 6, 1, 22.51},
    {"pretraining table", "x070", 24, 2048, "none", "none", 4096, 1, 0, 41.12},
    {"pretraining table", "x070", 32, 2560, "none", "none", 4096, 1, 0, 89.21},
    {"peer H100", "x070", 12, 768, "lora", "none", 1024, 8, 1, 5.9},
    {"peer H100", "x070", 12, 768, "lora", "none", 1024, 8, 0, 11.2},
    {"peer H100", "x070", 24, 2048, "lora", "none", 1024, 8, 1, 10.2},
    {"peer H100", "x070", 24, 2048, "lora", "none", 1024, 8, 0, 40.2},
    {"peer H100", "x070", 24, 2048, "lora", "none", 1024, 1, 1, 4.9},
    {"peer H100", "x070", 24, 2048, "lora", "none", 4096, 1, 1, 7.3},
    {"peer H100", "x070", 12, 768, "none", "none", 4096, 8, 1, 23.7},
};

std::map<std::string, Json> flags_for(const MeasuredRow& row) {
  std::map<std::string, Json> f;
  f["my_testing"] = Json(row.version);
  f["n_layer"] = Json(row.n_layer);
  f["n_embd"] = Json(row.n_embd);
  f["vocab_size"] = Json(65536);
  f["ctx_len"] = Json(row.ctx_len);
  f["micro_bsz"] = Json(row.micro_bsz);
  f["grad_cp"] = Json(row.grad_cp);
  f["precision"] = Json("bf16");
  f["quant"] = Json(row.quant);
  const std::string source = row.source;
  const bool older_peft = source == "RWKV-6 table" || source == "peer H100";
  f["strategy"] = Json(source == "peer H100" ? "auto" : "deepspeed_stage_1");
  if (std::string(row.peft) != "none") {
    f["peft"] = Json(row.peft);
    if (older_peft) {
      f["lora_config"] = Json("{\"lora_load\":\"\",\"lora_r\":64,\"lora_alpha\":128,\"lora_dropout\":0.0}");
    } else {
      f["peft_config"] = Json("{\"r\":64,\"lora_alpha\":128}");
    }
  }
  return f;
}

void every_measured_row_within_15_percent() {
  std::printf("%-18s %-5s %-10s %-5s %-4s %-5s %-6s %9s %9s %7s\n", "source", "ver", "model", "peft",
              "q", "ctx", "bsz/cp", "measured", "planned", "error");
  for (const MeasuredRow& row : kRows) {
    const PlanInput in = rwkv::plan_input_from_flags(flags_for(row));
    const double planned = rwkv::plan_memory(in, PlanStack::Reference).total_bytes / (1024.0 * 1024 * 1024);
    const double err = (planned - row.measured_gib) / row.measured_gib;
    std::printf("%-18s %-5s L%-2d D%-5d %-5s %-4s %-5d %-2d/%-3d %8.2fG %8.2fG %+6.1f%%%s\n", row.source,
                row.version, row.n_layer, row.n_embd, row.peft, row.quant, row.ctx_len, row.micro_bsz,
                row.grad_cp, row.measured_gib, planned, err * 100, std::fabs(err) > 0.15 ? "  <-- outside ±15%" : "");
    // The tutorials' tables are the bar (issue 3: ±15%). The peer's runs use a different
    // strategy whose details we only partly model; they are shown and held to ±20%.
    const bool tutorial = std::string(row.source) != "peer H100";
    CHECK(std::fabs(err) <= (tutorial ? 0.15 : 0.20));
  }
}

std::map<std::string, Json> lora_15b() {
  std::map<std::string, Json> f;
  f["my_testing"] = Json("x070");
  f["n_layer"] = Json("24");  // scripts give numbers as strings after variable expansion
  f["n_embd"] = Json("2048");
  f["ctx_len"] = Json("1024");
  f["micro_bsz"] = Json(1);
  f["grad_cp"] = Json("1");
  f["peft"] = Json("lora");
  f["peft_config"] = Json("{\"r\":64,\"lora_alpha\":128}");
  f["strategy"] = Json("deepspeed_stage_1");
  return f;
}

void flags_are_read_as_scripts_write_them() {
  auto f = lora_15b();
  PlanInput in = rwkv::plan_input_from_flags(f);
  CHECK(in.n_layer == 24 && in.n_embd == 2048 && in.ctx_len == 1024 && in.grad_cp);
  CHECK(in.peft == "lora" && in.peft_r == 64 && in.train_parts.empty() && in.deepspeed);
  // The English MiSS tutorial's escaped braces reach train.py verbatim.
  f["peft"] = Json("miss");
  f["peft_config"] = Json("\\{\"r\":32\\}");
  in = rwkv::plan_input_from_flags(f);
  CHECK(in.peft == "miss" && in.peft_r == 32);
  // "bone" is MiSS's older name (JL-er/RWKV-PEFT): with an empty peft_config its settings are
  // --disha_config's; the newest trainer's "miss" reads --miss_config (flags.json peftMethods).
  f["peft_config"] = Json("{}");
  f["peft"] = Json("bone");
  f["disha_config"] = Json("{\"mode\":\"bone\",\"load\":\"\",\"r\":16}");
  f["miss_config"] = Json("{\"mode\":\"mode\",\"load\":\"\",\"r\":32}");
  in = rwkv::plan_input_from_flags(f);
  CHECK(in.peft == "miss" && in.peft_r == 16 && in.train_parts.size() == 2);
  f["peft"] = Json("miss");
  in = rwkv::plan_input_from_flags(f);
  CHECK(in.peft == "miss" && in.peft_r == 32);
  f.erase("disha_config");
  f.erase("miss_config");
  // The older PiSSA form, with train_parts as the server passes arrays (space-joined).
  f["peft"] = Json("pissa");
  f["pissa_config"] = Json("{\"pissa_load\":\"\",\"pissa_init\":\"\",\"pissa_r\":16,\"svd_niter\":4}");
  in = rwkv::plan_input_from_flags(f);
  CHECK(in.peft == "pissa" && in.peft_r == 16 && in.train_parts.size() == 2);
  f["train_parts"] = Json("time ln emb");
  in = rwkv::plan_input_from_flags(f);
  CHECK(in.train_parts.size() == 3);
  // Every default filled in, as the language server sends flags: the newer form still trains
  // the adapter only, and a default lora_config does not switch the form.
  auto with_defaults = lora_15b();
  with_defaults["train_parts"] = Json("time ln");
  with_defaults["lora_config"] = Json("{\"lora_load\":\"\",\"lora_r\":8,\"lora_alpha\":32,\"lora_dropout\":0.01}");
  in = rwkv::plan_input_from_flags(with_defaults);
  CHECK(in.peft_r == 64 && in.train_parts.empty());
  auto unknown = lora_15b();
  unknown["peft"] = Json("qlora");
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(unknown), "E_PLAN_FLAGS");
  // Bad input: a clear error, never a crash.
  auto zero = lora_15b();
  zero["n_layer"] = Json(0);
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(zero), "E_PLAN_FLAGS");
  // Flags not given take train.py's defaults from the flag table (micro_bsz 12, x052 unless
  // --my_testing says otherwise), so given-only and defaults-filled maps plan alike.
  auto given_only = lora_15b();
  given_only.erase("micro_bsz");
  given_only.erase("my_testing");
  const PlanInput defaulted = rwkv::plan_input_from_flags(given_only);
  CHECK(defaulted.micro_bsz == rwkv::find_flag("micro_bsz")->default_value.as_number());
  CHECK(defaulted.model_version == rwkv::find_flag("my_testing")->default_value.as_string());
  auto filled = given_only;
  for (const rwkv::FlagSpec& spec : rwkv::flag_table())
    if (!filled.count(spec.name)) filled[spec.name] = spec.default_value;
  CHECK(rwkv::plan_memory(rwkv::plan_input_from_flags(filled), PlanStack::Engine).total_bytes ==
        rwkv::plan_memory(defaulted, PlanStack::Engine).total_bytes);
  CHECK(rwkv::plan_memory(rwkv::plan_input_from_flags(filled), PlanStack::Reference).total_bytes ==
        rwkv::plan_memory(defaulted, PlanStack::Reference).total_bytes);
  auto bad_json = lora_15b();
  bad_json["peft_config"] = Json("{\"r\":");
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(bad_json), "E_PLAN_FLAGS");
  auto bad_int = lora_15b();
  bad_int["ctx_len"] = Json("10x24");
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(bad_int), "E_PLAN_FLAGS");
  auto odd_embd = lora_15b();
  odd_embd["n_embd"] = Json(1000);
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(odd_embd), "E_PLAN_FLAGS");
  auto bad_version = lora_15b();
  bad_version["my_testing"] = Json("x999");
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(bad_version), "E_PLAN_FLAGS");
}

void parameter_counts_match_the_official_sizes() {
  // Official RWKV-7 World sizes: 0.1B is 191M parameters with embeddings, 1.5B is 1.53B,
  // 2.9B is 2.95B (FACTS.md model sizes; emb and head are 65536 x n_embd each).
  PlanInput in;
  in.n_layer = 12, in.n_embd = 768;
  CHECK_CLOSE(rwkv::count_params(in).total, 191.0e6, 0.01);
  in.n_layer = 24, in.n_embd = 2048;
  CHECK_CLOSE(rwkv::count_params(in).total, 1.527e9, 0.01);
  in.n_layer = 32, in.n_embd = 2560;
  CHECK_CLOSE(rwkv::count_params(in).total, 2.948e9, 0.01);
  // LoRA r on r,k,v,o (C->C) and ffn key/value (C->4C, 4C->C): r*(8C + 10C) per layer.
  in.n_layer = 24, in.n_embd = 2048, in.peft = "lora", in.peft_r = 64;
  CHECK(rwkv::count_params(in).adapter == 24LL * 64 * 18 * 2048);
  CHECK(rwkv::count_params(in).trainable == rwkv::count_params(in).adapter);
}

void the_plan_moves_the_right_way() {
  const PlanInput base = rwkv::plan_input_from_flags(lora_15b());
  const uint64_t b = rwkv::plan_memory(base, PlanStack::Reference).total_bytes;
  PlanInput more = base;
  more.micro_bsz = 8;
  CHECK(rwkv::plan_memory(more, PlanStack::Reference).total_bytes > b);
  PlanInput no_cp = more;
  no_cp.grad_cp = false;
  CHECK(rwkv::plan_memory(no_cp, PlanStack::Reference).total_bytes >
        rwkv::plan_memory(more, PlanStack::Reference).total_bytes);
  PlanInput int8 = base, nf4 = base;
  int8.quant = "int8", nf4.quant = "nf4";
  const uint64_t i8 = rwkv::plan_memory(int8, PlanStack::Reference).total_bytes;
  const uint64_t n4 = rwkv::plan_memory(nf4, PlanStack::Reference).total_bytes;
  CHECK(n4 < i8 && i8 < b);
  // DeepSpeed shards optimizer state over GPUs (stage 1), and gradients too (stage 2);
  // offload takes master weights and Adam state off the GPU altogether.
  auto full = lora_15b();
  full.erase("peft");
  full.erase("peft_config");
  const PlanInput one = rwkv::plan_input_from_flags(full);
  full["devices"] = Json(4);
  const PlanInput four = rwkv::plan_input_from_flags(full);
  full["strategy"] = Json("deepspeed_stage_2");
  const PlanInput four_s2 = rwkv::plan_input_from_flags(full);
  full["strategy"] = Json("deepspeed_stage_2_offload");
  const PlanInput offload = rwkv::plan_input_from_flags(full);
  const auto p1 = rwkv::plan_memory(one, PlanStack::Reference), p4 = rwkv::plan_memory(four, PlanStack::Reference);
  const auto p4s2 = rwkv::plan_memory(four_s2, PlanStack::Reference), poff = rwkv::plan_memory(offload, PlanStack::Reference);
  CHECK(p4.category("optimizer") * 4 == p1.category("optimizer"));
  CHECK(p4.category("gradients") == p1.category("gradients"));
  CHECK(p4s2.category("gradients") < p4.category("gradients"));
  CHECK(poff.category("optimizer") == 0 && poff.category("master_weights") == 0);
  CHECK(four_s2.deepspeed_stage == 2 && offload.offload_optimizer);
  // Our engine on 4 GPUs: ZeRO-1 keeps a quarter of the AdamW state per rank, the rest whole.
  const auto e1 = rwkv::plan_memory(one, PlanStack::Engine), e4 = rwkv::plan_memory(four, PlanStack::Engine);
  CHECK(e1.category("optimizer") > 0);
  CHECK_CLOSE(double(e4.category("optimizer")) * 4, double(e1.category("optimizer")), 1e-9);
  CHECK(e4.category("master_weights") == e1.category("master_weights"));
  CHECK(e4.category("gradients") == e1.category("gradients"));
  // Our engine is leaner than the Python stack on the same run (issue 5's goal).
  CHECK(rwkv::plan_memory(base, PlanStack::Engine).total_bytes < b);
  CHECK(rwkv::plan_memory(more, PlanStack::Engine).total_bytes <
        rwkv::plan_memory(more, PlanStack::Reference).total_bytes);
  // The categories add up to the total, and the JSON carries them.
  const auto plan = rwkv::plan_memory(base, PlanStack::Engine);
  uint64_t sum = 0;
  for (const auto& c : plan.categories) sum += c.second;
  CHECK(sum == plan.total_bytes);
  // The chunked WKV7 kernels save exactly what the sequential ones save, so the plan does not
  // follow their switch (core/gpu_switches.h).
  {
    const char* was = std::getenv("RWKV_CUDA_WKV7_CHUNKED");
    const std::string saved = was ? was : "";
    ::setenv("RWKV_CUDA_WKV7_CHUNKED", "1", 1);
    const uint64_t base_on = rwkv::plan_memory(base, PlanStack::Engine).total_bytes;
    const uint64_t more_on = rwkv::plan_memory(more, PlanStack::Engine).total_bytes;
    ::unsetenv("RWKV_CUDA_WKV7_CHUNKED");
    CHECK(base_on == rwkv::plan_memory(base, PlanStack::Engine).total_bytes);
    CHECK(more_on == rwkv::plan_memory(more, PlanStack::Engine).total_bytes);
    if (was) ::setenv("RWKV_CUDA_WKV7_CHUNKED", saved.c_str(), 1);
  }
  // The trainer's resolved config (a JSON object) plans exactly as the flag map does.
  Json object = Json::object();
  for (const auto& [k, v] : lora_15b()) object.set(k, v);
  CHECK(rwkv::plan_memory(rwkv::plan_input_from_flags(object), PlanStack::Engine).total_bytes == plan.total_bytes);
  CHECK_THROWS_CODE(rwkv::plan_input_from_flags(Json("n_layer=24")), "E_PLAN_FLAGS");
  const Json j = rwkv::plan_to_json(plan);
  CHECK(j.find("total_bytes") && j.find("total_bytes")->as_number() == static_cast<double>(plan.total_bytes));
  CHECK(j.find("stack") && j.find("stack")->as_string() == "engine");
  CHECK(j.find("categories") && j.find("categories")->find("weights"));
}

}  // namespace

// The engine stack against the real CLI on an H100 (engine/cuda/device_tests/results/
// cli_rows_h100.json, run_cli_rows.sh: nvidia-smi's peak while `rwkv-train --accelerator gpu
// --grad_cp 1` trained 8 steps with the tutorials' flags, and the bench's configurations with
// the peer's). The bar: the plan within 5% of every measured row.
struct EngineRow {
  const char* name;
  int n_layer, n_embd, ctx_len, micro_bsz;
  const char* form;  // how the script names the method
  double measured_mib;
  int64_t pass_tokens = 0;  // RWKV_PASS_TOKENS of the run (0: before passes, the whole micro-batch)
  const char* quant = "none";
  bool slab = false;  // measured with RWKV_CUDA_PARAM_SLAB on (cuda/param_slab.h)
};

void engine_plan_within_5_percent_of_the_gpu_runs() {
  const EngineRow rows[] = {
    {"lora-1.5b", 24, 2048, 1024, 1, "lora_peft_config", 5101},
    {"state-1.5b", 24, 2048, 1024, 1, "state", 4075},
    {"miss-1.5b", 24, 2048, 1024, 1, "miss", 4569},
    {"lora-2.9b", 32, 2560, 1024, 1, "lora_peft_config", 9247},
    {"state-2.9b", 32, 2560, 1024, 1, "state", 7195},
    {"miss-2.9b", 32, 2560, 1024, 1, "miss", 8165},
    {"bench-lora-0.1b-1024x8", 12, 768, 1024, 8, "lora_config", 2343},
    {"bench-lora-1.5b-1024x8", 24, 2048, 1024, 8, "lora_config", 7541},
    {"bench-lora-1.5b-4096x1", 24, 2048, 4096, 1, "lora_config", 6039},
    {"bench-full-0.1b-4096x8", 12, 768, 4096, 8, "full", 8375},
    {"pretrain-1.5b", 24, 2048, 4096, 1, "full", 28315},
    {"lora-0.1b", 12, 768, 1024, 1, "lora_peft_config", 1475},
    {"state-0.1b", 12, 768, 1024, 1, "state", 1289},
    {"miss-0.1b", 12, 768, 1024, 1, "miss", 1373},
    {"lora-0.4b", 24, 1024, 1024, 1, "lora_peft_config", 2427},
    {"state-0.4b", 24, 1024, 1024, 1, "state", 1763},
    {"miss-0.4b", 24, 1024, 1024, 1, "miss", 2079},
    {"pretrain-0.1b", 12, 768, 4096, 1, "full", 4971},
    {"pretrain-0.4b", 24, 1024, 4096, 1, "full", 9207},
    {"pissa-0.1b", 12, 768, 1024, 1, "pissa_config", 1467},
    // cli_rows_h200_passes_call1.json (an H200): the micro-batch in passes (core/batch_passes.h)
    {"bench-lora-1.5b-1024x8 (passes)", 24, 2048, 1024, 8, "lora_config", 5943, 4096},
    {"bench-lora-1.5b-1024x8 (passes 2048)", 24, 2048, 1024, 8, "lora_config", 5363, 2048},
    {"bench-lora-0.1b-1024x8 (passes)", 12, 768, 1024, 8, "lora_config", 1773, 4096},
    {"bench-lora-0.1b-1024x8 (passes 2048)", 12, 768, 1024, 8, "lora_config", 1567, 2048},
    {"bench-lora-1.5b-1024x8 (whole, H200)", 24, 2048, 1024, 8, "lora_config", 7477, 0},
    // cli_rows_h100_quant_slab.json (an H100): the param slab on, and the --quant rows. Left
    // out: lora-2.9b-int8 (killed while quantising, before its first step).
    {"lora-2.9b (slab)", 32, 2560, 1024, 1, "lora_peft_config", 8533, 0, "none", true},
    {"state-0.1b (slab)", 12, 768, 1024, 1, "state", 1211, 0, "none", true},
    {"pissa-0.1b (slab)", 12, 768, 1024, 1, "pissa_config", 1387, 0, "none", true},
    {"lora-0.1b int8", 12, 768, 1024, 1, "lora_peft_config", 1357, 0, "int8", true},
    {"lora-0.1b nf4", 12, 768, 1024, 1, "lora_peft_config", 1299, 0, "nf4", true},
    {"lora-0.4b int8", 24, 1024, 1024, 1, "lora_peft_config", 2045, 0, "int8", true},
    {"lora-0.4b nf4", 24, 1024, 1024, 1, "lora_peft_config", 1855, 0, "nf4", true},
    {"lora-1.5b int8", 24, 2048, 1024, 1, "lora_peft_config", 3863, 0, "int8", true},
    {"lora-1.5b nf4", 24, 2048, 1024, 1, "lora_peft_config", 3407, 0, "nf4", true},
    {"lora-2.9b nf4", 32, 2560, 1024, 1, "lora_peft_config", 5393, 0, "nf4", true},
  };
  double worst = 0;
  for (const auto& r : rows) {
    std::map<std::string, Json> f;
    f["my_testing"] = Json("x070");
    f["n_layer"] = Json(r.n_layer);
    f["n_embd"] = Json(r.n_embd);
    f["ctx_len"] = Json(r.ctx_len);
    f["micro_bsz"] = Json(r.micro_bsz);
    f["grad_cp"] = Json(1);
    const std::string form = r.form;
    if (form == "lora_peft_config") f["peft"] = Json("lora"), f["peft_config"] = Json("{\"r\":64,\"lora_alpha\":32,\"lora_dropout\":0.05}");
    if (form == "lora_config") f["peft"] = Json("lora"), f["lora_config"] = Json("{\"lora_load\":\"\",\"lora_r\":64,\"lora_alpha\":128,\"lora_dropout\":0.0}");
    if (form == "pissa_config") f["peft"] = Json("pissa"), f["pissa_config"] = Json("{\"pissa_load\":\"\",\"pissa_init\":\"\",\"pissa_r\":64,\"svd_niter\":4}");
    if (form == "miss") f["peft"] = Json("miss"), f["peft_config"] = Json("{\"r\":64}");
    if (form == "state") f["peft"] = Json("state");
    if (std::string(r.quant) != "none") f["quant"] = Json(r.quant);
    setenv("RWKV_CUDA_PARAM_SLAB", r.slab ? "1" : "0", 1);
    rwkv::PlanInput in = rwkv::plan_input_from_flags(f);
    in.pass_tokens = r.pass_tokens;
    const double plan = double(rwkv::plan_memory(in, PlanStack::Engine).total_bytes) / (1 << 20);
    const double err = plan / r.measured_mib - 1.0;
    worst = std::max(worst, std::fabs(err));
    std::printf("engine %-24s measured %6.0f MiB  plan %6.0f MiB  %+5.1f%%\n", r.name, r.measured_mib, plan, 100 * err);
    CHECK(std::fabs(err) <= 0.05);
  }
  unsetenv("RWKV_CUDA_PARAM_SLAB");  // the defaults again for what follows
  std::printf("engine plan vs the GPU runs: worst %.1f%%\n", 100 * worst);
}

// The GPU backend runs a micro-batch in passes of whole sequences (core/batch_passes.h): under
// --grad_cp 1 passes of at most 2^23 token-channels by default, so a 1.5B LoRA run at 1024 x 8 holds
// what 1024 x 4 holds at once, and the plan says so; RWKV_PASS_TOKENS=0 restores the whole
// micro-batch, and grad_cp 0 runs whole unless a pass size is given.
void passes_cap_what_a_step_holds() {
  using rwkv::sequences_per_pass;
  CHECK(sequences_per_pass(8, 1024, 2048, true, -1) == 4);   // 1.5B: two passes
  CHECK(sequences_per_pass(8, 1024, 768, true, -1) == 8);    // 0.1B: whole
  CHECK(sequences_per_pass(8, 1024, 2560, true, -1) == 3);   // 2.9B: 3 + 3 + 2
  CHECK(sequences_per_pass(8, 1024, 2048, false, -1) == 8);  // grad_cp 0: whole
  CHECK(sequences_per_pass(8, 1024, 2048, true, 0) == 8);
  CHECK(sequences_per_pass(8, 4096, 2048, true, -1) == 1);
  CHECK(sequences_per_pass(8, 1024, 2048, false, 2048) == 2);
  CHECK(sequences_per_pass(3, 64, 128, true, 64) == 1);
  CHECK(sequences_per_pass(8, 1024, 2048, true, 100) == 1);  // at least one whole sequence
  CHECK(sequences_per_pass(1, 1024, 2048, true, -1) == 1);
  auto plan = [](int bsz, int64_t pass_tokens, bool grad_cp) {
    std::map<std::string, Json> f;
    f["my_testing"] = Json("x070");
    f["n_layer"] = Json(24);
    f["n_embd"] = Json(2048);
    f["ctx_len"] = Json(1024);
    f["micro_bsz"] = Json(bsz);
    f["grad_cp"] = Json(grad_cp ? 1 : 0);
    f["peft"] = Json("lora");
    f["lora_config"] = Json("{\"lora_load\":\"\",\"lora_r\":64,\"lora_alpha\":128,\"lora_dropout\":0.0}");
    rwkv::PlanInput in = rwkv::plan_input_from_flags(f);
    in.pass_tokens = pass_tokens;
    return rwkv::plan_memory(in, PlanStack::Engine).total_bytes;
  };
  CHECK(plan(8, -1, true) == plan(4, 0, true));
  CHECK(plan(8, 0, true) > plan(8, -1, true) + (1ull << 30));  // four more sequences in flight: > 1 GiB
  CHECK(plan(8, -1, false) == plan(8, 0, false));
  CHECK(plan(8, 2048, false) == plan(2, 0, false));
  std::printf("engine plan 1.5B LoRA 1024x8 grad_cp 1: %.2f GiB in passes of 4 sequences, %.2f GiB at once\n",
              plan(8, -1, true) / double(1 << 30), plan(8, 0, true) / double(1 << 30));
}

// --quant on our engine's stack, worked out by hand for 1.5B LoRA (24 layers, C 2048, F 8192).
// Per layer, four C x C and two C x F frozen linears. bf16: 8 MiB and 32 MiB each. The codes and
// absmax are blocks of their own from the allocator, with or without the param slab (512 B
// under 1 MiB, 2 MiB above): nf4 codes 2 MiB + absmax 256 KiB, and codes 8 MiB + absmax 1 MiB (a
// 2 MiB block); int8 codes 4 MiB + one 4-byte absmax (512 B), and 16 MiB + 512 B.
// The dequantising GEMMs add one bf16 scratch of each shape (8 + 32 MiB) to the workspace.
void engine_plan_knows_quant(bool slab) {
  setenv("RWKV_CUDA_PARAM_SLAB", slab ? "1" : "0", 1);
  const double MiB = 1024.0 * 1024.0;
  const auto plan_for = [](const char* quant) {
    auto f = lora_15b();
    f["quant"] = Json(quant);
    return rwkv::plan_memory(rwkv::plan_input_from_flags(f), PlanStack::Engine);
  };
  const auto bf16 = plan_for("none"), nf4 = plan_for("nf4"), int8 = plan_for("int8");
  const double nf4_saved = 24 * (4 * (8 - 2.25) + 2 * (32 - 10)) * MiB;
  const double int8_saved = 24 * (4 * (8 * MiB - 4 * MiB - 512) + 2 * (32 * MiB - 16 * MiB - 512));
  CHECK(double(bf16.category("weights") - nf4.category("weights")) == nf4_saved);
  CHECK(double(bf16.category("weights") - int8.category("weights")) == int8_saved);
  CHECK(double(nf4.category("workspace") - bf16.category("workspace")) == 40 * MiB);
  CHECK(double(int8.category("workspace") - bf16.category("workspace")) == 40 * MiB);
  // what a frozen base does not touch: adapters, their gradients and moments, activations
  for (const char* same : {"master_weights", "gradients", "optimizer", "activations", "recompute", "logits"})
    CHECK(nf4.category(same) == bf16.category(same) && int8.category(same) == bf16.category(same));
  CHECK(nf4.total_bytes < int8.total_bytes && int8.total_bytes < bf16.total_bytes);
  std::printf("engine plan, 1.5B LoRA r64 ctx 1024 bsz 1: bf16 %.2f GiB, int8 %.2f GiB, nf4 %.2f GiB\n",
              bf16.total_bytes / (1024.0 * MiB), int8.total_bytes / (1024.0 * MiB), nf4.total_bytes / (1024.0 * MiB));
  // the reference stack's int8: bitsandbytes' one absmax a tensor, ~1 byte an element
  auto f = lora_15b();
  f["quant"] = Json("int8");
  const PlanInput in8 = rwkv::plan_input_from_flags(f);
  f["quant"] = Json("none");
  const PlanInput in16 = rwkv::plan_input_from_flags(f);
  const auto r8 = rwkv::plan_memory(in8, PlanStack::Reference), r16 = rwkv::plan_memory(in16, PlanStack::Reference);
  const double blocks = double(rwkv::count_params(in8).block_matrices);
  CHECK(std::fabs(double(r16.category("weights") - r8.category("weights")) - blocks) < blocks * 1e-5);
}

int main() {
  passes_cap_what_a_step_holds();
  every_measured_row_within_15_percent();
  engine_plan_within_5_percent_of_the_gpu_runs();
  flags_are_read_as_scripts_write_them();
  parameter_counts_match_the_official_sizes();
  the_plan_moves_the_right_way();
  engine_plan_knows_quant(true);
  engine_plan_knows_quant(false);
  unsetenv("RWKV_CUDA_PARAM_SLAB");
  std::fflush(stdout);  // the table (stdout) before the summary (stderr)
  return rwkv_test::summary("planner_test");
}
