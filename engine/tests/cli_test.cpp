// rwkv-train as a user runs it: inspect on checkpoints (full x070, adapter) and datasets,
// make-data against the tokenizer and binidx reader, and errors as protocol events with a
// non-zero exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/model_x060.h"
#include "core/pth.h"
#include "core/tokenizer.h"
#include "tests/check.h"

using namespace rwkv;

struct Result { int code; std::string out; };

static Result run(const std::string& args, const std::string& cwd = ".") {
  std::string cmd = "cd " + cwd + " && " + std::string(RWKV_TRAIN_EXE) + " " + args + " 2>/dev/null";
  Result r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

static Json first_line(const std::string& out) { return Json::parse(out.substr(0, out.find('\n'))); }

// Errors: an `error` event with the code on stdout, exit code 1.
static std::string error_code(const Result& res) {
  if (res.code != 1) return std::string("exit ") + std::to_string(res.code);
  try { Json j = first_line(res.out); return j.find("event")->as_string() + ":" + j.find("code")->as_string(); }
  catch (const EngineError&) { return std::string("no JSON"); }
}

static HostTensor zeros(std::vector<int64_t> shape, DType dt = DType::BF16) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return HostTensor::from_f32(std::vector<float>(static_cast<size_t>(n), 0.0f), shape, dt);
}

