// Errors the engine reports to the user: every failure becomes an `error` event with a stable
// code, a message and a hint (DESIGN.md "The run protocol"), never a crash or a stack trace.
#pragma once
#include <stdexcept>
#include <string>

namespace rwkv {

struct EngineError : std::runtime_error {
  std::string code;  // stable, e.g. "E_PTH_CORRUPT", "E_BINIDX_NO_IDX", "E_FLAG_UNKNOWN"
  std::string hint;  // what the user can do next
  std::string flag;  // the train.py flag it is about, without "--" ("" when none): editors put the note there
  EngineError(std::string code_, const std::string& message, std::string hint_ = "", std::string flag_ = "")
      : std::runtime_error(message), code(std::move(code_)), hint(std::move(hint_)), flag(std::move(flag_)) {}
};

}  // namespace rwkv
