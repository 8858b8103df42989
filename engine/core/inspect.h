// What a checkpoint or dataset holds, computed once for every consumer: `rwkv-train inspect`
// prints it as JSON for people and scripts, the Node addon hands it to the language server.
// One implementation, so the editor and the trainer never disagree about a file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/pth.h"

namespace rwkv {

struct CheckpointSummary {
  std::string format = "pth";          // pth | safetensors | peft-folder (adapter_model.safetensors inside)
  std::vector<TensorInfo> tensors;
  std::string version = "unknown";     // x070 | x060 | x052 | x040 | unknown, from tensor names
  int64_t n_layer = 0;                 // highest blocks.N + 1 (also under peft name prefixes)
  int64_t n_embd = 0, vocab_size = 0;  // from emb.weight (else head.weight); 0 when unknown
  int64_t head_size = 0;               // from the per-head tensors ([n_head, head_size])
  bool is_adapter = false;             // PEFT weights without the base model's embedding/head
  std::string adapter_method;          // lora | miss | state | partial | "" (none)
  int64_t params = 0;
  std::string dominant_dtype;          // the dtype holding the most elements
};

// Reads only the header (the pickle), never tensor data. Throws EngineError(E_PTH_*).
CheckpointSummary summarize_checkpoint(const std::string& path);
CheckpointSummary summarize_tensors(std::vector<TensorInfo> tensors);

struct DatasetSummary {
  std::string format;        // binidx | jsonl
  std::string path;          // the binidx prefix (suffix stripped) or the .jsonl file
  uint64_t tokens = 0;       // for jsonl: as make-data would write it once (+1 end-of-text a document)
  uint64_t documents = 0;
  std::string dtype;         // the token dtype (uint16 for jsonl, as make-data writes)
  uint64_t magic_prime = 0;  // for ctx_len > 0: make_data.py's rule, 0 when the data is too small
};

// `path`: a binidx prefix (or its .bin/.idx) or a .jsonl file. Throws EngineError.
DatasetSummary summarize_dataset(const std::string& path, uint64_t ctx_len, const std::string& vocab_path);

// True when `path` names a dataset (a .jsonl, or a binidx prefix/file that exists).
bool looks_like_dataset(const std::string& path);

}  // namespace rwkv
