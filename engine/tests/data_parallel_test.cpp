// engine/dist's data-parallel logic on the CPU backend, ranks as threads over the in-process
// stand-in communicator (thread_communicator.h): gradient buckets launched in the same order on
// every rank whatever order the backward finishes them in, and summed; then whole training runs
// through the trainer: 2 ranks x micro_bsz 2 give the losses of 1 rank x micro_bsz 4 step for
// step (same samples, ZeRO-1 slices, L2Wrap spread over the ranks), one rank through it all is
// the plain run bit for bit, a stop that reaches one rank stops both at the same step, only
// rank 0 writes, and the state saved by 2 ranks resumes on 1 rank (the same global batch: the
// uninterrupted run's losses), on 2, and on 3 (another global batch).
#include <unistd.h>

#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "core/backend.h"
#include "core/binidx.h"
#include "core/json.h"
#include "dist/data_parallel.h"
#include "dist/grad_sync.h"
#include "tests/check.h"
#include "tests/counting_data.h"
#include "tests/protocol_check.h"
#include "tests/thread_communicator.h"
#include "tests/tiny_train_options.h"
#include "train/trainer.h"

using namespace rwkv;
using rwkv_test::ThreadCommunicator;
using rwkv_test::ThreadGroup;

namespace {

std::string temp_dir(const std::string& name) {
  std::string d = "/tmp/rwkv_dp_test_" + std::to_string(::getpid()) + "_" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}

// Buckets: three ranks, gradients finished in different orders, summed in place.
void buckets_sum_in_one_order() {
  const std::vector<int64_t> numel = {300, 5, 70, 1000, 2, 64};
  const int W = 3;
  ThreadGroup group(W);
  std::vector<std::vector<std::vector<float>>> grads(W);
  std::vector<int> launched(W);
  std::vector<std::thread> ranks;
  std::mutex m;
  std::string failure;
  for (int r = 0; r < W; ++r) {
    grads[size_t(r)].resize(numel.size());
    for (size_t t = 0; t < numel.size(); ++t)
      for (int64_t i = 0; i < numel[t]; ++i) grads[size_t(r)][t].push_back(float((r + 1) * 1000 + t * 10 + i % 7));
    ranks.emplace_back([&, r] {
      try {
        ThreadCommunicator comm(group, r);
        TrainableView view;
        for (size_t t = 0; t < numel.size(); ++t) {
          view.grad.push_back(grads[size_t(r)][t].data());
          view.numel.push_back(numel[t]);
        }
        GradSync sync(bucket_plan(numel, 1200, 400), view, comm);
        sync.arm();
        // rank 0 finishes them as a backward does (last first); the others in other orders
        std::vector<int> order = {5, 4, 3, 2, 1, 0};
        if (r == 1) order = {0, 1, 2, 3, 4, 5};
        if (r == 2) order = {3, 5, 0, 4, 2, 1};
        for (int t : order) sync.grad_ready(t);
        sync.finish();
        launched[size_t(r)] = comm.all_reduces;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        failure = e.what();
        group.abort();
      }
    });
  }
  for (auto& t : ranks) t.join();
  CHECK(failure.empty());
  const BucketPlan plan = bucket_plan(numel, 1200, 400);
  CHECK(plan.buckets.size() >= 3);
  for (int r = 0; r < W; ++r) CHECK(launched[size_t(r)] == int(plan.buckets.size()));
  for (int r = 0; r < W; ++r)
    for (size_t t = 0; t < numel.size(); ++t)
      for (int64_t i = 0; i < numel[t]; ++i) {
        const float want = float(6000 + 3 * (t * 10 + i % 7));  // (1 + 2 + 3) * 1000 + 3 x the rest
        if (grads[size_t(r)][t][size_t(i)] != want) { CHECK(grads[size_t(r)][t][size_t(i)] == want); return; }
      }
}

// A run's lines, per rank, and its outcome.
struct RankRun {
  std::vector<Json> lines;
  int code = -1;
};

TrainOptions options(const std::string& dir, const std::string& data, int micro_bsz, int epoch_steps) {
  TrainOptions o = rwkv_test::tiny_train_options(dir, data);
  o.micro_bsz = micro_bsz;
  o.epoch_steps = epoch_steps;
  o.epoch_count = 2;
  o.epoch_save = 1;
  o.threads = 1;
  o.weight_decay = 0.01f;
  BinIdxDataset ds(data);
  o.magic_prime = int64_t(magic_prime_for(ds.num_tokens(), o.ctx_len));
  return o;
}

// Runs `world` ranks as threads. stop_rank0_at: rank 0 alone is asked to stop after that step.
std::vector<RankRun> run_ranks_in_threads(const TrainOptions& o, int world, int64_t stop_rank0_at = -1) {
  make_project_dir(o.proj_dir);
  ThreadGroup group(world);
  std::vector<RankRun> runs(static_cast<size_t>(world));
  std::vector<std::atomic<int>> stops(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      DataParallel dp(comm, 1, world);
      RunProtocol proto(r == 0 ? o.proj_dir + "/metrics.jsonl" : "");
      proto.set_errors_only(r != 0);
      proto.set_sink([&, r](const std::string& line) {
        runs[size_t(r)].lines.push_back(Json::parse(line));
        const Json& j = runs[size_t(r)].lines.back();
        if (r == 0 && stop_rank0_at > 0 && j.find("event")->as_string() == "step" &&
            int64_t(j.find("step")->as_number()) == stop_rank0_at)
          stops[0].store(SIGTERM);
      });
      TrainHooks hooks;
      hooks.progress_bar = false;
      hooks.dp = &dp;
      hooks.stop_signal = &stops[size_t(r)];
      runs[size_t(r)].code = run_training(o, proto, hooks);
      if (runs[size_t(r)].code != 0) group.abort();
    });
  }
  for (auto& t : threads) t.join();
  return runs;
}

