// RWKV-6 (x060) checkpoints on the CPU side: the model description (names and shapes as
// RWKV-PEFT's rwkvt/rwkv6 makes them), reading sizes back from a header, the checkpoint check
// against --my_testing/--n_layer/--n_embd, the planner's exact count, the options of an x060 run
// (trained on the CPU, adapters on all eight linears) and the GPU's refusal.
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint_check.h"
#include "core/errors.h"
#include "core/gpu_switches.h"
#include "core/flags.h"
#include "core/inspect.h"
#include "core/model_config.h"
#include "core/model_x060.h"
#include "core/planner.h"
#include "tests/check.h"
#include "train/gpu_support.h"
#include "train/train_options.h"

namespace {

using rwkv::TensorInfo;

std::vector<TensorInfo> header_of(const std::vector<std::pair<std::string, std::vector<int64_t>>>& shapes) {
  std::vector<TensorInfo> h;
  for (const auto& [name, shape] : shapes) {
    TensorInfo t;
    t.name = name;
    t.shape = shape;
    h.push_back(t);
  }
  return h;
}

int64_t total(const std::vector<std::pair<std::string, std::vector<int64_t>>>& shapes) {
  int64_t n = 0;
  for (const auto& s : shapes) {
    int64_t e = 1;
    for (int64_t d : s.second) e *= d;
    n += e;
  }
  return n;
}

const TensorInfo* find(const std::vector<TensorInfo>& h, const std::string& name) {
  for (const auto& t : h) if (t.name == name) return &t;
  return nullptr;
}

std::string error_code(const std::function<void()>& f, std::string* message = nullptr, std::string* flag = nullptr) {
  try { f(); } catch (const rwkv::EngineError& e) {
    if (message) *message = std::string(e.what()) + " | " + e.hint;
    if (flag) *flag = e.flag;
    return e.code;
  }
  return "";
}

void sizes_follow_rwkv_peft() {
  // 1.6B: dim_ffn int(2048*3.5)//32*32 = 7168; low-rank 32 (x5) and 64.
  auto c = rwkv::model_config_x060_for_size(24, 2048, 65536);
  CHECK(c.dim_ffn == 7168 && c.d_mix_lora == 32 && c.d_decay_lora == 64 && c.n_head() == 32);
  // 3B: 2560*3.5 = 8960, a multiple of 32.
  c = rwkv::model_config_x060_for_size(32, 2560, 65536);
  CHECK(c.dim_ffn == 8960 && c.d_mix_lora == 32 && c.d_decay_lora == 64);
  // 7B: the extra dims double at n_embd == 4096 exactly.
  c = rwkv::model_config_x060_for_size(32, 4096, 65536);
  CHECK(c.dim_ffn == 14336 && c.d_mix_lora == 64 && c.d_decay_lora == 128);
  // rounding down: 3.5 * 100 = 350 -> 320; and 5120 (not 4096) keeps the small extra dims
  CHECK(rwkv::model_config_x060_for_size(1, 100, 10, 50).dim_ffn == 320);
  CHECK(rwkv::model_config_x060_for_size(1, 5120, 10).d_mix_lora == 32);
  CHECK(error_code([] { rwkv::model_config_x060_for_size(2, 100, 10); }) == "E_MODEL_SIZE");

  const auto h = header_of(rwkv::x060_tensor_shapes(rwkv::model_config_x060_for_size(24, 2048, 65536)));
  CHECK(find(h, "blocks.0.att.time_maa_w1")->shape == (std::vector<int64_t>{2048, 160}));
  CHECK(find(h, "blocks.0.att.time_maa_w2")->shape == (std::vector<int64_t>{5, 32, 2048}));
  CHECK(find(h, "blocks.3.att.time_decay_w2")->shape == (std::vector<int64_t>{64, 2048}));
  CHECK(find(h, "blocks.23.att.time_faaaa")->shape == (std::vector<int64_t>{32, 64}));
  CHECK(find(h, "blocks.1.att.gate.weight") && find(h, "blocks.1.ffn.receptance.weight") &&
        find(h, "blocks.1.ffn.time_maa_r"));
  CHECK(find(h, "blocks.0.ln0.weight") && !find(h, "blocks.1.ln0.weight"));
  CHECK(find(h, "blocks.0.ffn.value.weight")->shape == (std::vector<int64_t>{2048, 7168}));
}

void official_parameter_counts() {
  // RWKV-6 World 1.6B / 3B / 7B: 1.60B, 3.10B, 7.64B with the 65536 x C emb and head.
  const struct { int L, C; int64_t params; } rows[] = {
      {24, 2048, 1599873024}, {32, 2560, 3099863040}, {32, 4096, 7635746816}};
  for (const auto& r : rows) {
    const auto shapes = rwkv::x060_tensor_shapes(rwkv::model_config_x060_for_size(r.L, r.C, 65536));
    CHECK(total(shapes) == r.params);
    rwkv::PlanInput in;
    in.model_version = "x060", in.n_layer = r.L, in.n_embd = r.C;
    CHECK(rwkv::count_params(in).total == r.params);  // the planner's formula, exactly
    // inspect reports the same count and sizes from the tensors alone
    const auto s = rwkv::summarize_tensors(header_of(shapes));
    CHECK(s.version == "x060" && s.n_layer == r.L && s.n_embd == r.C && s.vocab_size == 65536 &&
          s.head_size == 64 && s.params == r.params && !s.is_adapter);
  }
  // odd sizes too: the planner and the shape list agree wherever the formula is used
  for (int C : {512, 768, 1024, 5120}) {
    rwkv::PlanInput in;
    in.model_version = "x060", in.n_layer = 3, in.n_embd = C;
    CHECK(rwkv::count_params(in).total == total(rwkv::x060_tensor_shapes(rwkv::model_config_x060_for_size(3, C, 65536))));
  }
}

void header_round_trip_and_damage() {
  const auto cfg = rwkv::model_config_x060_for_size(4, 256, 1000, 32);
  auto h = header_of(rwkv::x060_tensor_shapes(cfg));
  const auto back = rwkv::model_config_x060_from_header(h);
  CHECK(back.n_layer == 4 && back.n_embd == 256 && back.vocab_size == 1000 && back.head_size == 32 &&
        back.dim_ffn == cfg.dim_ffn && back.d_mix_lora == 32 && back.d_decay_lora == 64);
  // a custom dim_ffn is read from ffn.key, not assumed
  auto custom = cfg;
  custom.dim_ffn = 512;
  CHECK(rwkv::model_config_x060_from_header(header_of(rwkv::x060_tensor_shapes(custom))).dim_ffn == 512);
  // a wrong size names the tensor and both shapes
  auto bad = h;
  for (auto& t : bad) if (t.name == "blocks.2.att.gate.weight") t.shape = {256, 128};
  std::string msg;
  CHECK(error_code([&] { rwkv::model_config_x060_from_header(bad); }, &msg) == "E_MODEL_SHAPE");
  CHECK(msg.find("blocks.2.att.gate.weight has shape [256, 128], expected [256, 256]") != std::string::npos);
  // a missing tensor
  auto missing = h;
  missing.erase(missing.begin() + 10);
  CHECK(error_code([&] { rwkv::model_config_x060_from_header(missing); }, &msg) == "E_MODEL_SHAPE");
  CHECK(msg.find("has no tensor '" + h[10].name + "'") != std::string::npos);
}

void checkpoint_against_flags() {
  const auto v6 = header_of(rwkv::x060_tensor_shapes(rwkv::model_config_x060_for_size(24, 2048, 65536)));
  const auto v7 = header_of(rwkv::x070_tensor_shapes(rwkv::model_config_for_size(2, 128, 300)));
  rwkv::ModelFlags f;
  f.my_testing = "x060", f.n_layer = 24, f.n_embd = 2048, f.vocab_size = 65536;
  CHECK(rwkv::check_checkpoint_model(v6, f).n_layer == 24);
  std::string msg, flag;
  // wrong sizes name the flag and the checkpoint's value
  f.n_layer = 32;
  CHECK(error_code([&] { rwkv::check_checkpoint_model(v6, f); }, &msg, &flag) == "E_MODEL_SHAPE");
  CHECK(flag == "n_layer" && msg.find("--n_layer 32 disagrees with the RWKV-6 (x060) checkpoint, which has n_layer 24") != std::string::npos);
  f.n_layer = 24, f.n_embd = 2560;
  CHECK(error_code([&] { rwkv::check_checkpoint_model(v6, f); }, &msg, &flag) == "E_MODEL_SHAPE" && flag == "n_embd");
  // an x070 file under --my_testing x060, and the reverse
  f.n_embd = 0, f.n_layer = 0, f.vocab_size = 0;
  CHECK(error_code([&] { rwkv::check_checkpoint_model(v7, f); }, &msg, &flag) == "E_MODEL_VERSION");
  CHECK(flag == "my_testing" && msg.find("--my_testing x060 describes an RWKV-6 (x060) model, but the checkpoint is an RWKV-7 (x070) model") != std::string::npos &&
        msg.find("set --my_testing x070") != std::string::npos);
  f.my_testing = "x070";
  CHECK(error_code([&] { rwkv::check_checkpoint_model(v6, f); }, &msg) == "E_MODEL_VERSION");
  CHECK(msg.find("the checkpoint is an RWKV-6 (x060) model") != std::string::npos && msg.find("set --my_testing x060") != std::string::npos);
  CHECK(rwkv::check_checkpoint_model(v7, f).n_embd == 128);
  // the trainer's x070 loader names the version instead of a missing att.w1, and the way to train it
  CHECK(error_code([&] { rwkv::model_config_from_header(v6); }, &msg, &flag) == "E_MODEL_VERSION");
  CHECK(msg.find("RWKV-6 (x060)") != std::string::npos && msg.find("set --my_testing x060") != std::string::npos &&
        flag == "my_testing");
}

void x060_trains_on_the_cpu_and_is_refused_on_the_gpu() {
  std::string msg, flag;
  const auto base = std::vector<std::string>{"--data_file", "x", "--data_type", "binidx", "--proj_dir", "out",
                                             "--n_layer", "24", "--n_embd", "2048", "--vocab_size", "65536"};
  auto with = [&](const char* v, const char* accelerator, std::vector<std::string> more = {}) {
    auto a = base;
    a.insert(a.end(), {"--my_testing", v, "--accelerator", accelerator});
    a.insert(a.end(), more.begin(), more.end());
    return rwkv::parse_flags(a);
  };
  const rwkv::TrainOptions cpu = rwkv::train_options_from_flags(with("x060", "cpu"));
  CHECK(cpu.model_version == "x060");
  CHECK(!rwkv::cuda_refusal(cpu).has_value());
  // the GPU: E_CUDA_UNSUPPORTED (the editor's RWKV026) on --my_testing, before anything loads
  const rwkv::TrainOptions gpu = rwkv::train_options_from_flags(with("x060", "gpu"));
  const auto refusal = rwkv::cuda_refusal(gpu);
  CHECK(refusal.has_value() && refusal->code == "E_CUDA_UNSUPPORTED" && refusal->flag == "my_testing");
  if (refusal) {
    CHECK(std::string(refusal->what()).find("the CUDA backend has no WKV6 kernel yet") != std::string::npos);
    CHECK(refusal->hint.find("--accelerator cpu") != std::string::npos);
  }
  // The GPU's x060 path (cuda/wkv6.cu, cuda/x060_block.cu) has not run on a GPU: it is off by
  // default (core/gpu_switches.h), and only RWKV_CUDA_X060=1 lets the options through; any other
  // value keeps the refusal above, word for word.
  CHECK(std::getenv("RWKV_CUDA_X060") == nullptr);
  CHECK(!rwkv::cuda_x060_enabled());
  for (const char* off : {"0", "", "yes", "true"}) {
    ::setenv("RWKV_CUDA_X060", off, 1);
    CHECK(!rwkv::cuda_x060_enabled());
    const auto still = rwkv::cuda_refusal(gpu);
    CHECK(still.has_value() && refusal.has_value() && std::string(still->what()) == refusal->what() &&
          still->flag == "my_testing");
  }
  ::setenv("RWKV_CUDA_X060", "1", 1);
  CHECK(rwkv::cuda_x060_enabled());
  CHECK(!rwkv::cuda_refusal(gpu).has_value());
  // on, the WKV6 kernels take a ctx_len that is no multiple of 16 (the WKV7 ones need one)
  CHECK(!rwkv::cuda_refusal(rwkv::train_options_from_flags(with("x060", "gpu", {"--ctx_len", "100"}))).has_value());
  CHECK(rwkv::cuda_refusal(rwkv::train_options_from_flags(with("x070", "gpu", {"--ctx_len", "100"}))).has_value());
  ::unsetenv("RWKV_CUDA_X060");
  CHECK(rwkv::cuda_refusal(gpu).has_value());
  CHECK(rwkv::train_options_from_flags(with("x070", "cpu")).model_version == "x070");
  // the older RWKV-PEFT wraps every linear of an x060 block (att.gate included); peft's
  // "all-linear" and its default do too, and "gate" is a target only x060 has
  const auto lora_old = rwkv::train_options_from_flags(
      with("x060", "cpu", {"--peft", "lora", "--lora_config", R"({"lora_r":8,"lora_alpha":16})"}));
  CHECK((lora_old.peft.target_modules == std::vector<std::string>{"receptance", "key", "value", "gate", "output"}));
  const auto lora_new = rwkv::train_options_from_flags(
      with("x060", "cpu", {"--peft", "lora", "--peft_config", R"({"r":8,"target_modules":"all-linear"})"}));
  CHECK(lora_new.peft.target_modules.size() == 5);
  const auto x070_lora = rwkv::train_options_from_flags(
      with("x070", "cpu", {"--peft", "lora", "--lora_config", R"({"lora_r":8,"lora_alpha":16})"}));
  CHECK(x070_lora.peft.target_modules.size() == 4);
  CHECK(error_code([&] {
          rwkv::train_options_from_flags(
              with("x070", "cpu", {"--peft", "lora", "--peft_config", R"({"r":8,"target_modules":["gate"]})"}));
        }) == "E_FLAG_UNSUPPORTED");
  // RWKV-5 still is not trained
  CHECK(error_code([&] { rwkv::train_options_from_flags(with("x052", "cpu")); }, &msg, &flag) == "E_FLAG_UNSUPPORTED");
  CHECK(flag == "my_testing" && msg.find("only RWKV-7 (x070) and RWKV-6 (x060)") != std::string::npos);
}

}  // namespace

int main() {
  sizes_follow_rwkv_peft();
  official_parameter_counts();
  header_round_trip_and_damage();
  checkpoint_against_flags();
  x060_trains_on_the_cpu_and_is_refused_on_the_gpu();
  return rwkv_test::summary("x060_model_test");
}