int main() {
  const std::string dir = "/tmp/rwkv_cli_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());

  // A tiny x070-shaped checkpoint: 2 layers, n_embd 128, head size 64, vocab 300.
  StateDict model;
  model.emplace_back("emb.weight", zeros({300, 128}));
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    model.emplace_back(b + "att.w0", zeros({1, 1, 128}));
    model.emplace_back(b + "att.r_k", zeros({2, 64}));
    model.emplace_back(b + "att.receptance.weight", zeros({128, 128}));
  }
  model.emplace_back("head.weight", zeros({300, 128}));
  save_pth(dir + "/model.pth", model);
  Result r = run("inspect " + dir + "/model.pth");
  CHECK(r.code == 0);
  if (r.code == 0) {
    Json j = first_line(r.out);
    const Json* m = j.find("model");
    CHECK(j.find("kind")->as_string() == "checkpoint" && j.find("weights")->as_string() == "full");
    CHECK(m->find("version")->as_string() == "x070");
    CHECK(m->find("n_layer")->as_number() == 2 && m->find("n_embd")->as_number() == 128);
    CHECK(m->find("vocab_size")->as_number() == 300 && m->find("head_size")->as_number() == 64);
    CHECK(j.find("tensor_count")->as_number() == 8 && j.find("dtype")->as_string() == "bfloat16");
    CHECK(j.find("tensors")->items()[0].find("shape")->dump() == "[300,128]");
  }
  // Older generations by their tensor names: x060 (time_maa_*, time_faaaa) and x052.
  StateDict v6;
  v6.emplace_back("emb.weight", zeros({300, 128}));
  v6.emplace_back("blocks.0.att.time_maa_x", zeros({1, 1, 128}));
  v6.emplace_back("blocks.0.att.time_faaaa", zeros({2, 64}));
  save_pth(dir + "/v6.pth", v6);
  r = run("inspect " + dir + "/v6.pth");
  CHECK(r.code == 0 && first_line(r.out).find("model")->find("version")->as_string() == "x060");
  CHECK(r.code == 0 && first_line(r.out).find("model")->find("head_size")->as_number() == 64);
  StateDict v5;
  v5.emplace_back("emb.weight", zeros({300, 128}));
  v5.emplace_back("blocks.0.att.time_faaaa", zeros({4, 32}));
  v5.emplace_back("blocks.0.att.ln_x.weight", zeros({128}));
  save_pth(dir + "/v5.pth", v5);
  r = run("inspect " + dir + "/v5.pth");
  CHECK(r.code == 0 && first_line(r.out).find("model")->find("version")->as_string() == "x052");
  CHECK(r.code == 0 && first_line(r.out).find("model")->find("head_size")->as_number() == 32);

  StateDict adapter;
  adapter.emplace_back("blocks.0.att.receptance.lora_A", zeros({8, 128}));
  adapter.emplace_back("blocks.0.att.receptance.lora_B", zeros({128, 8}));
  save_pth(dir + "/adapter.pth", adapter);
  r = run("inspect " + dir + "/adapter.pth");
  CHECK(r.code == 0 && first_line(r.out).find("weights")->as_string() == "adapter");
  CHECK(r.code == 0 && first_line(r.out).find("adapter")->as_string() == "lora");

  // --quant: the quantisation error of each weight --quant would store quantised (the block
  // linears), against the checkpoint's own values; int8's is far below nf4's.
  {
    StateDict q;
    std::vector<float> w(128 * 128);
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(std::sin(0.37 * double(i))) * 0.02f;
    q.emplace_back("emb.weight", zeros({300, 128}));
    q.emplace_back("blocks.0.att.receptance.weight", HostTensor::from_f32(w, {128, 128}, DType::BF16));
    q.emplace_back("blocks.0.ffn.key.weight", HostTensor::from_f32(w, {128, 128}, DType::BF16));
    q.emplace_back("blocks.0.att.x_r", zeros({1, 1, 128}));  // not a linear: never quantised
    save_pth(dir + "/quant.pth", q);
    Result i8 = run("inspect " + dir + "/quant.pth --quant int8");
    Result n4 = run("inspect " + dir + "/quant.pth --quant=nf4");
    CHECK(i8.code == 0 && n4.code == 0);
    if (i8.code == 0 && n4.code == 0) {
      const Json j8 = first_line(i8.out), j4 = first_line(n4.out);
      const Json* a = j8.find("quant");
      const Json* b = j4.find("quant");
      CHECK(a->find("type")->as_string() == "int8" && b->find("type")->as_string() == "nf4");
      CHECK(a->find("tensor_count")->as_number() == 2 && a->find("tensors")->items().size() == 2);
      const double e8 = a->find("worst_rel_rms")->as_number(), e4 = b->find("worst_rel_rms")->as_number();
      CHECK(e8 > 0 && e8 < 0.02);  // int8's dynamic map: well under 2%
      CHECK(e4 > 3 * e8 && e4 < 0.2);
    }
    CHECK(error_code(run("inspect " + dir + "/quant.pth --quant fp4")) == "error:E_FLAG_UNSUPPORTED");
    CHECK(error_code(run("inspect " + dir + "/quant.pth --quant none")) == "error:E_FLAG_VALUE");
    CHECK(error_code(run("inspect " + dir + "/adapter.pth --quant int8")) == "error:E_QUANT_NOTHING");
  }

  // make-data: every line twice (2 epochs), tokens + 0 per document, numbers as make_data.py.
  const std::vector<std::string> texts = {"Hello world", "你好，世界", "def f():\n    return 1", "🎉 done"};
  {
    std::ofstream f(dir + "/in.jsonl");
    for (const auto& t : texts) {
      Json line = Json::object();
      line.set("text", t);
      f << line.dump() << "\n  \n";  // blank lines are skipped
    }
  }
  r = run("make-data " + dir + "/in.jsonl " + dir + "/out --ctx_len 4 --epochs 2 --seed 7");
  CHECK(r.code == 0);
  WorldTokenizer tok(default_vocab_path());
  uint64_t expected_tokens = 0;
  for (const auto& t : texts) expected_tokens += 2 * (tok.encode(t).size() + 1);
  if (r.code == 0) {
    Json j = first_line(r.out);
    CHECK(j.find("tokens")->as_number() == static_cast<double>(expected_tokens));
    CHECK(j.find("my_exit_tokens")->as_number() == static_cast<double>(expected_tokens));
    CHECK(j.find("magic_prime")->as_number() == static_cast<double>(magic_prime_for(expected_tokens, 4)));
    CHECK(j.find("documents")->as_number() == 8);
    BinIdxDataset data(dir + "/out");
    std::vector<int> seen(texts.size(), 0);
    for (uint64_t d = 0; d < data.num_documents(); ++d) {
      std::vector<uint32_t> ids;
      data.read_document(d, ids);
      CHECK(!ids.empty() && ids.back() == 0);
      ids.pop_back();
      const std::string text = tok.decode(ids);
      for (size_t t = 0; t < texts.size(); ++t) if (texts[t] == text) ++seen[t];
    }
    for (int s : seen) CHECK(s == 2);
    // The same seed gives the same file; inspect reports the same numbers.
    Result again = run("inspect " + dir + "/out --ctx_len 4");
    CHECK(again.code == 0 && first_line(again.out).find("tokens")->as_number() == static_cast<double>(expected_tokens));
    Result jsonl = run("inspect " + dir + "/in.jsonl");
    CHECK(jsonl.code == 0 && first_line(jsonl.out).find("tokens")->as_number() == static_cast<double>(expected_tokens / 2));
  }

  // make_data.py's positional form: IN N_EPOCH CTX_LEN writes IN's base name in the cwd.
  r = run("make-data in.jsonl 2 4", dir);
  CHECK(r.code == 0 && first_line(r.out).find("tokens")->as_number() == static_cast<double>(expected_tokens));
  CHECK(BinIdxDataset(dir + "/in").num_tokens() == expected_tokens);

  // A whole (tiny) x060 model checked against the model flags: fits, wrong size, wrong version.
  {
    StateDict full6;
    for (const auto& [name, shape] : x060_tensor_shapes(model_config_x060_for_size(2, 128, 300)))
      full6.emplace_back(name, zeros(shape));
    save_pth(dir + "/full6.pth", full6);
    r = run("inspect " + dir + "/full6.pth --my_testing x060 --n_layer 2 --n_embd=128 --vocab_size 300");
    CHECK(r.code == 0 && first_line(r.out).find("check")->as_string() == "ok");
    CHECK(r.code == 0 && first_line(r.out).find("model")->find("dim_ffn")->as_number() == 448);
    CHECK(r.code == 0 && first_line(r.out).find("model")->find("n_layer")->as_number() == 2);
    CHECK(error_code(run("inspect " + dir + "/full6.pth --my_testing x060 --n_layer 24")) == "error:E_MODEL_SHAPE");
    CHECK(error_code(run("inspect " + dir + "/full6.pth --my_testing x070")) == "error:E_MODEL_VERSION");
    CHECK(error_code(run("inspect " + dir + "/model.pth --my_testing x060")) == "error:E_MODEL_VERSION");
    CHECK(error_code(run("inspect " + dir + "/full6.pth --n_layer 2")) == "error:E_FLAG_VALUE");  // sizes need --my_testing
    // without the flags inspect only reports, as before
    CHECK(run("inspect " + dir + "/full6.pth").code == 0);
  }
  CHECK(error_code(run("inspect " + dir + "/missing.pth")) == "error:E_INSPECT_NOT_FOUND");
  CHECK(error_code(run("inspect " + dir + "/in.jsonl.nope")) == "error:E_INSPECT_NOT_FOUND");
  CHECK(error_code(run("make-data " + dir + "/in.jsonl " + dir + "/x")) == "error:E_FLAG_VALUE");  // no --ctx_len
  CHECK(error_code(run("make-data " + dir + "/in.jsonl " + dir + "/x --ctx_lne 4")) == "error:E_FLAG_UNKNOWN");
  CHECK(error_code(run("inspekt x")) == "error:E_CLI_UNKNOWN_COMMAND");
  CHECK(run("inspekt x").out.find("did you mean `rwkv-train inspect`?") != std::string::npos);
  CHECK(error_code(run("--n_layr 3")) == "error:E_FLAG_UNKNOWN");
  CHECK(run("--n_layr 3").out.find("did you mean --n_layer?") != std::string::npos);
  {
    std::ofstream f(dir + "/bad.jsonl");
    f << "{\"text\": \"ok\"}\n{\"text\": oops}\n";
  }
  Result bad = run("make-data " + dir + "/bad.jsonl " + dir + "/bad --ctx_len 4");
  CHECK(error_code(bad) == "error:E_DATA_JSONL");
  CHECK(bad.out.find("bad.jsonl:2") != std::string::npos);

  Result help = run("--help");
  CHECK(help.code == 0 && help.out.find("inspect") != std::string::npos && help.out.find("make-data") != std::string::npos);
  CHECK(help.out.find("--n_layer") != std::string::npos);
  CHECK(run("--version").out.find("rwkv-train ") == 0);
  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("cli_test");
}
