// Where training samples come from. A sample is a pure function of (epoch, index in epoch), so
// a resumed run reads exactly the samples the uninterrupted run would have read.
// - binidx + magic_prime (and --dataload get, or no --dataload given): RWKV-LM's pretraining
//   sampler (a cubic walk modulo magic_prime over ctx_len-sized slots of the whole stream).
// - binidx otherwise (--dataload pad), jsonl, sft: RWKV-PEFT's document sampler, one document
//   per sample, windows and loss masks exactly as RWKV-PEFT builds them (train/peft_samples.h):
//   --loss_mask none/pad (padding never counts) and qa (answers after "Assistant:" only);
//   documents shuffled per epoch from the seed when --data_shuffle 1.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rwkv {

struct TrainOptions;
struct JsonlObject;

class DataSource {
 public:
  virtual ~DataSource() = default;
  // Fills ctx_len inputs, targets and loss-mask values for one sample.
  virtual void sample(int64_t epoch, int64_t index, int32_t* inputs, int32_t* targets,
                      float* mask) const = 0;
  virtual uint64_t num_tokens() const = 0;
  virtual uint64_t num_documents() const = 0;
  // Documents an epoch draws from, as the script's trainer counts them (its dataset's length:
  // too-short documents included); the epoch plan (train/epoch_plan.h) is built from it.
  virtual uint64_t pool_documents() const { return num_documents(); }
  virtual std::string kind() const = 0;
  // Throws EngineError(E_DATA_CHANGED) when a file the samples are still read from changed
  // since it was opened (memory-mapped binidx); data read whole at open never does.
  virtual void check_unchanged() const {}
};

// Throws EngineError (E_DATA_*, E_BINIDX_*) for missing, empty or unusable data. pool_limit:
// documents kept from the start of the data (-1 = all; train/epoch_plan.h epoch_pool_limit);
// the magic_prime sampler takes it as its samples per epoch.
std::unique_ptr<DataSource> open_data_source(const TrainOptions& opt, int64_t pool_limit);

// True when binidx data is read by RWKV-LM's magic_prime sampler rather than per document.
bool uses_stream_sampler(const TrainOptions& opt);

// sft: the prompt and response field names (--sft_field, else the first usual pair the first
// row has) and a row's field as text; EngineError(E_FLAG_VALUE / E_DATA_JSONL) otherwise.
std::vector<std::string> sft_fields_of(const std::vector<std::string>& given, const JsonlObject& first);
std::string sft_text(const JsonlObject& row, const std::string& file, const std::string& name);

// RWKV-LM's sample position for magic_prime sampling (exposed for tests).
uint64_t magic_prime_offset(uint64_t magic_prime, uint64_t ctx_len, uint64_t ii);

}  // namespace rwkv
