// The rwkv-train CLI as the extension runs it: a real SIGTERM mid-run then a resume gives the
// same losses, step for step, as an uninterrupted run; bad inputs end in an `error` event and a
// non-zero exit; `merge` of a --merge 0 adapter reproduces the --merge 1 checkpoint.
// The binary: $RWKV_TRAIN_BIN, else ../../dist/bin/rwkv-train (CTest runs in engine/tests).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/binidx.h"
#include "core/json.h"
#include "core/pth.h"
#include "tests/check.h"
#include "tests/protocol_check.h"

using namespace rwkv;

static std::string engine_bin() {
  const char* env = std::getenv("RWKV_TRAIN_BIN");
  return env ? env : "../../dist/bin/rwkv-train";
}

struct CliResult { int code = -1; std::vector<Json> events; };

// Runs rwkv-train with `args`; sends SIGTERM once `term_after_steps` step events were read.
// fsize_limit > 0: the run's RLIMIT_FSIZE (a disk that fills up mid-checkpoint).
static CliResult run_cli(const std::vector<std::string>& args, int term_after_steps = 0, rlim_t fsize_limit = 0) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (FILE* devnull = std::fopen("/dev/null", "w")) dup2(fileno(devnull), 2);
    std::vector<char*> argv;
    const std::string bin = engine_bin();
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    setenv("OMP_NUM_THREADS", "1", 1);
    if (fsize_limit > 0) {
      const struct rlimit lim = {fsize_limit, fsize_limit};
      setrlimit(RLIMIT_FSIZE, &lim);
    }
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  CliResult r;
  FILE* out = fdopen(fds[0], "r");
  char buf[1 << 16];
  int steps = 0;
  while (std::fgets(buf, sizeof buf, out)) {
    Json j;
    try { j = Json::parse(buf); } catch (...) { continue; }
    const Json* ev = j.kind() == Json::Kind::Object ? j.find("event") : nullptr;
    if (!ev) continue;  // subcommands print a plain JSON result
    CHECK_PROTOCOL_EVENT(j);  // the CLI's stdout: core/protocol.schema.json, nothing more
    r.events.push_back(j);
    if (ev->as_string() == "step" && ++steps == term_after_steps) kill(pid, SIGTERM);
  }
  std::fclose(out);
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

static std::string last_of(const CliResult& r, const char* event, const char* field) {
  std::string v;
  for (const auto& e : r.events)
    if (e.find("event")->as_string() == event)
      if (const Json* f = e.find(field)) v = f->kind() == Json::Kind::String ? f->as_string() : f->dump();
  return v;
}

static std::vector<double> losses_of(const std::string& metrics) {
  std::ifstream in(metrics);
  std::string line;
  std::vector<double> l;
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    if (j.find("event")->as_string() != "step") continue;
    const size_t s = size_t(j.find("step")->as_number());
    if (l.size() < s) l.resize(s, -1);
    l[s - 1] = j.find("loss")->as_number();
  }
  return l;
}

