// The CLI's view of the flag table (server/src/flags/flags.json, embedded at build time):
// parses train.py-style argv into typed values, rejecting unknown flags (with "did you mean")
// and bad values, and collecting the Lightning/DeepSpeed-only flags it ignores.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

struct FlagSpec {
  std::string name, type;   // type: int, float, string, bool01, path, json
  Json default_value;
  std::vector<std::string> values;  // allowed values, empty = any
  bool engine_uses = true;          // false: accepted and reported as ignored
  std::string doc_en, doc_zh;
  Json min_value, max_value;        // numeric bounds, null when none
  int64_t multiple_of = 0;          // RWKV-7 kernels' chunk (ctx_len: 16, RWKV-LM's CHUNK_LEN); 0 when none
  std::string nargs;                // "", "*" or "+" (argparse list flags: the value is an array)
  std::string deprecated;           // the flag to use instead, when deprecated
  Json trainer_defaults;            // {trainer: default} where one trainer's default differs
  std::vector<std::string> trainers;  // the train.py versions that accept it: peft, peft-legacy, lm-v7
  std::vector<std::string> accepted;  // values plus every trainer's trainerValues (the engine takes the union)
};

const std::vector<FlagSpec>& flag_table();     // parsed once from the embedded JSON
const FlagSpec* find_flag(const std::string& name);

struct ParsedFlags {
  std::map<std::string, Json> values;          // every known flag: given value or default
  std::vector<std::string> given;              // flags the user passed, in order
  std::vector<std::string> ignored;            // given flags the engine does not use
  bool has(const std::string& name) const;     // true when the user passed it
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  std::string get_string(const std::string& name) const;
};

// The candidate closest to `given` by edit distance, or "" when none is plausibly meant.
std::string closest_name(const std::string& given, const std::vector<std::string>& candidates);

// Which train.py a command line is written for ("peft", "peft-legacy" or "lm-v7"), from the flag
// names it gives and its --peft value, by the table's `trainerDetection` (the server's rule).
std::string detect_trainer(const std::vector<std::string>& names, const std::string& peft_value);

// What `--written` names in that trainer's argparse ("" = any trainer's options): the full name
// (exact or a unique prefix), or an empty name with the candidates of an ambiguous prefix.
struct OptionMatch {
  std::string name;
  std::vector<std::string> candidates;
  bool argparse_only = false;  // --help or a Lightning Trainer argument: not in the table
};
OptionMatch resolve_option(const std::string& written, const std::string& trainer);

// One --peft name of the table's `peftMethods` (flags.json): what it trains, which trainers
// spell it, the older JSON flag carrying its settings ("" = none) and the --peft_config key set.
struct PeftName {
  std::string name, method, config_flag, peft_config;
  std::vector<std::string> trainers;
  bool supported = true;
};
const std::vector<PeftName>& peft_names();
const PeftName* find_peft_name(const std::string& name);  // nullptr for a name not in the table

// Accepts `--flag value`, `--flag=value` and, as train.py's argparse does, any unique prefix of a
// flag of the trainer the command line is written for (`--micro 2`); an ambiguous prefix is
// E_FLAG_UNKNOWN with argparse's message and the candidates. Throws EngineError(E_FLAG_UNKNOWN / E_FLAG_VALUE)
// with a hint ("did you mean --n_layer?").
ParsedFlags parse_flags(const std::vector<std::string>& args);

}  // namespace rwkv
