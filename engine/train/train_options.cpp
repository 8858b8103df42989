#include "train/train_options.h"

#include "train/epoch_plan.h"

#include <algorithm>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/model_shapes.h"
#include "core/quant.h"
#include "dist/multigpu_switch.h"
#include "train/data_source.h"
#include "train/epoch_plan.h"
#include "train/peft_options.h"

namespace rwkv {
namespace {

// --data_type, --dataload, --loss_mask and the sft flags, as the two RWKV-PEFT trees (JL-er
// 5b8aac9 and the newest) run them. What neither can run is refused, never approximated.
void apply_data_flags(const ParsedFlags& f, TrainOptions& o) {
  if (o.data_type != "binidx" && o.data_type != "jsonl" && o.data_type != "sft")
    throw EngineError("E_FLAG_UNSUPPORTED", "--data_type " + o.data_type + " is not supported by this engine",
                      "use binidx (make it with `rwkv-train make-data`), jsonl or sft", "data_type");
  o.dataload = f.get_string("dataload");
  o.dataload_given = f.has("dataload");
  o.loss_mask = f.get_string("loss_mask");
  const bool binidx = o.data_type == "binidx";
  // RWKV-PEFT reads --dataload for binidx only; jsonl and sft always take one padded document.
  if (binidx && o.dataload == "only")
    throw EngineError("E_FLAG_UNSUPPORTED", "--dataload only is not supported by this engine",
                      "RWKV-PEFT itself cannot run it (5b8aac9 stops on an undefined min_len, the newest tree "
                      "has no only()); use --dataload pad, which counts the same tokens", "dataload");
  if (binidx && o.dataload == "get" && o.magic_prime <= 0)
    throw EngineError("E_FLAG_UNSUPPORTED", "--dataload get without --magic_prime is not supported by this engine",
                      "RWKV-PEFT has no get branch for binidx; for RWKV-LM's pretraining sampler pass --magic_prime "
                      "(printed by `rwkv-train make-data`), or use --dataload pad for one document per sample", "dataload");
  if (o.dataload != "pad" && o.dataload != "get" && o.dataload != "only")
    throw EngineError("E_FLAG_VALUE", "--dataload " + o.dataload + ": unknown value", "pad, get or only", "dataload");
  if (o.loss_mask == "se")
    throw EngineError("E_FLAG_UNSUPPORTED", "--loss_mask se is not supported by this engine",
                      "no RWKV-PEFT version trains with it (its generate_mask is commented out; earlier trees "
                      "failed calling it or fed its mask in as targets); use --loss_mask qa for answer-only loss "
                      "on User:/Assistant: text", "loss_mask");
  if (o.loss_mask != "none" && o.loss_mask != "pad" && o.loss_mask != "qa")
    throw EngineError("E_FLAG_VALUE", "--loss_mask " + o.loss_mask + ": unknown value", "none, pad or qa", "loss_mask");
  if (uses_stream_sampler(o) && o.loss_mask == "qa")
    throw EngineError("E_FLAG_UNSUPPORTED",
                      "--loss_mask qa with the magic_prime sampler (--dataload get) is not supported by this engine",
                      "qa masks per document: use --dataload pad (one document per sample)", "loss_mask");
  // sft: RWKV-PEFT passes --sft_field to SFTdataset (prompt field, response field) and loads
  // --sft_split with Hugging Face datasets; here data_file is a local .jsonl.
  const Json& fields = f.values.at("sft_field");
  if (fields.kind() == Json::Kind::Array)
    for (const Json& v : fields.items()) o.sft_fields.push_back(v.as_string());
  else if (fields.kind() == Json::Kind::String && !fields.as_string().empty())
    o.sft_fields.push_back(fields.as_string());
  if (o.data_type == "sft" && !o.sft_fields.empty() && o.sft_fields.size() != 2)
    throw EngineError("E_FLAG_VALUE", "--sft_field needs two field names (prompt, response), got " +
                      std::to_string(o.sft_fields.size()), "e.g. --sft_field query response", "sft_field");
  const std::string split = f.get_string("sft_split");
  if (o.data_type == "sft" && split != "train") {
    const std::string head = "train[:", tail = "]";
    const std::string n = split.size() > head.size() + tail.size() && split.compare(0, head.size(), head) == 0 &&
                                  split.back() == ']'
                              ? split.substr(head.size(), split.size() - head.size() - 1)
                              : "";
    if (n.empty() || n.size() > 15 || n.find_first_not_of("0123456789") != std::string::npos)
      throw EngineError("E_FLAG_UNSUPPORTED", "--sft_split " + split + " is not supported by this engine",
                        "a local .jsonl has one split: use train, or train[:N] for its first N rows", "sft_split");
    o.sft_split_rows = std::stoll(n);
  }
}
// Which train.py the flags were written for, as far as the engine must know: RWKV-LM's
// train_temp when a flag only it accepts was given and none it lacks (flags.json `trainers`).
bool targets_rwkv_lm(const ParsedFlags& f) {
  bool lm_only = false;
  for (const auto& name : f.given) {
    const FlagSpec* spec = find_flag(name);
    if (!spec || spec->trainers.empty()) continue;
    const bool lm = std::find(spec->trainers.begin(), spec->trainers.end(), "lm-v7") != spec->trainers.end();
    if (!lm) return false;
    if (spec->trainers.size() == 1) lm_only = true;
  }
  return lm_only;
}

// The micro_bsz values nearest to `want` that make real_bsz divide 40320.
std::string nearest_micro_bsz(int want, int64_t per_micro) {
  int below = 0, above = 0;
  for (int m = want; m >= 1 && !below; --m) if (40320 % (per_micro * m) == 0) below = m;
  for (int m = want; m <= 40320 && !above; ++m) if (40320 % (per_micro * m) == 0) above = m;
  std::string s;
  if (below) s += std::to_string(below);
  if (above && above != below) s += (s.empty() ? "" : " or ") + std::to_string(above);
  return s;
}

// The 40320-sample mini-epoch both RWKV-LM (always) and the older RWKV-PEFT (--my_pile_stage > 0)
// impose: epoch_steps = 40320 / real_bsz, which their train.py asserts divides exactly.
void force_mini_epochs(const ParsedFlags& f, TrainOptions& o, const std::string& who) {
  const int64_t real_bsz = o.real_bsz();
  if (40320 % real_bsz != 0)
    throw EngineError("E_LM_EPOCH_STEPS",
                      who + "'s mini-epoch is 40320 samples, so real_bsz = micro_bsz x devices x num_nodes = " +
                          std::to_string(o.micro_bsz) + " x " + std::to_string(o.devices) + " x " +
                          std::to_string(o.num_nodes) + " = " + std::to_string(real_bsz) +
                          " must divide 40320 (train.py asserts epoch_steps * real_bsz == 40320)",
                      "use --micro_bsz " + nearest_micro_bsz(o.micro_bsz, int64_t(o.devices) * o.num_nodes) +
                          " (40320 = 2^7 x 3^2 x 5 x 7)",
                      "micro_bsz");
  if (f.has("epoch_steps") && f.get_int("epoch_steps") != 40320 / real_bsz)
    o.warnings.push_back({"W_LM_FORCED", "--epoch_steps " + std::to_string(f.get_int("epoch_steps")) +
                                            " is replaced by 40320 / real_bsz = " + std::to_string(40320 / real_bsz) +
                                            ", as " + who + "'s train.py does"});
  o.epoch_steps = 40320 / real_bsz;
}

// The older RWKV-PEFT's --my_pile_stage (JL-er 5b8aac9 train.py; see TrainOptions::my_pile_stage).
// Its dataset never reads the stage (nor my_pile_shift / my_pile_version), so sampling is as
// without it; its optimizer groups read stage 2 only for names x070 does not have (time_maa,
// time_decay, time_faaaa: 5x lr), and this engine applies no layerwise_lr groups at all.
void apply_pile_stage_rules(const ParsedFlags& f, TrainOptions& o) {
  const std::string stage = "--my_pile_stage " + std::to_string(o.my_pile_stage);
  if (o.peft_new_form)
    throw EngineError("E_FLAG_UNSUPPORTED",
                      stage + " with the newest RWKV-PEFT's --peft_config form is not supported by this engine",
                      "the newest train.py no longer has the stage rules (Joluck 259effb parses the flag only); "
                      "drop it, or write the script in the older form (--lora_config ...) whose train.py has them",
                      "my_pile_stage");
  force_mini_epochs(f, o, "RWKV-PEFT (" + stage + ")");
  o.schedule_epoch_count = o.magic_prime / 40320;
  if (o.my_pile_stage == 1 && !o.load_model.empty())
    throw EngineError("E_FLAG_UNSUPPORTED",
                      stage + " with --load_model (RWKV-PEFT's weight combination into the new init, interpolating "
                      "tensors of another shape) is not supported by this engine",
                      "drop --load_model to write a fresh proj_dir/rwkv-init.pth; to continue an existing model, copy "
                      "it to proj_dir/rwkv-init.pth and run --my_pile_stage 2", "my_pile_stage");
  if (o.my_pile_stage >= 2) {
    // RWKV-PEFT reloads rwkv-N.pth as the whole model; its adapter methods save only the
    // adapter there, so a continued adapter run would start from a model without its base.
    if (o.peft.method != PeftMethod::Full)
      throw EngineError("E_FLAG_UNSUPPORTED",
                        stage + " with --peft " + f.get_string("peft") +
                            ": RWKV-PEFT continues from the newest rwkv-N.pth as the whole model, which an adapter "
                            "run's rwkv-N.pth is not (it holds the adapter alone)",
                        "pretrain with --peft none, or continue an adapter run with the same command "
                        "(it resumes from rwkv-resume.pth) without --my_pile_stage", "my_pile_stage");
    o.continue_newest = true;
    o.continue_warmup = o.my_pile_stage == 2 ? 10 : 30;
    if (!o.load_model.empty())
      o.warnings.push_back({"W_LOAD_MODEL_IGNORED", stage + " continues from the newest rwkv-*.pth in " + o.proj_dir +
                                                        " (as RWKV-PEFT's train.py does); --load_model " + o.load_model +
                                                        " is not read"});
  }
}

// RWKV-LM train_temp's train.py + dataset.py rules that need no data (the data's own check,
// magic_prime against tokens / ctx_len, is in data_source.cpp).
void apply_rwkv_lm_rules(const ParsedFlags& f, TrainOptions& o) {
  force_mini_epochs(f, o, "RWKV-LM");
  o.epoch_count = o.magic_prime / 40320;  // only decides which mini-epoch is saved last; the run ends at my_exit_tokens
  const uint64_t p = uint64_t(std::max<int64_t>(o.magic_prime, 0));
  if (!is_prime(p) || p % 3 != 2)
    throw EngineError("E_LM_MAGIC_PRIME",
                      "--magic_prime " + std::to_string(o.magic_prime) +
                          (is_prime(p) ? " is prime but not 2 mod 3" : " is not a prime") +
                          ": RWKV-LM's dataset asserts a prime p with p % 3 == 2",
                      "use the value make_data.py (or `rwkv-train make-data`) printed for this data and ctx_len", "magic_prime");
  if (!f.has("adam_eps")) o.adam_eps = 1e-18f;  // RWKV-LM's default
  if (o.data_type != "binidx")
    throw EngineError("E_FLAG_UNSUPPORTED", "--data_type " + o.data_type + ": RWKV-LM's train.py trains binidx only",
                      "make binidx with make_data.py or `rwkv-train make-data`, or use RWKV-PEFT's flags for jsonl", "data_type");
  if (o.train_stage == 1 && !o.load_model.empty())
    throw EngineError("E_FLAG_UNSUPPORTED",
                      "--train_stage 1 with --load_model (RWKV-LM's weight combination into a new shape) is not "
                      "supported by this engine",
                      "to continue pretraining an existing model, copy it to proj_dir/rwkv-init.pth and run stage 3", "train_stage");
  if (o.train_stage >= 2 && !o.load_model.empty() && o.load_model != "0")
    o.warnings.push_back({"W_LOAD_MODEL_IGNORED", "--train_stage " + std::to_string(o.train_stage) +
                                                      " continues from the newest rwkv-*.pth in " + o.proj_dir +
                                                      " (as RWKV-LM does); --load_model " + o.load_model +
                                                      " is not read"});
}

// --quant (core/quant.h): int8 and nf4 as RWKV-PEFT quantises them, with the base's block
// linears frozen. Full fine-tuning trains those weights: refused here, before anything loads,
// so the editor shows it too (train_parts' values, emb/head/time/ln, name no block linear; the
// backend refuses a trained quantised weight as a second line). fp4 / 4bit / fp8 are not
// implemented.
void resolve_quant(const ParsedFlags& f, TrainOptions& o) {
  o.quant = parse_quant_type(f.get_string("quant"));
  if (o.quant == QuantType::None) return;
  const std::string q = quant_type_name(o.quant);
  if (o.peft.method == PeftMethod::Full)
    throw EngineError("E_FLAG_UNSUPPORTED", "--quant " + q + " with full fine-tuning",
                      "a quantised base is frozen: train an adapter (--peft lora, pissa, miss or state tuning), "
                      "or use --quant none",
                      "quant");
}

}  // namespace

TrainOptions train_options_from_flags(const ParsedFlags& f) {
  TrainOptions o;
  o.load_model = f.get_string("load_model");
  o.proj_dir = f.get_string("proj_dir");
  o.data_file = f.get_string("data_file");
  o.data_type = f.get_string("data_type");
  o.vocab_size = int(f.get_int("vocab_size"));
  o.ctx_len = int(f.get_int("ctx_len"));
  o.n_layer = int(f.get_int("n_layer"));
  o.n_embd = int(f.get_int("n_embd"));
  o.head_size = int(f.has("head_size") ? f.get_int("head_size") : f.get_int("head_size_a"));
  o.head_size_flag = f.has("head_size") ? "head_size" : "head_size_a";
  o.head_size_divisor = float(f.get_int("head_size_divisor"));
  o.epoch_steps = f.get_int("epoch_steps");
  o.epoch_count = f.get_int("epoch_count");
  o.epoch_begin = f.get_int("epoch_begin");
  o.epoch_save = f.get_int("epoch_save");
  o.micro_bsz = int(f.get_int("micro_bsz"));
  o.accumulate_grad_batches = int(f.get_int("accumulate_grad_batches"));
  o.lr_init = f.get_float("lr_init");
  o.lr_final = f.get_float("lr_final");
  o.warmup_steps = f.get_int("warmup_steps");
  o.lr_schedule = f.get_string("lr_schedule");
  o.beta1 = float(f.get_float("beta1"));
  o.beta2 = float(f.get_float("beta2"));
  o.adam_eps = float(f.get_float("adam_eps"));
  o.weight_decay = float(f.get_float("weight_decay"));
  o.grad_clip = float(f.get_float("grad_clip"));
  o.magic_prime = f.get_int("magic_prime");
  o.my_exit_tokens = f.get_int("my_exit_tokens");
  o.data_shuffle = f.get_int("data_shuffle") != 0;
  o.seed = f.get_int("random_seed");
  o.merge = f.get_int("merge") != 0;
  o.accelerator = f.get_string("accelerator");
  o.devices = int(f.get_int("devices"));
  o.grad_cp = f.get_int("grad_cp") != 0;
  o.head_chunk = int(f.get_int("head_chunk"));
  o.infctx = f.get_string("train_type") == "infctx";
  o.chunk_ctx = int(f.get_int("chunk_ctx"));
  o.ignored_flags = f.ignored;
  o.given_flags = f.given;
  o.num_nodes = int(f.get_int("num_nodes"));
  o.train_stage = int(f.get_int("train_stage"));
  o.lm_v7 = targets_rwkv_lm(f);
  o.continue_newest = o.train_stage >= 2;

  auto bad = [](const std::string& flag, const std::string& why, const std::string& hint) {
    throw EngineError("E_FLAG_VALUE", "--" + flag + ": " + why, hint, flag);
  };
  if (o.data_file.empty()) bad("data_file", "no dataset given", "pass --data_file PREFIX (binidx without .bin/.idx) or a .jsonl file");
  if (o.vocab_size <= 0) bad("vocab_size", "must be positive", "65536 for the RWKV World vocabulary");
  if (o.ctx_len <= 0) bad("ctx_len", "must be positive", "");
  if (o.micro_bsz <= 0) bad("micro_bsz", "must be positive", "");
  if (o.accumulate_grad_batches <= 0) bad("accumulate_grad_batches", "must be positive", "");
  if (o.epoch_steps <= 0) bad("epoch_steps", "must be positive", "");
  if (o.epoch_count <= 0) bad("epoch_count", "must be positive", "");
  if (o.num_nodes <= 0) bad("num_nodes", "must be positive", "");
  if (o.lm_v7) apply_rwkv_lm_rules(f, o);
  if (o.lr_init <= 0 || o.lr_final < 0) bad("lr_init", "learning rates must be positive", "");
  if (o.lr_schedule != "cos" && o.lr_schedule != "cos_decay" && o.lr_schedule != "wsd")
    bad("lr_schedule", "unknown schedule '" + o.lr_schedule + "'", "cos, cos_decay or wsd");
  // Several GPUs (engine/dist) stay behind their switch until they have run on GPUs.
  if (!multigpu_enabled()) {
    if (o.devices != 1)
      throw EngineError("E_FLAG_UNSUPPORTED", "--devices " + std::to_string(o.devices) + ": this build trains on one device",
                        "use --devices 1", "devices");
    if (o.num_nodes != 1)
      throw EngineError("E_FLAG_UNSUPPORTED", "--num_nodes " + std::to_string(o.num_nodes) + ": this build trains on one machine",
                        "use --num_nodes 1", "num_nodes");
  }
  if (o.devices <= 0) bad("devices", "must be positive", "the GPUs to train on per machine, e.g. 1");
  // The CPU backend trains in one process: NCCL's collectives are GPU-only and the engine has no
  // collectives of its own, so there is no CPU route for several ranks.
  if (o.devices * o.num_nodes > 1 && o.accelerator == "cpu")
    throw EngineError("E_DIST_CPU",
                      "--devices " + std::to_string(o.devices) + " x --num_nodes " + std::to_string(o.num_nodes) +
                          " with --accelerator cpu: the CPU backend trains in one process",
                      "use --devices 1 --num_nodes 1 on the CPU (raise --micro_bsz for a larger batch), or train on GPUs",
                      o.devices > 1 ? "devices" : "num_nodes");
  // --my_testing picks the generation as in RWKV-PEFT (x070 when not given: the flag table's
  // x052 default is RWKV-PEFT's, whose RWKV-5 this engine does not train). RWKV-6 (x060) trains on
  // the CPU backend; the GPU's refusal (no WKV6 kernel yet) is train/gpu_support.cpp's.
  const std::string my_testing = f.get_string("my_testing");
  if (f.has("my_testing")) {
    if (!model_version_trains(my_testing))
      throw EngineError("E_FLAG_UNSUPPORTED",
                        "--my_testing " + my_testing + ": only RWKV-7 (x070) and RWKV-6 (x060) are trained by this engine",
                        "use --my_testing x070 or x060", "my_testing");
    o.model_version = my_testing;
  }
  if (o.lm_v7 && o.model_version != "x070")
    throw EngineError("E_FLAG_UNSUPPORTED",
                      "--my_testing " + o.model_version + " with RWKV-LM's flags: its train_temp trains RWKV-7 (x070) only",
                      "use RWKV-PEFT's flags (no --train_stage/--head_size) for an RWKV-6 model", "my_testing");

  // Flags whose meaning this engine does not implement: a non-default value is an error
  // (training would silently differ from what the user asked for), never a quiet no-op.
  auto unsupported_if = [&](const char* flag, bool differs, const std::string& hint) {
    if (f.has(flag) && differs)
      throw EngineError("E_FLAG_UNSUPPORTED", std::string("--") + flag + " " + f.values.at(flag).dump() +
                                                  " is not supported by this engine", hint, flag);
  };
  if (o.infctx) {
    if (o.chunk_ctx <= 0) bad("chunk_ctx", "must be positive", "tokens per infctx chunk, e.g. 512");
    if (o.data_type == "sft")
      throw EngineError("E_FLAG_UNSUPPORTED", "--train_type infctx with --data_type sft",
                        "RWKV-PEFT's infctx step trains (input, target) batches: use binidx or jsonl data", "train_type");
  }
  unsupported_if("dropout", f.get_float("dropout") != 0, "model dropout is not implemented; use --dropout 0 (lora_dropout is supported)");
  unsupported_if("weight_decay_final", f.get_float("weight_decay_final") > 0, "a decaying weight decay is not implemented");
  apply_data_flags(f, o);

  resolve_peft_options(f, o);
  o.my_pile_stage = o.lm_v7 ? 0 : int(f.get_int("my_pile_stage"));
  if (o.my_pile_stage < 0) bad("my_pile_stage", "must be 0 or more", "0 (off), 1 (write rwkv-init.pth), 2 or 3 (continue)");
  if (o.my_pile_stage > 0) apply_pile_stage_rules(f, o);
  // An epoch that is not a multiple of accumulate_grad_batches ends on a short optimizer step,
  // as Lightning runs it (train/epoch_plan.h); several ranks still need whole steps (trainer).
  if (o.infctx && o.peft.method == PeftMethod::State)
    throw EngineError("E_FLAG_UNSUPPORTED", "state tuning together with --train_type infctx",
                      "RWKV-PEFT runs them as separate modes: choose one", "train_type");
  // The older RWKV-PEFT has no --merge: its checkpoints always hold the adapter alone.
  if (!o.peft_new_form && !f.has("merge") && o.peft.method != PeftMethod::Full && o.peft.method != PeftMethod::State)
    o.merge = false;
  o.peft.seed = uint64_t(o.seed < 0 ? 0 : o.seed);
  resolve_quant(f, o);
  for (const auto& name : f.given) o.resolved.set(name, f.values.at(name));
  return o;
}

}  // namespace rwkv
