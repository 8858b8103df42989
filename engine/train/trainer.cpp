#include "train/trainer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/backend.h"
#include "core/batch_passes.h"
#include "core/errors.h"
#include "core/gpu_switches.h"
#include "core/paths.h"
#include "core/gpus.h"
#include "core/model_shapes.h"
#include "core/model_version.h"
#include "core/planner.h"
#include "core/pth.h"
#include "dist/data_parallel.h"
#include "dist/shard_plan.h"
#include "train/adapter_files.h"
#include "train/adapter_start.h"
#include "train/data_source.h"
#include "train/epoch_plan.h"
#include "train/gpu_support.h"
#include "train/infctx.h"
#include "train/init_weights.h"
#include "train/lm_pretrain.h"
#include "train/lr_schedule.h"
#include "train/progress_bar.h"

namespace rwkv {

std::string resume_path(const std::string& proj_dir) { return proj_dir + "/rwkv-resume.pth"; }

namespace {

// The plan of this run as the engine will run it: the flags, plus the backend's pass size
// (RWKV_PASS_TOKENS, which no script carries).
PlanInput engine_plan_input(const TrainOptions& o) {
  PlanInput in = plan_input_from_flags(o.resolved);
  in.pass_tokens = pass_tokens_from_env();
  return in;
}

// Size of a file in bytes, -1 when it cannot be read (a deleted base model).
int64_t file_bytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : -1;
}

// The `device` object of the start event: {backend, name, total_memory_bytes}. The CUDA
// backend names itself "cuda:N <GPU name>"; its capacity comes from NVML (core/gpus.h, no CUDA
// needed), matched by name since NVML and CUDA may number GPUs differently. The CPU backend's
// capacity is the machine's physical memory.
Json device_json(const std::string& backend_name) {
  Json d = Json::object();
  const bool cuda = backend_name.rfind("cuda", 0) == 0;
  d.set("backend", cuda ? "cuda" : "cpu");
  if (cuda) {
    const size_t space = backend_name.find(' ');
    const std::string gpu = space == std::string::npos ? backend_name : backend_name.substr(space + 1);
    d.set("name", gpu);
    for (const GpuInfo& g : list_gpus().gpus)
      if (g.name == gpu) { d.set("total_memory_bytes", g.total_bytes); break; }
  } else {
    d.set("name", "CPU");
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) d.set("total_memory_bytes", uint64_t(pages) * uint64_t(page));
  }
  return d;
}

HostTensor i64_scalar(int64_t v) {
  HostTensor t;
  t.dtype = DType::I64;
  t.bytes.resize(8);
  std::memcpy(t.bytes.data(), &v, 8);
  return t;
}

int64_t read_i64(const HostTensor& t) {
  if (t.dtype != DType::I64 || t.bytes.size() != 8)
    throw EngineError("E_RESUME_CORRUPT", "resume file has a malformed position field",
                      "delete rwkv-resume.pth from proj_dir to start over");
  int64_t v;
  std::memcpy(&v, t.bytes.data(), 8);
  return v;
}

}  // namespace

void make_project_dir(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
        throw EngineError("E_IO_MKDIR", "cannot create folder " + cur + ": " + std::strerror(errno),
                          "check --proj_dir and its permissions");
    }
    if (i < path.size()) cur += path[i];
  }
}