int main() {
  struct stat st;
  if (::stat(engine_bin().c_str(), &st) != 0) {
    std::fprintf(stderr, "cli_train_test: %s not found (build rwkv-train or set RWKV_TRAIN_BIN)\n", engine_bin().c_str());
    return 1;
  }
  const std::string dir = "/tmp/rwkv_cli_train_test_" + std::to_string(getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  std::mt19937 gen(5);
  std::vector<std::vector<uint32_t>> docs;
  for (int d = 0; d < 100; ++d) {
    std::vector<uint32_t> doc;
    uint32_t cur = gen() % 23, stride = gen() % 2 ? 1 : 3;
    for (int t = 0; t < 40; ++t) { doc.push_back(1 + cur); cur = (cur + stride) % 23; }
    docs.push_back(doc);
  }
  write_binidx(dir + "/data", docs);
  const CliResult init = run_cli({"init", dir + "/base.pth", "--n_layer", "2", "--n_embd", "64", "--vocab_size", "24",
                                  "--dtype", "fp32"});
  CHECK(init.code == 0);
  auto train_args = [&](const std::string& proj, const std::string& merge) {
    return std::vector<std::string>{"--load_model", dir + "/base.pth", "--proj_dir", proj, "--data_file", dir + "/data",
                                    "--data_type", "binidx", "--vocab_size", "24", "--n_layer", "2", "--n_embd", "64",
                                    "--ctx_len", "16", "--micro_bsz", "2", "--epoch_steps", "10",
                                    "--epoch_count", "2", "--epoch_save", "1", "--lr_init", "2e-3", "--lr_final", "5e-4",
                                    "--accelerator", "cpu", "--peft", "lora", "--peft_config",
                                    "{\"r\":4,\"lora_alpha\":8,\"lora_dropout\":0.05}", "--merge", merge,
                                    "--accumulate_grad_batches", "2", "--random_seed", "3"};
  };
  // 1. SIGTERM, resume, compare with an uninterrupted run
  const CliResult whole = run_cli(train_args(dir + "/whole", "1"));
  CHECK(whole.code == 0);
  CHECK(last_of(whole, "end", "status") == "completed");
  const CliResult stopped = run_cli(train_args(dir + "/resumed", "1"), 3);
  CHECK(stopped.code == 0);
  CHECK(last_of(stopped, "end", "status") == "stopped");
  const CliResult resumed = run_cli(train_args(dir + "/resumed", "1"));
  CHECK(resumed.code == 0);
  CHECK(last_of(resumed, "end", "status") == "completed");
  CHECK(std::atoi(last_of(resumed, "start", "resumed_from_step").c_str()) > 0);
  const auto a = losses_of(dir + "/whole/metrics.jsonl"), b = losses_of(dir + "/resumed/metrics.jsonl");
  // the newest RWKV-PEFT's epochs (--peft_config): one pass over the first 10 documents, 5
  // micro-batches of 2, optimizer steps after the 2nd, 4th and the last: 3 an epoch
  CHECK(a.size() == 6);
  CHECK(a == b);
  auto has_warning = [](const CliResult& r, const std::string& code) {
    for (const auto& e : r.events)
      if (e.find("event")->as_string() == "warning" && e.find("code") && e.find("code")->as_string() == code) return true;
    return false;
  };
  CHECK(!has_warning(resumed, "W_RESUME_DATA_CHANGED") && !has_warning(resumed, "W_RESUME_BASE_CHANGED"));
  {  // 1b. the dataset changes under a stopped run: the resume says so
    std::vector<std::vector<uint32_t>> more = docs;
    more.push_back({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18});
    write_binidx(dir + "/data_changed", docs);
    auto args = train_args(dir + "/changed", "1");
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--data_file") args[i + 1] = dir + "/data_changed";
    CHECK(run_cli(args, 3).code == 0);
    write_binidx(dir + "/data_changed", more);
    const CliResult again = run_cli(args);
    CHECK(again.code == 0 && last_of(again, "end", "status") == "completed");
    CHECK(has_warning(again, "W_RESUME_DATA_CHANGED"));
  }
  // 2. merge: the --merge 0 adapter folded into the base equals the --merge 1 checkpoint (bf16)
  const CliResult adapter_run = run_cli(train_args(dir + "/adapter", "0"));
  CHECK(adapter_run.code == 0);
  const CliResult merged = run_cli({"merge", "--base", dir + "/base.pth", "--adapter", dir + "/adapter/rwkv-1.pth",
                                    "--out", dir + "/merged.pth", "--lora_alpha", "8"});
  CHECK(merged.code == 0);
  {
    const StateDict m1 = load_pth(dir + "/whole/rwkv-1.pth"), m2 = load_pth(dir + "/merged.pth");
    CHECK(m1.size() == m2.size());
    double worst = 0;
    for (size_t i = 0; i < std::min(m1.size(), m2.size()); ++i) {
      CHECK(m1[i].first == m2[i].first);
      const auto x = m1[i].second.to_f32(), y = m2[i].second.to_f32();
      for (size_t k = 0; k < std::min(x.size(), y.size()); ++k)
        worst = std::fmax(worst, std::fabs(x[k] - y[k]) / (std::fabs(x[k]) + 1e-2));
    }
    std::fprintf(stderr, "merge vs --merge 1: worst relative difference %.2e (bf16 adapter rounding)\n", worst);
    CHECK(worst < 2e-2);
  }
  // 3. bad inputs: an error event with a code, and a non-zero exit
  auto expect_error = [&](std::vector<std::string> args, const std::string& code) {
    const CliResult r = run_cli(args);
    if (r.code == 0 || last_of(r, "error", "code") != code)
      rwkv_test::fail(__FILE__, __LINE__, "expected " + code + ", got exit " + std::to_string(r.code) + " code '" +
                                              last_of(r, "error", "code") + "'");
  };
  auto with = [&](std::vector<std::string> args, const std::string& flag, const std::string& value) {
    for (size_t i = 0; i + 1 < args.size(); ++i) if (args[i] == flag) { args[i + 1] = value; return args; }
    args.push_back(flag);
    args.push_back(value);
    return args;
  };
  const auto good = train_args(dir + "/bad", "1");
  expect_error(with(good, "--data_file", dir + "/missing"), "E_BINIDX_NO_IDX");
  expect_error(with(good, "--n_embd", "128"), "E_MODEL_SHAPE");
  expect_error(with(good, "--peft_config", "{\"r\":0}"), "E_PEFT_CONFIG");
  expect_error(with(good, "--lr_schedule", "linear"), "E_FLAG_VALUE");
  {
    write_binidx(dir + "/big_ids", {{1, 2, 3, 30, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}});
    expect_error(with(good, "--data_file", dir + "/big_ids"), "E_DATA_TOKEN");
  }
  {
    std::ifstream src(dir + "/base.pth", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(src)), {});
    std::ofstream(dir + "/truncated.pth", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const CliResult r = run_cli(with(good, "--load_model", dir + "/truncated.pth"));
    CHECK(r.code != 0);
    CHECK(last_of(r, "error", "code").rfind("E_PTH", 0) == 0);
  }
  {  // infctx: on the CPU only; not with sft batches or state tuning (RWKV-PEFT runs those apart)
    auto infctx = with(with(good, "--train_type", "infctx"), "--chunk_ctx", "8");
    expect_error(with(infctx, "--accelerator", "gpu"), "E_CUDA_UNSUPPORTED");
    expect_error(with(infctx, "--data_type", "sft"), "E_FLAG_UNSUPPORTED");
    expect_error(with(infctx, "--peft", "state"), "E_FLAG_UNSUPPORTED");
    expect_error(with(infctx, "--chunk_ctx", "0"), "E_FLAG_VALUE");
  }
#ifndef RWKV_HAVE_CUDA
  expect_error(with(good, "--accelerator", "gpu"), "E_NO_CUDA");
#endif
  {  // 4. the disk fills up while a checkpoint is written: an error event with a hint, the
     // checkpoint before it intact, no temporary file left, no signal death (SIGXFSZ)
    struct stat base;
    CHECK(::stat((dir + "/base.pth").c_str(), &base) == 0);
    const std::vector<std::string> full = {
        "--load_model", dir + "/base.pth", "--proj_dir", dir + "/full_disk", "--data_file", dir + "/data",
        "--data_type", "binidx", "--vocab_size", "24", "--n_layer", "2", "--n_embd", "64", "--ctx_len", "16",
        "--micro_bsz", "2", "--epoch_steps", "4", "--epoch_count", "2", "--epoch_save", "1", "--lr_init", "1e-3",
        "--lr_final", "1e-3", "--accelerator", "cpu", "--random_seed", "3"};
    // room for the fp32 model checkpoint (rwkv-0.pth), not for the resume file (weights + Adam)
    const CliResult r = run_cli(full, 0, rlim_t(base.st_size) * 3 / 2);
    CHECK(r.code != 0 && r.code < 128);
    CHECK(last_of(r, "error", "code") == "E_IO_DISK_FULL");
    CHECK(!last_of(r, "error", "hint").empty());
    CHECK(last_of(r, "end", "status") == "failed");
    CHECK(load_pth(dir + "/full_disk/rwkv-0.pth").size() > 0);
    CHECK(std::system(("ls " + dir + "/full_disk | grep -q tmp-").c_str()) != 0);
  }
  {  // 6. rwkv-train probe: timed steps, a probe event (schema-checked by run_cli), no file written
    std::vector<std::string> args = {"probe", "--probe_steps", "4"};
    const auto flags = train_args(dir + "/probe_out", "0");
    args.insert(args.end(), flags.begin(), flags.end());
    const CliResult r = run_cli(args);
    CHECK(r.code == 0);
    CHECK(!r.events.empty() && r.events.back().find("event")->as_string() == "probe");
    if (!r.events.empty() && r.events.back().find("event")->as_string() == "probe") {
      const Json& p = r.events.back();
      CHECK(p.find("tokens_per_s")->as_number() > 0 && p.find("steps")->as_number() == 4);
      CHECK(p.find("samples")->items().size() == 2);  // 4 steps, the first 2 warm up
      CHECK(p.find("config")->find("peft")->as_string() == "lora" && p.find("config")->find("micro_bsz")->as_number() == 2);
    }
    int checkpoints = 0;
    for (const auto& e : r.events) checkpoints += e.find("event")->as_string() == "checkpoint";
    CHECK(checkpoints == 0);
    CHECK(::stat((dir + "/probe_out").c_str(), &st) != 0);  // the script's proj_dir is never made
    const CliResult bad = run_cli({"probe", "--probe_steps", "1", "--n_layer", "2"});
    CHECK(bad.code != 0 && last_of(bad, "error", "code") == "E_FLAG_VALUE");
  }
  {  // 7. the bad-step guard's options come before the train.py flags
    std::vector<std::string> args = {"--guard", "off", "--guard_grad_spike", "20", "--guard_max_skips", "3"};
    const auto flags = train_args(dir + "/guarded", "0");
    args.insert(args.end(), flags.begin(), flags.end());
    const CliResult r = run_cli(args);
    CHECK(r.code == 0 && last_of(r, "end", "status") == "completed");
    const CliResult bad = run_cli({"--guard", "maybe", "--n_layer", "2"});
    CHECK(bad.code != 0 && last_of(bad, "error", "code") == "E_FLAG_VALUE");
  }
  if (!rwkv_test::failures()) std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("cli_train_test");
}
