// The facts the language server asks for (server/src/facts/facts.ts), computed by the engine's
// core library and returned as JSON values in exactly that file's shapes (camelCase). Pure C++
// with no N-API, so CTest covers them directly; addon.cpp only moves them across to JavaScript.
// Compiled into rwkv_core (see addon.cmake) so the CLI, the tests and the addon share one copy.
#pragma once
#include <map>
#include <string>

#include "core/json.h"

namespace rwkv::facts {

// CheckpointFacts: {tensors:[{name,shape,dtype}], version, nLayer, nEmbd, vocabSize, headSize,
// isAdapter}. Reads the .pth header only. Throws EngineError (E_PTH_*) with a user-facing message.
Json inspect_checkpoint(const std::string& path);

// DatasetFacts: {tokens, documents, dtype, magicPrime?, myExitTokens?}. `path` is a binidx prefix
// (no suffix) or a .jsonl file (tokenized with the World vocabulary at `vocab_path`; each
// document also counts the end-of-text token make_data.py appends). ctx_len <= 0: no magicPrime.
Json inspect_dataset(const std::string& path, int64_t ctx_len, const std::string& vocab_path);

// {gpus:[{index,name,computeCapability,totalBytes,freeBytes,driverVersion}], reason?}
Json list_gpus();

// MemoryPlan: {totalBytes, byCategory:{...}, stack, trainableParams, totalParams}. `flags` maps
// flag names to values as a script gives them. Throws EngineError(E_PLAN_FLAGS).
Json plan_memory(const std::map<std::string, Json>& flags, const std::string& stack);

}  // namespace rwkv::facts