namespace {


uint64_t file_size(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// Checkpoints in bf16, as RWKV-PEFT writes them from its bf16 model.
StateDict to_bf16(const StateDict& in) {
  StateDict out;
  for (const auto& [n, t] : in)
    out.push_back({n, t.dtype == DType::F32 ? HostTensor::from_f32(t.to_f32(), t.shape, DType::BF16) : t});
  return out;
}

struct Position {
  int64_t global_step = 0;  // optimizer steps done in this run's count (excluding epoch_begin)
  int64_t epoch = 0;        // 0-based within this run
  int64_t micro = 0;        // next micro-batch within the epoch
};

class Trainer {
 public:
  Trainer(const TrainOptions& o, RunProtocol& p, const TrainHooks& h)
      : o_(o), proto_(p), hooks_(h), resume_file_(h.allow_resume && !o.continue_newest) {}

  int run() {
    make_project_dir(o_.proj_dir);
    for (const auto& f : o_.ignored_flags)
      proto_.warning("W_FLAG_IGNORED", "--" + f + " " + ignored_reason(f) + "; ignored");
    for (const auto& [code, message] : o_.warnings) proto_.warning(code, message);
    if (o_.lm_v7 && o_.my_exit_tokens == 0)
      proto_.warning("W_LM_NO_EXIT", "--my_exit_tokens 0: RWKV-LM's pretraining runs until it is stopped");
    const int64_t pool_limit = epoch_pool_limit(o_);
    if (o_.init_only()) return prepare(pool_limit);
    plan_shards();
    if (auto refusal = cuda_refusal(o_)) throw *refusal;  // before reading any model or data
    for (const auto& [code, message] : gpu_warnings(o_)) proto_.warning(code, message);
    open_backend();
    data_ = open_data_source(o_, world() > 1 ? shard_.epoch_samples : pool_limit);
    plan_ = epoch_plan(o_, int64_t(data_->pool_documents()));
    if (world() > 1 && plan_.one_pass)
      throw EngineError("E_FLAG_UNSUPPORTED",
                        "the newest RWKV-PEFT's one-pass epochs (--peft_config) are not yet shared among several GPUs",
                        "train on one GPU, or write the script in the older form (--lora_config ...)");
    // RWKV-PEFT's binidx head(epoch_steps) asserts the data has that many documents; its jsonl
    // takes what there is. Both train one pass over what the pool holds here.
    if (plan_.one_pass && o_.data_type == "binidx" && plan_.pool < o_.epoch_steps)
      proto_.warning("W_DATA_FEWER_DOCUMENTS", "--epoch_steps " + std::to_string(o_.epoch_steps) + " but the data has " +
                                                   std::to_string(plan_.pool) + " documents: an epoch is one pass over them (" +
                                                   std::to_string(plan_.micro_batches) + " micro-batches; RWKV-PEFT stops here)");
    if (o_.lm_v7) {
      rwkv_lm_param_groups(backend_->trainable_params(), o_.weight_decay, groups_);
      if (backend_->device_name().rfind("cuda", 0) == 0 && !cuda_lr_groups_enabled())
        proto_.warning("W_LM_GROUPS_GPU", "RWKV-LM's 2x lr on att.w0 and its weight-decay group (>=2-D .weight "
                                          "tensors) are not yet applied by the CUDA backend");
    }
    // which trainer's schedule: RWKV-LM's flags, the newest RWKV-PEFT's --peft_config, else the older form
    sched_.form = o_.lm_v7 ? LrForm::RwkvLm : o_.peft_new_form ? LrForm::Peft : LrForm::PeftLegacy;
    sched_.kind = o_.lr_schedule;
    sched_.lr_init = o_.lr_init;
    sched_.lr_final = o_.lr_final;
    sched_.warmup_steps = o_.warmup_steps;
    // one rank: the epoch plan's steps; several: shard_.micro_batches micro-batches per rank
    // (RWKV-PEFT's DistributedSampler shares the epoch among the ranks, its schedule divides too)
    planned_steps_ = world() > 1 ? epoch_micro() * o_.epoch_count / o_.accumulate_grad_batches
                                 : run_length(o_, plan_).total_steps;
    sched_.total_steps = planned_steps_;
    // the newest RWKV-PEFT's cosine runs over num_training_batches * epoch_count: micro-batches,
    // while its step (global_step) counts optimizer steps
    if (sched_.form == LrForm::Peft) sched_.total_steps = epoch_micro() * o_.epoch_count;
    sched_.my_exit_tokens = o_.my_exit_tokens;
    sched_.tokens_per_step = int64_t(o_.ctx_len) * o_.micro_bsz * o_.accumulate_grad_batches * world();
    // RWKV-LM counts real_step * ctx_len * real_bsz tokens, whatever the accumulation
    if (o_.lm_v7) sched_.tokens_per_step = int64_t(o_.ctx_len) * o_.real_bsz();
    if (o_.lm_v7 && o_.my_exit_tokens > 0) sched_.total_steps = planned_steps_;  // the cosine over my_exit_tokens
    // --my_pile_stage: the older RWKV-PEFT's cosine runs over (epoch_steps * epoch_count) // devices
    // // accumulation with its epoch_count = magic_prime / 40320 (0: a constant lr_init)
    if (o_.schedule_epoch_count >= 0 && sched_.form == LrForm::PeftLegacy)
      sched_.total_steps = o_.epoch_steps * o_.schedule_epoch_count / o_.devices / o_.accumulate_grad_batches;
    if (resume_file_ && path_exists(resume_path(o_.proj_dir))) load_resume();
    emit_start();
    return loop();
  }

 private:
  int world() const { return hooks_.dp ? hooks_.dp->world_size() : 1; }
  // Only one process writes files and speaks for the run: rank 0 (or the only one).
  bool writer() const { return !hooks_.dp || hooks_.dp->rank() == 0; }
  // One rank: the epoch plan (train/epoch_plan.h). Several: this rank's shard of a classic
  // epoch (dist/shard_plan.h; one-pass epochs are refused with several ranks).
  int64_t epoch_micro() const { return world() > 1 ? shard_.micro_batches : plan_.micro_batches; }
  int micro_rows(int64_t micro) const { return world() > 1 ? o_.micro_bsz : int(plan_.rows(micro)); }
  bool ends_step(int64_t micro) const {
    return world() > 1 ? (micro + 1) % o_.accumulate_grad_batches == 0 : plan_.steps_after(micro);
  }
  int64_t sample_at(int64_t micro, int row) const {
    return world() > 1 ? shard_.sample_index(micro, row) : micro * o_.micro_bsz + row;
  }

  // Which samples this rank reads (dist/shard_plan.h): RWKV-LM's dataset formula for its
  // magic_prime sampler, RWKV-PEFT's DistributedSampler for the document samplers. One rank:
  // micro x micro_bsz + row, as always.
  void plan_shards() {
    const ShardRule rule = uses_stream_sampler(o_) ? ShardRule::RankInterleaved : ShardRule::DistributedSampler;
    shard_ = shard_plan(rule, o_.epoch_steps, o_.micro_bsz, world(), hooks_.dp ? hooks_.dp->rank() : 0);
    // Several ranks step their optimizers together: every rank's epoch must end on a step. One
    // rank follows its epoch plan (train/epoch_plan.h), which steps on an epoch's last
    // micro-batch as the newest RWKV-PEFT does.
    if (world() > 1 && shard_.micro_batches % o_.accumulate_grad_batches != 0)
      throw EngineError("E_FLAG_VALUE",
                        "each of the " + std::to_string(world()) + " ranks runs " + std::to_string(shard_.micro_batches) +
                            " micro-batches an epoch, not a multiple of --accumulate_grad_batches " +
                            std::to_string(o_.accumulate_grad_batches),
                        "make --epoch_steps a multiple of devices x num_nodes x accumulate_grad_batches", "epoch_steps");
  }

  // What the ignored-flag warning says about a flag (flags.json's docs say the same at length).
  static std::string ignored_reason(const std::string& flag) {
    if (flag == "op" || flag == "kernel" || flag == "fused_kernel" || flag == "fla")
      return "chooses a PyTorch kernel; this engine always runs its own WKV7 (CPU or CUDA)";
    if (flag == "my_pile_shift" || flag == "my_pile_edecay" || flag == "my_pile_version")
      return "is RWKV-LM v5's; RWKV-PEFT's train.py parses it and never reads it";
    return "only matters to Lightning/DeepSpeed";
  }

  // RWKV-LM's --train_stage 1 (demo-training-prepare.sh) and the older RWKV-PEFT's
  // --my_pile_stage 1: the data is checked as its dataset does, the initial weights are written
  // to proj_dir/rwkv-init.pth, and the run stops ("Done. Now go for stage 2.") leaving nothing
  // else behind. Each writes its own trainer's init: RWKV-LM train_temp's for x070, and for
  // RWKV-PEFT the one a run without --load_model starts from (open_backend).
  int prepare(int64_t pool_limit) {
    const auto t_start = std::chrono::steady_clock::now();
    data_ = open_data_source(o_, pool_limit);
    const uint64_t seed = uint64_t(o_.seed < 0 ? 0 : o_.seed);
    const std::string init_path = epoch_checkpoint_path(o_.proj_dir, -1);
    if (o_.lm_v7) {
      cfg_ = model_config_for_size(o_.n_layer, o_.n_embd, o_.vocab_size, o_.head_size);
      save_pth(init_path, init_x070_weights(cfg_, seed));
    } else {
      cfg_ = model_config_for_version(o_.model_version, o_.n_layer, o_.n_embd, o_.vocab_size, o_.head_size);
      save_pth(init_path, init_model_weights(cfg_, seed, o_.lr_init));
    }
    emit_checkpoint(init_path, "init");
    std::fprintf(stderr, "rwkv-train: wrote %s. Done. Now go for stage 2.\n", init_path.c_str());
    Json f = Json::object();
    f.set("steps", int64_t(0));
    f.set("elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count());
    f.set("message", "Done. Now go for stage 2.");
    proto_.end("completed", f);
    return 0;
  }

  // RWKV-LM's --train_stage 2/3 (and the older RWKV-PEFT's --my_pile_stage 2/3): the newest
  // rwkv-N.pth in proj_dir (rwkv-init.pth when there is none), the one before it when the newest
  // cannot be read; epoch_begin = N + 1 and, when continuing from a trained rwkv-N.pth,
  // warmup_steps unless given: 10 (RWKV-LM; RWKV-PEFT stage 2) or 30 (RWKV-PEFT stage 3+).
  StateDict load_newest() {
    const std::vector<int64_t> found = epoch_checkpoints(o_.proj_dir);
    if (found.empty())
      throw EngineError("E_LOAD_MODEL", o_.proj_dir + " has no rwkv-init.pth or rwkv-N.pth to continue from",
                        "run the prepare step first (--train_stage 1 or --my_pile_stage 1 writes rwkv-init.pth), or copy the model "
                        "to continue from to " + epoch_checkpoint_path(o_.proj_dir, -1));
    int64_t n = found.back();
    StateDict weights;
    try {
      weights = load_pth(epoch_checkpoint_path(o_.proj_dir, n));
    } catch (const EngineError& e) {
      if (found.size() < 2 || e.code.rfind("E_PTH", 0) != 0) throw;
      const int64_t prev = found[found.size() - 2];
      proto_.warning("W_CHECKPOINT_CORRUPT", epoch_checkpoint_path(o_.proj_dir, n) + " cannot be read (" + e.what() +
                                                 "); continuing from " + epoch_checkpoint_path(o_.proj_dir, prev) +
                                                 ", as RWKV-LM does");
      n = prev;
      weights = load_pth(epoch_checkpoint_path(o_.proj_dir, n));
    }
    loaded_from_ = epoch_checkpoint_path(o_.proj_dir, n);
    loaded_bytes_ = file_bytes(loaded_from_);
    o_.epoch_begin = n + 1;
    if (n >= 0 && o_.warmup_steps < 0) o_.warmup_steps = o_.continue_warmup;
    return weights;
  }

  void open_backend() {
    StateDict weights;
    if (o_.continue_newest) {
      weights = load_newest();
    } else if (o_.load_model.empty()) {
      cfg_ = model_config_for_version(o_.model_version, o_.n_layer, o_.n_embd, o_.vocab_size, o_.head_size);
      const std::string init_path = o_.proj_dir + "/rwkv-init.pth";
      if (path_exists(init_path)) {
        weights = load_pth(init_path);  // a resumed random-init run starts from the same init
      } else {
        // x060: RWKV-PEFT's generate_init_weight draws the embedding in +-lr_init
        weights = init_model_weights(cfg_, uint64_t(o_.seed < 0 ? 0 : o_.seed), o_.lr_init);
        if (writer() && writes_files()) {  // the other ranks made the same weights from the same seed
          save_pth(init_path, weights);
          emit_checkpoint(init_path, "init");
        }
      }
    } else {
      if (!path_exists(o_.load_model))
        throw EngineError("E_LOAD_MODEL", "--load_model " + o_.load_model + " does not exist",
                          o_.load_model == "0" ? "--load_model 0 (continue from the newest rwkv-N.pth in proj_dir) "
                                                 "is RWKV-LM's, with --train_stage 2 or 3"
                                               : "give the path of an RWKV-7 (or, with --my_testing x060, RWKV-6) "
                                                 ".pth checkpoint");
      weights = load_pth(o_.load_model);
      loaded_from_ = o_.load_model;
      loaded_bytes_ = file_bytes(loaded_from_);
    }
    if (o_.continue_newest || !o_.load_model.empty()) {
      const std::string& from = loaded_from_;
      cfg_ = model_config_from_checkpoint(o_.model_version, weights, o_.head_size);
      auto given = [&](const char* n) {
        for (const auto& g : o_.given_flags) if (g == n) return true;
        return false;
      };
      auto mismatch = [&](const char* flag, int64_t want, int64_t got) {
        throw EngineError("E_MODEL_SHAPE",
                          std::string("--") + flag + " " + std::to_string(want) + " disagrees with " + from +
                              " (" + std::to_string(got) + ")",
                          std::string("set --") + flag + " " + std::to_string(got) + " or load the intended checkpoint");
      };
      if (given("n_layer") && o_.n_layer != cfg_.n_layer) mismatch("n_layer", o_.n_layer, cfg_.n_layer);
      if (given("n_embd") && o_.n_embd != cfg_.n_embd) mismatch("n_embd", o_.n_embd, cfg_.n_embd);
      if (given("vocab_size") && o_.vocab_size != cfg_.vocab_size) mismatch("vocab_size", o_.vocab_size, cfg_.vocab_size);
    }
    cfg_.head_size_divisor = o_.head_size_divisor;
    // what the adapters start from (PiSSA, gaussian, lora_load / pissa_load): train/adapter_start.h
    const AdapterStart start =
        prepare_adapter_start(o_, cfg_, weights, resume_file_ && path_exists(resume_path(o_.proj_dir)));
    for (const auto& [code, message] : start.warnings) proto_.warning(code, message);
    for (const auto& path : start.written) emit_checkpoint(path, "pissa_init");
    BackendOptions bo;
    bo.seed = uint64_t(o_.seed < 0 ? 0 : o_.seed);
    bo.grad_checkpoint = o_.grad_cp;
    bo.head_chunk = o_.head_chunk;
    bo.pass_tokens = pass_tokens_from_env();
    bo.threads = o_.threads;
    bo.quant = o_.quant;
    bo.device = hooks_.device;
    if (o_.accelerator == "cpu") {
      backend_ = make_cpu_backend(cfg_, start.backend_peft, weights, bo);
    } else {
      // a second line behind train/gpu_support.cpp (which refuses --my_testing x060 on the GPU
      // unless RWKV_CUDA_X060=1): the CUDA backend builds the x070 block, and the x060 one only
      // behind that switch (core/gpu_switches.h; not yet run on a GPU)
      if (cfg_.version != "x070" && !(cfg_.version == "x060" && cuda_x060_enabled()))
        throw EngineError("E_CUDA_UNSUPPORTED",
                          model_version_label(cfg_.version) + " training is not yet implemented on the GPU",
                          "train it with --accelerator cpu", "my_testing");
#ifdef RWKV_HAVE_CUDA
      backend_ = make_cuda_backend(cfg_, start.backend_peft, weights, bo);
#else
      throw EngineError("E_NO_CUDA", "this rwkv-train was built without the CUDA backend",
                        "pass --accelerator cpu to train on the CPU, or build on a machine with nvcc");
#endif
    }
    if (!start.initial.empty()) backend_->import_trainable(start.initial);
    if (!start.continued.empty()) backend_->import_trainable(start.continued);
    if (hooks_.dp) hooks_.dp->attach(*backend_);
  }

  void load_resume() {
    const std::string path = resume_path(o_.proj_dir);
    StateDict all = load_pth(path);
    StateDict params, optim;
    std::map<std::string, int64_t> meta;
    for (auto& [n, t] : all) {
      if (n.rfind("param.", 0) == 0) params.push_back({n.substr(6), std::move(t)});
      else if (n.rfind("optim.", 0) == 0) optim.push_back({n.substr(6), std::move(t)});
      else if (n.rfind("meta.", 0) == 0) meta[n.substr(5)] = read_i64(t);
    }
    for (const char* key : {"global_step", "epoch", "micro", "micro_bsz", "ctx_len", "accumulate_grad_batches"})
      if (!meta.count(key))
        throw EngineError("E_RESUME_CORRUPT", path + " has no meta." + key, "delete it to start over");
    // Another world size resumes with the same micro_bsz, or with the one that keeps the global
    // batch (micro_bsz x world size) as it was.
    const int64_t saved_world = meta.count("world_size") ? meta["world_size"] : 1;
    const bool same_global_batch = meta["micro_bsz"] * saved_world == int64_t(o_.micro_bsz) * world();
    if ((meta["micro_bsz"] != o_.micro_bsz && !same_global_batch) || meta["ctx_len"] != o_.ctx_len ||
        meta["accumulate_grad_batches"] != o_.accumulate_grad_batches)
      throw EngineError("E_RESUME_MISMATCH",
                        "proj_dir holds a run with different micro_bsz/ctx_len/accumulate_grad_batches",
                        "resume with the same flags, or use a new --proj_dir");
    // What the run was trained on (resume files from before these keys skip the checks): a
    // dataset or base model changed under a stopped run resumes, but not as the uninterrupted
    // run would have gone on, so the user hears of it.
    auto changed = [&](const char* key, int64_t now) { return meta.count(key) && meta[key] != now; };
    if (changed("data_tokens", int64_t(data_->num_tokens())) || changed("data_documents", int64_t(data_->num_documents())))
      proto_.warning("W_RESUME_DATA_CHANGED",
                     "the dataset changed since this run was stopped (" + std::to_string(meta["data_documents"]) +
                         " documents / " + std::to_string(meta["data_tokens"]) + " tokens then, " +
                         std::to_string(data_->num_documents()) + " / " + std::to_string(data_->num_tokens()) +
                         " now): training goes on, but it no longer repeats the uninterrupted run's samples");
    if (changed("base_params", backend_->total_param_count()) ||
        (!loaded_from_.empty() && changed("base_bytes", file_bytes(loaded_from_))))
      proto_.warning("W_RESUME_BASE_CHANGED",
                     "--load_model is not the file this run started from (its size changed): the saved adapter "
                     "and optimizer state continue on a different base model");
    backend_->import_trainable(params);
    if (hooks_.dp) hooks_.dp->load_optimizer_state(optim);  // this rank's slices of it
    else backend_->import_optimizer_state(optim);
    pos_.global_step = meta["global_step"];
    pos_.epoch = meta["epoch"];
    pos_.micro = meta["micro"];
    // Another world size: the same samples of the epoch are done (positions below micro x
    // micro_bsz x world size, dist/shard_plan.h), counted in the new ranks' micro-batches.
    if (saved_world != world()) {
      const int64_t done = pos_.micro * meta["micro_bsz"] * saved_world;
      const int64_t per_step = int64_t(o_.micro_bsz) * world() * o_.accumulate_grad_batches;
      pos_.micro = done / per_step * o_.accumulate_grad_batches;
      const int64_t redo = done - pos_.micro * o_.micro_bsz * world();
      proto_.warning("W_RESUME_WORLD_SIZE",
                     "resumed with " + std::to_string(world()) + " ranks a run saved with " + std::to_string(saved_world) +
                         (same_global_batch ? " (the same global batch)" : " (another global batch)") +
                         ": the optimizer state is re-sliced; " +
                         (redo ? std::to_string(redo) + " samples of the interrupted epoch are trained again, since " +
                                     std::to_string(done) + " is not a whole number of the new global batches"
                               : std::string("the epoch goes on at the same sample")));
    }
    // a position past the end of this epoch plan (the data shrank) resumes at the epoch's end
    pos_.micro = std::min(pos_.micro, epoch_micro());
    resumed_ = true;
  }

  void save_resume() {
    // RWKV-LM's stage 3 continues from rwkv-N.pth, and its train.py stops on any other
    // rwkv-*.pth name in proj_dir: no resume file there.
    if (!resume_file_ || !writes_files()) return;
    // ZeRO-1: the sharded state gathered whole (every rank: a collective), so the file is the
    // one-GPU file and any world size resumes from it
    StateDict optim = hooks_.dp ? hooks_.dp->optimizer_state() : StateDict();
    if (!writer()) return;
    if (!hooks_.dp) optim = backend_->export_optimizer_state();
    StateDict out;
    for (auto& [n, t] : backend_->export_weights(ExportKind::AdapterOnly)) out.push_back({"param." + n, std::move(t)});
    for (auto& [n, t] : optim) out.push_back({"optim." + n, std::move(t)});
    out.push_back({"meta.global_step", i64_scalar(pos_.global_step)});
    out.push_back({"meta.epoch", i64_scalar(pos_.epoch)});
    out.push_back({"meta.micro", i64_scalar(pos_.micro)});
    out.push_back({"meta.micro_bsz", i64_scalar(o_.micro_bsz)});
    out.push_back({"meta.ctx_len", i64_scalar(o_.ctx_len)});
    out.push_back({"meta.accumulate_grad_batches", i64_scalar(o_.accumulate_grad_batches)});
    out.push_back({"meta.data_tokens", i64_scalar(int64_t(data_->num_tokens()))});
    out.push_back({"meta.data_documents", i64_scalar(int64_t(data_->num_documents()))});
    out.push_back({"meta.base_params", i64_scalar(backend_->total_param_count())});
    // the base as it was loaded: one deleted or replaced under the running run must not change
    // what the resume compares against
    if (!loaded_from_.empty()) out.push_back({"meta.base_bytes", i64_scalar(loaded_bytes_)});
    if (world() > 1) out.push_back({"meta.world_size", i64_scalar(world())});  // one GPU: the file as before
    save_pth(resume_path(o_.proj_dir), out);
  }

  void save_checkpoint(const std::string& name) {
    if (!writer() || !writes_files()) return;  // every rank holds the same weights; rank 0 writes them once
    const std::string path = o_.proj_dir + "/" + name;
    StateDict sd;
    if (o_.peft.method == PeftMethod::Full) sd = backend_->export_weights(ExportKind::Full);
    else if (o_.peft.method == PeftMethod::State) sd = backend_->export_weights(ExportKind::AdapterOnly);
    else sd = backend_->export_weights(o_.merge ? ExportKind::Merged : ExportKind::AdapterOnly);
    const bool hf_adapter = o_.peft_new_form && !o_.merge && o_.peft.method != PeftMethod::Full &&
                            o_.peft.method != PeftMethod::State;
    if (hf_adapter) {
      // the newest RWKV-PEFT saves peft's adapter folder (proj_dir-adapter, overwritten each
      // time); rwkv-N.pth keeps every epoch's adapter with the same names
      save_hf_adapter(o_.proj_dir + "-adapter", to_bf16(sd), hf_adapter_config(o_));
      emit_checkpoint(o_.proj_dir + "-adapter/adapter_model.safetensors", "adapter");
      StateDict named;
      for (auto& [n, t] : sd) named.push_back({hf_peft_name(n), std::move(t)});
      sd = std::move(named);
    }
    save_pth(path, to_bf16(sd));
    emit_checkpoint(path, o_.peft.method == PeftMethod::Full ? "full"
                          : o_.peft.method == PeftMethod::State ? "state"
                          : o_.merge ? "merged" : "adapter");
  }

  void emit_checkpoint(const std::string& path, const char* kind) {
    if (!writer()) return;
    Json f = Json::object();
    f.set("path", path);
    f.set("bytes", file_size(path));
    f.set("kind", kind);
    f.set("step", pos_.global_step);
    proto_.emit("checkpoint", f);
  }

  void emit_start() {
    Json model = Json::object();
    model.set("version", cfg_.version);
    model.set("n_layer", cfg_.n_layer);
    model.set("n_embd", cfg_.n_embd);
    model.set("vocab_size", cfg_.vocab_size);
    model.set("head_size", cfg_.head_size);
    model.set("ctx_len", o_.ctx_len);
    int64_t trainable = 0;
    for (const auto& p : backend_->trainable_params()) {
      int64_t n = 1;
      for (auto d : p.shape) n *= d;
      trainable += n;
    }
    const MemoryStats m = backend_->memory();
    Json f = Json::object();
    // Unique per launch (a resumed run is a new launch of the same proj_dir).
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    char run_id[48];
    std::snprintf(run_id, sizeof run_id, "%llx-%x", static_cast<unsigned long long>(now_ms), unsigned(::getpid()));
    f.set("run_id", std::string(run_id));
    f.set("proj_dir", o_.proj_dir);
    f.set("config", o_.resolved);
    f.set("model", model);
    f.set("device", device_json(backend_->device_name()));
    f.set("peft", peft_method_name(o_.peft.method));
    Json params = Json::object();
    params.set("trainable", trainable);
    params.set("total", backend_->total_param_count());
    f.set("params", params);
    // The planner's engine-stack plan: the very figure the editor shows (core/planner.h);
    // what this backend holds now is reported beside it.
    try {
      const MemoryPlan plan = plan_memory(engine_plan_input(o_), PlanStack::Engine);
      f.set("planned_memory_bytes", plan.total_bytes);
      f.set("plan", plan_categories_json(plan));
    } catch (const EngineError& e) {
      proto_.warning("W_PLAN", std::string("memory plan unavailable: ") + e.what());
    }
    f.set("backend_memory_bytes", m.in_use_bytes);
    Json data = Json::object();
    data.set("kind", data_->kind());
    data.set("tokens", data_->num_tokens());
    data.set("documents", data_->num_documents());
    f.set("data", data);
    f.set("total_steps", planned_steps_);
    f.set("resumed_from_step", resumed_ ? pos_.global_step : int64_t(0));
    if (!loaded_from_.empty()) f.set("loaded_from", loaded_from_);
    f.set("epoch_begin", o_.epoch_begin);
    if (o_.lm_v7) {
      Json lm = Json::object();  // the values RWKV-LM's train.py derives (its banner)
      lm.set("train_stage", int64_t(o_.train_stage));
      lm.set("real_bsz", o_.real_bsz());
      lm.set("epoch_steps", o_.epoch_steps);
      lm.set("epoch_count", o_.epoch_count);
      lm.set("warmup_steps", o_.warmup_steps);
      lm.set("adam_eps", double(o_.adam_eps));
      f.set("rwkv_lm", lm);
    }
    if (hooks_.dp) {
      f.set("world_size", int64_t(world()));
      Json d = Json::object();
      d.set("num_nodes", int64_t(hooks_.dp->num_nodes()));
      d.set("devices", int64_t(hooks_.dp->devices()));
      d.set("global_batch", int64_t(o_.micro_bsz) * world() * o_.accumulate_grad_batches);
      d.set("zero_stage", int64_t(1));
      d.set("collectives", hooks_.dp->collectives());
      f.set("distributed", d);
    }
    proto_.emit("start", f);
  }

  bool writes_files() const { return hooks_.probe_steps <= 0; }

  bool stop_requested() const { return hooks_.stop_signal && hooks_.stop_signal->load() != 0; }

  // Forward + backward of one micro-batch ([B, ctx_len] rows, B = micro_bsz but in a partial
  // last batch); returns its loss.
  double train_micro_batch(int B, const std::vector<int32_t>& in, const std::vector<int32_t>& tgt,
                           const std::vector<float>& mask) {
    const int T = o_.ctx_len;
    // the ranks' gradients are summed: each scales by 1 / world size so the sum is the mean
    const float accumulation = 1.0f / float(o_.accumulate_grad_batches * world());
    if (o_.infctx)
      return infctx_forward_backward(*backend_, cfg_, B, T, o_.chunk_ctx, in.data(), tgt.data(), mask.data(), accumulation,
                                     world());
    Batch batch{B, T, in.data(), tgt.data(), mask.data()};
    // RWKV-LM's L2Wrap kernel scales by the loss's gradient (1/accumulation); RWKV-PEFT's does not.
    // Several ranks: their gradients are summed, so each spreads L2Wrap over the world (DDP's mean).
    if (o_.lm_v7) batch.l2wrap_rows = int64_t(B) * T * o_.accumulate_grad_batches * world();
    else if (world() > 1) batch.l2wrap_rows = int64_t(B) * T * world();
    return backend_->forward_backward(batch, accumulation).loss;
  }

  // Tokens trained in this run's count once `micro` micro-batches of epoch `epoch` are done (a
  // pure function of the position, so a resumed run counts as the uninterrupted one).
  int64_t tokens_trained(int64_t epoch, int64_t micro) const {
    if (world() > 1) return (epoch * epoch_micro() + micro) * o_.micro_bsz * world() * o_.ctx_len;  // over every rank
    const int64_t epoch_rows = plan_.micro_batches > 0 ? (plan_.micro_batches - 1) * plan_.micro_bsz + plan_.last_batch_rows : 0;
    const int64_t rows = micro < plan_.micro_batches ? micro * plan_.micro_bsz : epoch_rows;
    return (epoch * epoch_rows + rows) * o_.ctx_len;
  }

  int loop() {
    const int B = o_.micro_bsz, T = o_.ctx_len;
    std::vector<int32_t> in(size_t(B) * T), tgt(size_t(B) * T);
    std::vector<float> mask(size_t(B) * T);
    const int64_t steps_per_epoch = world() > 1 ? epoch_micro() / o_.accumulate_grad_batches : plan_.optimizer_steps;
    DataParallel* const dp = hooks_.dp;
    const int64_t total_steps = o_.lm_v7 ? sched_.total_steps : steps_per_epoch * o_.epoch_count;
    ProgressBar bar(hooks_.progress_bar, total_steps);
    const auto t_start = std::chrono::steady_clock::now();
    auto t_last = t_start;
    double step_loss = 0;
    int64_t step_tokens = 0;
    Position boundary = pos_;  // the last finished optimizer step
    int64_t step_first_sample = 0;  // the sample index the running optimizer step began with
    int64_t attempts = 0;           // optimizer steps attempted by this launch, skipped ones included
    // RWKV-LM trains on (Lightning's max_epochs -1) until my_exit_tokens; its epoch_count only
    // names the mini-epoch that is saved last.
    for (; o_.lm_v7 || pos_.epoch < o_.epoch_count; ++pos_.epoch, pos_.micro = 0) {
      double epoch_loss = 0;
      int64_t epoch_steps_done = 0;
      for (; pos_.micro < epoch_micro(); ++pos_.micro) {
        // RWKV-PEFT: real_step = global_step + epoch_begin * epoch_steps (not divided by accumulation)
        const int64_t real_step = pos_.global_step + o_.epoch_begin * o_.epoch_steps;
        if (sched_.exit_reached(real_step)) {
          save_checkpoint("rwkv-final.pth");
          boundary = pos_;
          save_resume();
          return finish("completed", bar, t_start);
        }
        // Several ranks stop together, at a step boundary, if a stop reached any of them.
        const bool stop = dp ? pos_.micro % o_.accumulate_grad_batches == 0 && dp->any(stop_requested())
                             : stop_requested();
        if (stop) {
          pos_ = boundary;  // drop a partly accumulated step
          backend_->zero_grads();
          save_resume();
          if (resume_file_) {
            emit_checkpoint(resume_path(o_.proj_dir), "resume");
          } else if (o_.continue_newest) {
            // what the same command continues from (RWKV-LM stage 3): the newest rwkv-N.pth
            const std::vector<int64_t> found = epoch_checkpoints(o_.proj_dir);
            if (!found.empty()) emit_checkpoint(epoch_checkpoint_path(o_.proj_dir, found.back()), "resume");
          }
          return finish("stopped", bar, t_start);
        }
        const int rows = micro_rows(pos_.micro);
        if (step_tokens == 0) step_first_sample = sample_at(pos_.micro, 0);  // this optimizer step's first sample
        try {
          // the check catches data replaced or rewritten; a file that shrinks after it is caught
          // by the guarded read itself (core/mapped_guard.h), with the same error
          if (hooks_.check_data) data_->check_unchanged();
          for (int b = 0; b < rows; ++b)
            data_->sample(o_.epoch_begin + pos_.epoch, sample_at(pos_.micro, b), &in[size_t(b) * T],
                          &tgt[size_t(b) * T], &mask[size_t(b) * T]);
        } catch (const EngineError& e) {
          if (e.code != "E_DATA_CHANGED") throw;
          // what was trained on the data as it was is kept: the state at the last finished step
          pos_ = boundary;
          backend_->zero_grads();
          save_resume();
          throw;
        }
        const bool step_ends = ends_step(pos_.micro);
        if (dp && step_ends) dp->arm();  // this backward's gradients go out bucket by bucket
        step_loss += train_micro_batch(rows, in, tgt, mask) / o_.accumulate_grad_batches;
        step_tokens += int64_t(rows) * T * world();
        if (!step_ends) continue;
        if (dp) {
          dp->sync_grads();
          step_loss = dp->mean(step_loss);  // the global batch's loss, the same on every rank
        }
        ++attempts;
        if (hooks_.test_grad_scale) {
          const float f = hooks_.test_grad_scale(attempts);
          if (f != 1.0f) backend_->scale_grads(f);
        }
        const double gnorm = backend_->grad_norm();
        // the guard looks before the optimizer: a skipped step leaves weights and AdamW as they were
        const std::string bad = guard_.judge(step_loss, gnorm);
        if (!bad.empty()) {
          const int64_t at = pos_.global_step + 1;
          if (!hooks_.guard.enabled || guard_.in_row() >= hooks_.guard.max_in_row)
            throw EngineError("E_TRAIN_NAN",
                              "step " + std::to_string(at) + ": " + bad +
                                  (hooks_.guard.enabled ? " (" + std::to_string(guard_.in_row()) + " bad steps in a row)" : ""),
                              "lower --lr_init, or check the checkpoint and data (the warnings name the batches)");
          backend_->zero_grads();
          Json w = Json::object();
          const int64_t last_sample = sample_at(pos_.micro, rows - 1);
          w.set("code", "W_STEP_SKIPPED");
          w.set("message", "step " + std::to_string(at) + " skipped: " + bad + "; its batch (epoch " +
                               std::to_string(o_.epoch_begin + pos_.epoch) + ", samples " + std::to_string(step_first_sample) +
                               "-" + std::to_string(last_sample) + ") is not trained on");
          w.set("step", at);
          w.set("epoch", o_.epoch_begin + pos_.epoch);
          Json samples = Json::array();
          samples.push(step_first_sample);
          samples.push(last_sample);
          w.set("samples", samples);
          proto_.emit("warning", w);
          step_loss = 0;
          step_tokens = 0;
          boundary = pos_;
          ++boundary.micro;  // a resumed run does not read the skipped batch again either
          continue;
        }
        if (o_.grad_clip > 0 && gnorm > o_.grad_clip) backend_->scale_grads(float(o_.grad_clip / gnorm));
        const double lr_now = sched_.lr_at(real_step, pos_.global_step);
        AdamWParams hp = groups_;
        hp.lr = float(lr_now);
        hp.beta1 = o_.beta1;
        hp.beta2 = o_.beta2;
        hp.eps = o_.adam_eps;
        hp.weight_decay = o_.weight_decay;
        if (dp) dp->optimizer_step(hp);  // ZeRO-1: this rank's slice, then every slice to every rank
        else backend_->optimizer_step(hp);
        ++pos_.global_step;
        boundary = pos_;
        ++boundary.micro;  // the next micro-batch to read after this step
        // RWKV-LM also writes rwkv-final.pth once real_step reaches magic_prime / real_bsz - 1
        if (o_.lm_v7 && o_.magic_prime > 0 &&
            pos_.global_step + o_.epoch_begin * o_.epoch_steps == o_.magic_prime / o_.real_bsz() - 1)
          save_checkpoint("rwkv-final.pth");
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - t_last).count();
        t_last = now;
        const MemoryStats mem = backend_->memory();
        Json f = Json::object();
        f.set("step", pos_.global_step);
        f.set("epoch", o_.epoch_begin + pos_.epoch);
        f.set("loss", step_loss);
        f.set("lr", lr_now);
        f.set("tokens", tokens_trained(pos_.epoch, pos_.micro + 1));  // cumulative, resume included
        f.set("real_step", real_step + 1);  // RWKV's count: epoch_begin * epoch_steps + this launch's steps
        f.set("tokens_per_s", dt > 0 ? double(step_tokens) / dt : 0.0);
        f.set("grad_norm", gnorm);
        // The backend's memory: the GPU's for CUDA, this process's tensors for the CPU backend.
        f.set("gpu_mem_used_bytes", mem.in_use_bytes);
        f.set("gpu_mem_reserved_bytes", mem.reserved_bytes);
        if (dp) {  // every rank's memory (a collective: every rank takes part)
          const std::vector<double> all = dp->gather({double(mem.in_use_bytes), double(mem.reserved_bytes)});
          Json ranks = Json::array();
          for (int r = 0; r < world(); ++r) {
            Json one = Json::object();
            one.set("rank", int64_t(r));
            one.set("gpu_mem_used_bytes", uint64_t(all[size_t(r) * 2]));
            one.set("gpu_mem_reserved_bytes", uint64_t(all[size_t(r) * 2 + 1]));
            ranks.push(one);
          }
          f.set("ranks", ranks);
        }
        last_loss_ = step_loss;
        f.set("elapsed_s", std::chrono::duration<double>(now - t_start).count());
        proto_.emit("step", f);
        bar.update(pos_.global_step, step_loss, lr_now, dt > 0 ? double(step_tokens) / dt : 0.0);
        epoch_loss += step_loss;
        ++epoch_steps_done;
        step_loss = 0;
        step_tokens = 0;
        if (hooks_.probe_steps > 0 && pos_.global_step >= hooks_.probe_steps) return finish("stopped", bar, t_start);
      }
      const int64_t epoch_no = o_.epoch_begin + pos_.epoch;
      Json f = Json::object();
      f.set("epoch", epoch_no);
      f.set("steps", epoch_steps_done);
      f.set("mean_loss", epoch_steps_done ? epoch_loss / epoch_steps_done : 0.0);
      f.set("step", pos_.global_step);
      proto_.emit("epoch", f);
      // the last epoch is always saved; --my_pile_stage's is RWKV-PEFT's epoch_count (magic_prime / 40320)
      const int64_t last_epoch = (o_.schedule_epoch_count >= 0 ? o_.schedule_epoch_count : o_.epoch_count) - 1;
      if ((o_.epoch_save > 0 && pos_.epoch % o_.epoch_save == 0) || pos_.epoch == last_epoch)
        save_checkpoint("rwkv-" + std::to_string(epoch_no) + ".pth");
      boundary = Position{pos_.global_step, pos_.epoch + 1, 0};
      Position saved = pos_;
      pos_ = boundary;
      save_resume();
      pos_ = saved;
    }
    return finish("completed", bar, t_start);
  }

  int finish(const char* status, ProgressBar& bar, std::chrono::steady_clock::time_point t_start) {
    bar.done();
    Json f = Json::object();
    f.set("steps", pos_.global_step);
    f.set("elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count());
    if (std::isfinite(last_loss_)) f.set("final_loss", last_loss_);
    proto_.end(status, f);
    return 0;
  }

  TrainOptions o_;  // a copy: stage 3 sets epoch_begin and warmup_steps from proj_dir
  RunProtocol& proto_;
  TrainHooks hooks_;
  ModelConfig cfg_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<DataSource> data_;
  LrSchedule sched_;
  ShardPlan shard_;             // this rank's samples (one rank: all of them, in order)
  int64_t planned_steps_ = 0;   // optimizer steps this launch plans (the start event's total_steps)
  EpochPlan plan_;              // what an epoch is for this script's trainer (train/epoch_plan.h)
  StepGuard guard_{hooks_.guard};  // declared after hooks_, which it is built from
  Position pos_;
  bool resumed_ = false;
  bool resume_file_ = true;     // proj_dir/rwkv-resume.pth is read and written (not in RWKV-LM stage 2/3)
  std::string loaded_from_;     // the checkpoint the weights came from ("" = new init)
  int64_t loaded_bytes_ = -1;   // its size when it was loaded
  AdamWParams groups_;          // per-tensor lr scale / decay (RWKV-LM), else empty
  double last_loss_ = NAN;  // the last optimizer step's loss (the end event's final_loss)
};

// Out of GPU memory mid-run: the allocator's figures (what was asked, in use, free), the plan
// for this run beside them, and the next step that fits this run's settings. Nothing is written
// after it: the last checkpoint stays as it was.
EngineError explain_gpu_oom(const EngineError& e, const TrainOptions& o) {
  std::string message = e.what();
  try {
    const MemoryPlan plan = plan_memory(engine_plan_input(o), PlanStack::Engine);
    char buf[96];
    std::snprintf(buf, sizeof buf, " The plan for this run was %.1f GiB.", double(plan.total_bytes) / (1u << 30));
    message += buf;
  } catch (const EngineError&) {
  }
  std::string hint = "Lower --micro_bsz (now " + std::to_string(o.micro_bsz) + ")";
  if (!o.grad_cp) hint += ", set --grad_cp 1 (recomputes each layer, keeps one layer's activations)";
  hint += ", or use a shorter --ctx_len (now " + std::to_string(o.ctx_len) + ")";
  if (o.ctx_len > 1024 && !o.infctx) hint += " or --train_type infctx --chunk_ctx 1024";
  return EngineError("E_CUDA_OOM", message, hint + ".");
}

}  // namespace

int run_training(const TrainOptions& opt, RunProtocol& protocol, const TrainHooks& hooks) {
  try {
    Trainer t(opt, protocol, hooks);
    return t.run();
  } catch (const EngineError& e) {
    const EngineError reported = e.code == "E_CUDA_OOM" ? explain_gpu_oom(e, opt) : e;
    protocol.error(reported.code, reported.what(), reported.hint);
    protocol.end("failed");
    return 2;
  } catch (const std::bad_alloc&) {
    protocol.error("E_OUT_OF_MEMORY", "out of memory", "lower --micro_bsz or --ctx_len");
    protocol.end("failed");
    return 3;
  } catch (const std::exception& e) {
    protocol.error("E_INTERNAL", e.what(), "please report this with the command line");
    protocol.end("failed");
    return 4;
  }
}

}  // namespace rwkv
