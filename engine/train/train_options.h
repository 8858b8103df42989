// Everything a training run needs, resolved from train.py flags (RWKV-PEFT and RWKV-LM) and
// validated once, so the loop never meets a half-checked value.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/model_config.h"

namespace rwkv {

struct TrainOptions {
  std::string load_model;        // "" = random init (written to proj_dir/rwkv-init.pth)
  std::string proj_dir = "out";
  std::string data_file;
  std::string data_type = "binidx";  // binidx | jsonl | sft
  std::string dataload = "pad";      // pad (per document) | get (binidx with magic_prime)
  bool dataload_given = false;       // an explicit --dataload pad keeps the per-document sampler
  std::string loss_mask = "none";    // none | pad | qa
  std::vector<std::string> sft_fields;  // --sft_field PROMPT RESPONSE (empty: detect)
  int64_t sft_split_rows = -1;       // --sft_split train[:N]: the first N rows; -1 = all
  int vocab_size = 65536;
  int ctx_len = 1024;
  int n_layer = 6, n_embd = 512, head_size = 64;
  std::string model_version = "x070";  // --my_testing: x070 (RWKV-7) or x060 (RWKV-6, CPU backend only)
  std::string head_size_flag = "head_size_a";  // the flag head_size was read from (RWKV-LM spells it head_size)
  float head_size_divisor = 8;
  int64_t epoch_steps = 1000, epoch_count = 500, epoch_begin = 0, epoch_save = 5;
  int micro_bsz = 12;
  int accumulate_grad_batches = 1;
  double lr_init = 6e-4, lr_final = 1e-5;
  int64_t warmup_steps = -1;
  std::string lr_schedule = "cos";   // cos | cos_decay | wsd
  float beta1 = 0.9f, beta2 = 0.99f, adam_eps = 1e-8f, weight_decay = 0, grad_clip = 1.0f;
  int64_t magic_prime = 0, my_exit_tokens = 0;
  bool data_shuffle = true;
  int64_t seed = -1;                 // --random_seed; -1 = fixed default 0 (reproducible)
  bool merge = true;                 // --merge 1: save merged weights
  // --quant int8 | nf4: the base's block linears stored quantised (core/quant.h); PEFT only
  QuantType quant = QuantType::None;
  PeftConfig peft;
  std::string peft_name = "none";
  bool peft_new_form = false;        // --peft_config (Hugging Face peft keys): peft's adapter names
  std::string lora_load;             // adapter to continue from (lora_config.lora_load, *_config.load)
  // PiSSA (--peft pissa, or init_lora_weights "pissa"/"pissa_niter_N"): adapters start from the
  // SVD of W, written to proj_dir/init_pissa.pth; see cpu/pissa.h.
  bool pissa = false;
  std::string pissa_load;            // a trained PiSSA adapter to continue from (needs pissa_init)
  std::string pissa_init;            // an init_pissa.pth to start from instead of a new SVD
  int pissa_oversample = 0;          // extra SVD columns ("pissa": converged, not svd_lowrank's)
  std::string init_lora_weights = "true";  // newest form: true | gaussian | pissa | pissa_niter_N
  std::vector<std::pair<std::string, std::string>> warnings;  // (code, message) for the start
  std::string accelerator = "gpu";   // cpu | gpu/cuda
  int devices = 1;
  bool grad_cp = false;
  int head_chunk = 0;                // --head_chunk: GPU logits rows at a time (0 = 1024)
  bool infctx = false;               // --train_type infctx: train ctx_len in chunks of chunk_ctx
  int chunk_ctx = 512;
  int threads = 0;
  // RWKV-LM's train_temp/train.py is the target (`lm_v7`): a flag only it has was given
  // (--train_stage, --head_size, --kernel, --grad_clip, --head_chunk, --enable_progress_bar, as
  // the language server's detectTrainer reads a script) and none it lacks. Then its rules hold:
  // a mini-epoch is 40320 samples (epoch_steps = 40320 / real_bsz, checked to divide exactly),
  // epoch_count = magic_prime / 40320 (the run ends at my_exit_tokens, not at epoch_count),
  // magic_prime is checked against the data, adam_eps defaults to 1e-18, att.w0 trains at 2x lr,
  // weight decay only on >=2-D ".weight" tensors, and L2Wrap follows the loss's scale.
  bool lm_v7 = false;
  int train_stage = 0;          // 1: write proj_dir/rwkv-init.pth and stop; >=2: continue (below)
  bool continue_newest = false; // train_stage >= 2: the model and epoch_begin come from proj_dir's
                                // newest rwkv-N.pth (rwkv-init.pth when none), found by the trainer
  // The older RWKV-PEFT's --my_pile_stage (JL-er 5b8aac9 train.py, inherited from RWKV-LM v5):
  // > 0 forces epoch_steps = 40320 / real_bsz (asserted to divide) and, for the lr schedule and
  // the "last epoch is saved" rule only, epoch_count = magic_prime / 40320 (`schedule_epoch_count`;
  // Lightning's max_epochs was taken from --epoch_count before, so that many epochs still run);
  // 1 writes proj_dir/rwkv-init.pth and stops; >= 2 continues from the newest rwkv-N.pth as
  // RWKV-LM's --train_stage does, warming up 10 steps at stage 2 and 30 at 3+ (`continue_warmup`).
  int my_pile_stage = 0;
  int64_t schedule_epoch_count = -1;  // -1: epoch_count
  int continue_warmup = 10;           // warmup_steps when continuing from a trained rwkv-N.pth
  // Write proj_dir/rwkv-init.pth and stop (RWKV-LM --train_stage 1, RWKV-PEFT --my_pile_stage 1).
  bool init_only() const { return train_stage == 1 || my_pile_stage == 1; }
  int num_nodes = 1;
  int64_t real_bsz() const { return int64_t(num_nodes) * devices * micro_bsz; }
  std::vector<std::string> ignored_flags;
  std::vector<std::string> given_flags;  // what the user passed (sizes are checked against the checkpoint)
  Json resolved = Json::object();    // the config echoed in the `start` event
};

// Throws EngineError(E_FLAG_VALUE / E_PEFT_CONFIG / E_FLAG_UNSUPPORTED) with hints.
TrainOptions train_options_from_flags(const ParsedFlags& flags);

}  // namespace rwkv