RankRun run_alone(const TrainOptions& o) {
  RankRun run;
  make_project_dir(o.proj_dir);
  RunProtocol proto(o.proj_dir + "/metrics.jsonl");
  proto.set_sink([&](const std::string& line) { run.lines.push_back(Json::parse(line)); });
  TrainHooks hooks;
  hooks.progress_bar = false;
  run.code = run_training(o, proto, hooks);
  return run;
}

std::map<int64_t, double> losses(const RankRun& r) {
  std::map<int64_t, double> out;
  for (const Json& j : r.lines)
    if (j.find("event")->as_string() == "step") out[int64_t(j.find("step")->as_number())] = j.find("loss")->as_number();
  return out;
}

const Json* find_event(const RankRun& r, const std::string& event) {
  for (const Json& j : r.lines)
    if (j.find("event")->as_string() == event) return &j;
  return nullptr;
}

void show_errors(const RankRun& r) {
  for (const Json& j : r.lines)
    if (j.find("event")->as_string() == "error") std::fprintf(stderr, "  %s\n", j.dump().c_str());
}

void two_ranks_train_as_one() {
  const std::string dir = temp_dir("same");
  const std::string data = rwkv_test::write_counting_data(dir, 64);
  // one rank, micro_bsz 4, 12 steps an epoch
  TrainOptions one = options(dir + "/one", data, 4, 12);
  const RankRun alone = run_alone(one);
  CHECK(alone.code == 0);
  // two ranks, micro_bsz 2: the same samples per step (RWKV-LM's rule for the magic_prime sampler)
  TrainOptions two = options(dir + "/two", data, 2, 12);
  const std::vector<RankRun> ranks = run_ranks_in_threads(two, 2);
  CHECK(ranks[0].code == 0 && ranks[1].code == 0);
  show_errors(ranks[0]);
  show_errors(ranks[1]);
  const auto a = losses(alone), b = losses(ranks[0]);
  CHECK(a.size() == 24 && b.size() == 24);
  double worst = 0;
  for (const auto& [step, loss] : a)
    if (b.count(step)) worst = std::max(worst, std::fabs(loss - b.at(step)) / std::fabs(loss));
  std::fprintf(stderr, "2 ranks x 2 vs 1 rank x 4: worst relative loss difference %.3g over %zu steps\n", worst, a.size());
  CHECK(worst < 2e-5);
  CHECK(a.rbegin()->second < a.begin()->second * 0.8);  // it trained
  // the start event tells the dashboard who trains; the steps carry every rank's memory
  const Json* start = find_event(ranks[0], "start");
  CHECK(start && start->find("world_size") && start->find("world_size")->as_number() == 2);
  CHECK(start && start->find("distributed") && start->find("distributed")->find("global_batch")->as_number() == 4);
  const Json* step = find_event(ranks[0], "step");
  CHECK(step && step->find("ranks") && step->find("ranks")->items().size() == 2);
  CHECK(step && step->find("tokens")->as_number() == 4 * 16);
  for (const Json& j : ranks[0].lines) CHECK_PROTOCOL_EVENT(j);
  // ZeRO-1's memory: each rank holds the AdamW moments of its half only, 8 bytes an element
  {
    const int64_t trainable = int64_t(start->find("params")->find("trainable")->as_number());
    const int64_t shard = (trainable / 2 + 127) / 128 * 128;  // zero1_plan's equal share
    const Json* alone_step = find_event(alone, "step");
    const double one_used = alone_step->find("gpu_mem_used_bytes")->as_number();
    const auto& rs = step->find("ranks")->items();
    for (const Json& r : rs) CHECK(one_used - r.find("gpu_mem_used_bytes")->as_number() == double((trainable - shard) * 8));
    std::fprintf(stderr, "AdamW state per rank: %lld of %lld elements\n", (long long)shard, (long long)trainable);
  }
  // one rank alone writes no world size: the single-GPU stream is as it was
  CHECK(find_event(alone, "start") && !find_event(alone, "start")->find("world_size"));
  CHECK(find_event(alone, "step") && !find_event(alone, "step")->find("ranks"));
  // rank 1 said nothing (it has no error) and wrote nothing
  CHECK(ranks[1].lines.empty());
  // the checkpoints are the single run's, written once
  const StateDict w1 = load_pth(one.proj_dir + "/rwkv-1.pth"), w2 = load_pth(two.proj_dir + "/rwkv-1.pth");
  CHECK(w1.size() == w2.size());
  double wdiff = 0;
  for (size_t i = 0; i < w1.size() && i < w2.size(); ++i) {
    const auto x = w1[i].second.to_f32(), y = w2[i].second.to_f32();
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) wdiff = std::max(wdiff, double(std::fabs(x[k] - y[k])));
  }
  CHECK(wdiff <= 1.0 / 128);  // bf16 files: at most a rounding step apart
  std::system(("rm -rf '" + dir + "'").c_str());
}

