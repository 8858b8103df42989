// checkRun: can the bundled engine train this train.py call as written? Answered without reading
// a model or dataset, by the very rules `rwkv-train` applies: the flag table (core/flags), the
// option rules (train/train_options, train/peft_options) and what the GPU backend cannot run yet
// (train/gpu_support). The language server turns a refusal into diagnostic RWKV026.
// Compiled into rwkv_options (CMakeLists.txt), so CTest checks the same code the addon runs.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv::facts {

// argv: the words after train.py, as the server resolves them. Returns
// {ok: true, warnings: [{code, message}]} or {ok: false, code, message, hint}.
Json check_run(const std::vector<std::string>& argv);

}  // namespace rwkv::facts
