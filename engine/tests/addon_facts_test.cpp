// The facts the addon returns (engine/addon/facts.cpp), checked against files PyTorch wrote
// (engine/tests/fixtures/torch/, made by make_fixtures.py with torch.save on the GPU machine;
// manifest.json there is torch's own description of every tensor) and against binidx/jsonl
// data written by the engine.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "addon/facts.h"
#include "addon/run_check.h"
#include "core/binidx.h"
#include "core/errors.h"
#include "core/planner.h"
#include "core/pth.h"
#include "core/tokenizer.h"
#include "tests/check.h"

using rwkv::Json;

namespace {

const std::string kDir = "fixtures/torch/";  // CTest runs in engine/tests

Json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

std::vector<int64_t> ints(const Json& a) {
  std::vector<int64_t> out;
  for (const Json& v : a.items()) out.push_back(static_cast<int64_t>(v.as_number()));
  return out;
}

// Every tensor torch saved: name, dtype, shape, stride and storage offset as torch reports them.
void headers_match_what_torch_wrote() {
  const Json manifest = read_json(kDir + "manifest.json");
  const Json* files = manifest.find("files");
  CHECK(files && files->members().size() >= 7);
  if (!files) return;
  for (const auto& [file, entry] : files->members()) {
    if (file == "legacy_format.pth") continue;
    std::vector<rwkv::TensorInfo> header;
    try {
      header = rwkv::read_pth_header(kDir + file);
    } catch (const rwkv::EngineError& e) {
      rwkv_test::fail(__FILE__, __LINE__, file + ": " + e.code + " " + e.what());
      continue;
    }
    const Json& tensors = *entry.find("tensors");
    CHECK(header.size() == tensors.members().size());
    for (const rwkv::TensorInfo& t : header) {
      const Json* want = tensors.find(t.name);
      if (!want) { rwkv_test::fail(__FILE__, __LINE__, file + ": unexpected tensor " + t.name); continue; }
      const bool same = want->find("dtype")->as_string() == rwkv::dtype_name(t.dtype) &&
                        ints(*want->find("shape")) == t.shape && ints(*want->find("stride")) == t.stride &&
                        static_cast<int64_t>(want->find("storage_offset")->as_number()) == t.storage_offset;
      if (!same) rwkv_test::fail(__FILE__, __LINE__, file + ": " + t.name + " differs from torch's description");
    }
  }
}

void x070_model_facts() {
  const Json f = rwkv::facts::inspect_checkpoint(kDir + "x070_L2_D128_V512.pth");
  CHECK(f.find("version")->as_string() == "x070");
  CHECK(f.find("nLayer")->as_number() == 2);
  CHECK(f.find("nEmbd")->as_number() == 128);
  CHECK(f.find("vocabSize")->as_number() == 512);
  CHECK(f.find("headSize")->as_number() == 64);
  CHECK(f.find("isAdapter")->as_bool() == false);
  // The planner's parameter count equals the elements of an official-shaped file.
  double numel = 0;
  for (const Json& t : f.find("tensors")->items()) {
    double n = 1;
    for (const Json& d : t.find("shape")->items()) n *= d.as_number();
    numel += n;
    CHECK(t.find("dtype")->as_string() == "bfloat16");
  }
  rwkv::PlanInput in;
  in.n_layer = 2, in.n_embd = 128, in.vocab_size = 512;
  CHECK(static_cast<double>(rwkv::count_params(in).total) == numel);
}

void adapter_and_older_versions() {
  const Json lora = rwkv::facts::inspect_checkpoint(kDir + "x070_lora_adapter_r8.pth");
  CHECK(lora.find("isAdapter")->as_bool() == true);
  CHECK(lora.find("nLayer")->as_number() == 2);
  CHECK(lora.find("vocabSize")->as_number() == 0);
  const Json v6 = rwkv::facts::inspect_checkpoint(kDir + "x060_shapes.pth");
  CHECK(v6.find("version")->as_string() == "x060");
  CHECK(v6.find("headSize")->as_number() == 64);
  CHECK(v6.find("nEmbd")->as_number() == 128);
  // A pre-1.6 torch file is not a zip: a clear error, no crash.
  bool threw = false;
  try {
    rwkv::facts::inspect_checkpoint(kDir + "legacy_format.pth");
  } catch (const rwkv::EngineError& e) {
    threw = e.code.rfind("E_PTH", 0) == 0 && std::string(e.what()).size() > 0;
  }
  CHECK(threw);
}

// An adapter saved through Hugging Face peft carries a prefix before blocks.N.
void peft_prefixed_adapter() {
  rwkv::StateDict sd;
  for (int layer = 0; layer < 3; ++layer)
    for (const char* ab : {"lora_A", "lora_B"})
      sd.emplace_back("base_model.model.blocks." + std::to_string(layer) + ".att.receptance." + ab + ".weight",
                      rwkv::HostTensor::from_f32(std::vector<float>(8 * 16, 0.5f), {8, 16}, rwkv::DType::BF16));
  const std::string path = "addon_facts_test_peft_adapter.pth";
  rwkv::save_pth(path, sd);
  const Json f = rwkv::facts::inspect_checkpoint(path);
  CHECK(f.find("isAdapter")->as_bool());
  CHECK(f.find("nLayer")->as_number() == 3);
  CHECK(f.find("tensors")->items().size() == 6);
  std::remove(path.c_str());
}

void dataset_facts() {
  const std::string prefix = "addon_facts_test_data";
  std::vector<std::vector<uint32_t>> docs;
  uint64_t total = 0;
  for (int d = 0; d < 40; ++d) {
    docs.emplace_back(300 + d, static_cast<uint32_t>(d + 1));
    total += docs.back().size();
  }
  rwkv::write_binidx(prefix, docs);
  const Json f = rwkv::facts::inspect_dataset(prefix, 512, "");
  CHECK(f.find("tokens")->as_number() == static_cast<double>(total));
  CHECK(f.find("documents")->as_number() == 40);
  CHECK(f.find("dtype")->as_string() == "uint16");
  CHECK(f.find("magicPrime")->as_number() == static_cast<double>(rwkv::magic_prime_for(total, 512)));
  CHECK(f.find("myExitTokens")->as_number() == static_cast<double>(total));
  const Json no_ctx = rwkv::facts::inspect_dataset(prefix, 0, "");
  CHECK(!no_ctx.find("magicPrime"));
  CHECK_THROWS_CODE(rwkv::facts::inspect_dataset(prefix + "_missing", 512, ""), "E_BINIDX_NO_IDX");
  std::remove((prefix + ".bin").c_str());
  std::remove((prefix + ".idx").c_str());
}

// .jsonl: every {"text": ...} line is a document; tokens as the World tokenizer counts them,
// plus the end-of-text token per document; bad lines are named by number.
void jsonl_facts() {
  const std::string vocab = rwkv::default_vocab_path();
  const std::string path = "addon_facts_test_data.jsonl";
  const std::vector<std::string> texts = {"Hello world", "RWKV 是一种 RNN", "User: hi\n\nAssistant: hello"};
  {
    std::ofstream out(path);
    out << "{\"text\": \"Hello world\"}\n\n{\"text\": \"RWKV \\u662f\\u4e00\\u79cd RNN\"}\n"
        << "{\"text\": \"User: hi\\n\\nAssistant: hello\"}\n";
  }
  try {
    const rwkv::WorldTokenizer tok(vocab);
    uint64_t expected = 0;
    for (const std::string& t : texts) expected += tok.encode(t).size() + 1;
    const Json f = rwkv::facts::inspect_dataset(path, 0, vocab);
    CHECK(f.find("documents")->as_number() == 3);
    CHECK(f.find("tokens")->as_number() == static_cast<double>(expected));
    CHECK(f.find("dtype")->as_string() == "uint16");
    { std::ofstream out(path); out << "{\"text\": \"ok\"}\n{\"txt\": 1}\n"; }
    bool named_line = false;
    try {
      rwkv::facts::inspect_dataset(path, 0, vocab);
    } catch (const rwkv::EngineError& e) {
      named_line = e.code == "E_DATA_JSONL" && std::string(e.what()).find(":2:") != std::string::npos;
    }
    CHECK(named_line);
  } catch (const rwkv::EngineError& e) {
    rwkv_test::fail(__FILE__, __LINE__, std::string("jsonl: ") + e.code + " " + e.what());
  }
  std::remove(path.c_str());
}

void plan_and_gpus_answer_in_facts_shapes() {
  std::map<std::string, Json> flags{{"n_layer", Json(12)}, {"n_embd", Json(768)}, {"ctx_len", Json(1024)}};
  const Json ref = rwkv::facts::plan_memory(flags, "reference");
  const Json eng = rwkv::facts::plan_memory(flags, "engine");
  const rwkv::MemoryPlan direct = rwkv::plan_memory(rwkv::plan_input_from_flags(flags), rwkv::PlanStack::Engine);
  CHECK(eng.find("totalBytes")->as_number() == static_cast<double>(direct.total_bytes));
  CHECK(ref.find("totalBytes")->as_number() > eng.find("totalBytes")->as_number());
  CHECK(ref.find("byCategory")->find("weights"));
  CHECK_THROWS_CODE(rwkv::facts::plan_memory(flags, "python"), "E_PLAN_FLAGS");
  const Json gpus = rwkv::facts::list_gpus();
  CHECK(gpus.find("gpus") && gpus.find("gpus")->kind() == Json::Kind::Array);
  if (gpus.find("gpus")->items().empty()) CHECK(gpus.find("reason") && !gpus.find("reason")->as_string().empty());
}

// checkRun: the trainer's own rules, from flags alone. What train.py accepts but this engine does
// not (quantisation with full fine-tuning, fp4), what the GPU backend cannot do (head size other than 64, a ctx_len or
// chunk_ctx that is not a multiple of 16) with the CPU as the way out, and every PEFT method,
// LoRA dropout, infctx and grad_cp 1 accepted on the GPU without a warning.
void check_run_uses_the_trainers_rules() {
  const std::vector<std::string> base = {"--n_layer", "12", "--n_embd", "768", "--vocab_size", "65536", "--data_file", "d",
                                         "--data_type", "binidx", "--ctx_len", "512", "--accelerator", "gpu", "--grad_cp", "1"};
  auto check = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return rwkv::facts::check_run(argv);
  };
  auto code = [](const Json& j) { return j.find("code") ? j.find("code")->as_string() : std::string(); };
  const Json full = check({});
  CHECK(full.find("ok")->as_bool());
  CHECK(full.find("warnings")->items().empty());
  CHECK(check({"--peft", "miss", "--peft_config", "{\"r\":64}"}).find("ok")->as_bool());
  CHECK(check({"--peft", "disha", "--disha_config", "{\"mode\":\"bone\",\"r\":64}"}).find("ok")->as_bool());
  CHECK(check({"--peft", "state"}).find("ok")->as_bool());
  CHECK(check({"--peft", "lora", "--lora_config", "{\"lora_r\":32,\"lora_alpha\":32,\"lora_dropout\":0.01}"}).find("ok")->as_bool());
  CHECK(check({"--train_type", "infctx", "--chunk_ctx", "256"}).find("ok")->as_bool());
  const Json odd_chunk = check({"--train_type", "infctx", "--chunk_ctx", "250"});
  CHECK(code(odd_chunk) == "E_CUDA_UNSUPPORTED");
  CHECK(odd_chunk.find("message")->as_string().find("chunk_ctx 250") != std::string::npos);
  CHECK(code(check({"--ctx_len", "500"})) == "E_CUDA_UNSUPPORTED");
  CHECK(code(check({"--head_size", "32"})) == "E_CUDA_UNSUPPORTED" || code(check({"--head_size_a", "32"})) == "E_CUDA_UNSUPPORTED");
  CHECK(check({"--peft", "pissa", "--pissa_config", "{\"pissa_r\":32,\"svd_niter\":4}"}).find("ok")->as_bool());
  // --quant: full fine-tuning would train the quantised base; a PEFT run quantises on the CPU,
  // and the GPU takes it unless RWKV_CUDA_QUANT=0 turns its path off
  CHECK(code(check({"--quant", "nf4"})) == "E_FLAG_UNSUPPORTED");
  CHECK(code(check({"--quant", "fp4", "--peft", "state"})) == "E_FLAG_UNSUPPORTED");
  CHECK(check({"--quant", "nf4", "--peft", "lora", "--peft_config", "{\"r\":64}"}).find("ok")->as_bool());
  setenv("RWKV_CUDA_QUANT", "0", 1);
  const Json gpu_quant = check({"--quant", "nf4", "--peft", "lora", "--peft_config", "{\"r\":64}"});
  unsetenv("RWKV_CUDA_QUANT");
  CHECK(code(gpu_quant) == "E_CUDA_UNSUPPORTED");
  CHECK(gpu_quant.find("message")->as_string().find("--quant nf4") != std::string::npos);
  CHECK(check({"--quant", "int8", "--peft", "lora", "--peft_config", "{\"r\":64}", "--accelerator", "cpu"}).find("ok")->as_bool());
  CHECK(check({"--peft", "miss", "--peft_config", "{\"r\":64}", "--accelerator", "cpu"}).find("ok")->as_bool());
  CHECK(code(check({"--lr_schedule", "linear"})) == "E_FLAG_VALUE");
  // each refusal names the flag it is about (the editor puts its note there); the message is prose
  auto flag = [](const Json& j) { return j.find("flag") ? j.find("flag")->as_string() : std::string(); };
  CHECK(flag(odd_chunk) == "chunk_ctx");
  CHECK(flag(check({"--ctx_len", "500"})) == "ctx_len");
  CHECK(flag(check({"--head_size_a", "32"})) == "head_size_a");
  CHECK(flag(check({"--quant", "nf4"})) == "quant");
  CHECK(flag(gpu_quant) == "quant");
  CHECK(flag(check({"--lr_schedule", "linear"})) == "lr_schedule");
  CHECK(flag(check({"--peft", "adalora", "--peft_config", "{}"})) == "peft");
  CHECK(flag(check({"--peft", "lora", "--peft_config", "{\"use_dora\":true}"})) == "peft_config");
  CHECK(flag(check({"--peft", "disha", "--disha_config", "{\"mode\":\"bat\",\"r\":64}"})) == "disha_config");
  CHECK(!check({}).find("flag"));
}

}  // namespace

int main() {
  check_run_uses_the_trainers_rules();
  headers_match_what_torch_wrote();
  x070_model_facts();
  adapter_and_older_versions();
  peft_prefixed_adapter();
  dataset_facts();
  jsonl_facts();
  plan_and_gpus_answer_in_facts_shapes();
  return rwkv_test::summary("addon_facts_test");
}