// A world of one through the whole data-parallel path (buckets, ZeRO-1 slices, broadcasts)
// changes nothing: the losses equal the plain run's bit for bit (what the GPU check repeats
// through NCCL with RWKV_DIST_NCCL_ONE=1).
void one_rank_is_bitwise_the_plain_run() {
  const std::string dir = temp_dir("bitwise");
  const std::string data = rwkv_test::write_counting_data(dir, 64);
  const RankRun plain = run_alone(options(dir + "/plain", data, 4, 12));
  const std::vector<RankRun> one = run_ranks_in_threads(options(dir + "/dp", data, 4, 12), 1);
  CHECK(plain.code == 0 && one[0].code == 0);
  const auto a = losses(plain), b = losses(one[0]);
  CHECK(a.size() == 24 && a == b);
  std::system(("rm -rf '" + dir + "'").c_str());
}

void stop_and_resume_with_other_world_sizes() {
  const std::string dir = temp_dir("resume");
  const std::string data = rwkv_test::write_counting_data(dir, 64);
  // the uninterrupted reference: one rank, micro_bsz 4... and the same run on 2 ranks x 2
  const std::vector<RankRun> full = run_ranks_in_threads(options(dir + "/full", data, 2, 12), 2);
  const auto want = losses(full[0]);
  CHECK(want.size() == 24);
  // 2 ranks, a stop that reaches rank 0 only: both stop after step 7, the state is saved once
  TrainOptions o = options(dir + "/a", data, 2, 12);
  const std::vector<RankRun> first = run_ranks_in_threads(o, 2, 7);
  CHECK(first[0].code == 0 && first[1].code == 0);
  const Json* end = find_event(first[0], "end");
  CHECK(end && end->find("status")->as_string() == "stopped" && end->find("steps")->as_number() == 7);
  // resume on one rank with micro_bsz 4 (the same global batch): steps 8.. as the full run
  TrainOptions single = o;
  single.micro_bsz = 4;
  single.epoch_steps = 12;  // RWKV-LM's rule: epoch_steps x real_bsz samples, as before
  // one rank reads the resume file written by two ranks (meta.world_size 2)
  {
    const std::string copy = dir + "/b";
    std::system(("cp -r '" + dir + "/a' '" + copy + "'").c_str());
    TrainOptions s = single;
    s.proj_dir = copy + "/out";
    const RankRun resumed = run_alone(s);
    CHECK(resumed.code == 0);
    show_errors(resumed);
    const auto got = losses(resumed);
    CHECK(!got.empty() && got.begin()->first == 8 && got.size() == 17);
    double worst = 0;
    for (const auto& [step, loss] : got) if (want.count(step)) worst = std::max(worst, std::fabs(loss - want.at(step)) / loss);
    std::fprintf(stderr, "resumed on 1 rank: worst relative loss difference %.3g\n", worst);
    CHECK(worst < 2e-5);
    bool warned = false;
    for (const Json& j : resumed.lines)
      if (j.find("event")->as_string() == "warning" && j.find("code")->as_string() == "W_RESUME_WORLD_SIZE") warned = true;
    CHECK(warned);
  }
  // on 3 ranks x micro_bsz 2: another global batch, the ZeRO-1 state re-sliced three ways
  {
    const std::string copy = dir + "/c";
    std::system(("cp -r '" + dir + "/a' '" + copy + "'").c_str());
    TrainOptions t = o;
    t.proj_dir = copy + "/out";
    const std::vector<RankRun> three = run_ranks_in_threads(t, 3);
    CHECK(three[0].code == 0 && three[1].code == 0 && three[2].code == 0);
    const auto got = losses(three[0]);
    CHECK(!got.empty() && got.begin()->first == 8);
    bool warned = false;
    for (const Json& j : three[0].lines)
      if (j.find("event")->as_string() == "warning" && j.find("code")->as_string() == "W_RESUME_WORLD_SIZE")
        warned = j.find("message")->as_string().find("another global batch") != std::string::npos;
    CHECK(warned);
    for (const auto& [step, loss] : got) CHECK(std::isfinite(loss) && loss < 4.0);  // it goes on training
  }
  // and on the same 2 ranks: no warning, identical continuation
  {
    const std::vector<RankRun> again = run_ranks_in_threads(o, 2);
    CHECK(again[0].code == 0);
    const auto got = losses(again[0]);
    CHECK(!got.empty() && got.begin()->first == 8);
    for (const auto& [step, loss] : got) if (want.count(step)) CHECK_CLOSE(loss, want.at(step), 1e-6);
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace

int main() {
  buckets_sum_in_one_order();
  two_ranks_train_as_one();
  one_rank_is_bitwise_the_plain_run();
  stop_and_resume_with_other_world_sizes();
  return rwkv_test::summary("data_parallel_test");
}
