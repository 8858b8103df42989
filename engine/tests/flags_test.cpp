// Flag parsing against the real embedded table (server/src/flags/flags.json): both value
// forms, types, enums, bounds, list and switch flags, ignored flags, did-you-mean.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/errors.h"
#include "core/flags.h"
#include "tests/check.h"

using namespace rwkv;

static std::string hint_of(const std::vector<std::string>& args) {
  try { parse_flags(args); } catch (const EngineError& e) { return e.code + " | " + e.what() + " | " + e.hint; }
  return "no error";
}

static std::string flag_of(const std::vector<std::string>& args) {
  try { parse_flags(args); } catch (const EngineError& e) { return e.flag; }
  return "no error";
}

int main() {
  CHECK(flag_table().size() > 50);
  const FlagSpec* n_layer = find_flag("n_layer");
  CHECK(n_layer && n_layer->type == "int" && n_layer->engine_uses);
  CHECK(find_flag("no_such_flag") == nullptr);
  // a bad value names its flag (EngineError::flag), also when written as an abbreviation
  CHECK(flag_of({"--n_layer", "x"}) == "n_layer");
  CHECK(flag_of({"--peft_config", "{"}) == "peft_config");
  CHECK(flag_of({"--n_lay", "x"}) == "n_layer");
  CHECK(flag_of({"--n_layer"}) == "n_layer");
  CHECK(flag_of({"--no_such_flag", "1"}).empty());

  ParsedFlags p = parse_flags({"--n_layer", "12", "--n_embd=768", "--lr_init", "6e-4", "--my_testing", "x070",
                               "--peft_config", R"({"r":32,"lora_alpha":64})", "--data_file", "data/minipile",
                               "--strategy", "deepspeed_stage_2", "--grad_cp", "1"});
  CHECK(p.get_int("n_layer") == 12);
  CHECK(p.get_int("n_embd") == 768);
  CHECK(p.get_float("lr_init") == 6e-4);
  CHECK(p.get_string("my_testing") == "x070");
  CHECK(p.get_string("data_file") == "data/minipile");
  CHECK(p.values.at("peft_config").find("lora_alpha")->as_number() == 64);
  CHECK(p.get_int("grad_cp") == 1);
  CHECK(p.has("n_layer") && !p.has("ctx_len"));
  CHECK(p.get_int("ctx_len") == 1024);  // the table's default
  CHECK((p.given == std::vector<std::string>{"n_layer", "n_embd", "lr_init", "my_testing", "peft_config", "data_file", "strategy", "grad_cp"}));
  CHECK(p.ignored == std::vector<std::string>{"strategy"});
  // The last occurrence wins, as with argparse; the flag is listed once.
  ParsedFlags twice = parse_flags({"--n_layer", "2", "--n_layer=3"});
  CHECK(twice.get_int("n_layer") == 3 && twice.given.size() == 1);
  // Negative numbers are values, not flags.
  CHECK(parse_flags({"--random_seed", "-1"}).get_int("random_seed") == -1);
  // List flags take the words up to the next flag.
  ParsedFlags parts = parse_flags({"--train_parts", "time", "ln", "--n_layer", "4"});
  CHECK(parts.values.at("train_parts").items().size() == 2 && parts.get_int("n_layer") == 4);
  CHECK(hint_of({"--train_parts", "time", "bogus"}).find("E_FLAG_VALUE") == 0);

  // Unknown flags suggest the nearest name.
  CHECK(hint_of({"--n_layr", "12"}).find("did you mean --n_layer?") != std::string::npos);
  CHECK(hint_of({"--lr-init", "1"}).find("did you mean --lr_init?") != std::string::npos);
  CHECK(hint_of({"--zzzzzzzzzzzz", "1"}).find("E_FLAG_UNKNOWN") == 0);
  CHECK(hint_of({"--zzzzzzzzzzzz", "1"}).find("did you mean") == std::string::npos);
  // Bad values name the flag and say what is expected.
  CHECK(hint_of({"--n_layer", "twelve"}).find("E_FLAG_VALUE | --n_layer: invalid value \"twelve\" (expects an integer)") == 0);
  CHECK(hint_of({"--n_layer", "12.5"}).find("E_FLAG_VALUE") == 0);
  CHECK(hint_of({"--lr_init", "fast"}).find("expects a number") != std::string::npos);
  CHECK(hint_of({"--lr_init", "nan"}).find("E_FLAG_VALUE") == 0);
  CHECK(hint_of({"--grad_cp", "2"}).find("expects 0 or 1") != std::string::npos);
  CHECK(hint_of({"--my_testing", "x071"}).find("accepts: x070 x060 x052") != std::string::npos);
  CHECK(hint_of({"--ctx_len", "0"}).find("must be at least 1") != std::string::npos);
  CHECK(hint_of({"--beta1", "1.5"}).find("must be at most 1") != std::string::npos);
  CHECK(hint_of({"--peft_config", "{r:32}"}).find("at byte 1") != std::string::npos);
  CHECK(hint_of({"--n_layer"}).find("--n_layer needs a value") != std::string::npos);
  CHECK(hint_of({"--n_layer", "--n_embd", "64"}).find("--n_layer needs a value") != std::string::npos);
  CHECK(hint_of({"12"}).find("unexpected argument \"12\"") != std::string::npos);
  CHECK(hint_of({"--n_layer", "12", "13"}).find("quote values that contain spaces") != std::string::npos);
  CHECK(hint_of({"--fla", "1"}).find("--fla takes no value") != std::string::npos);
  CHECK(hint_of({"--n_layer", "12", "13"}).find("unexpected argument \"13\"") != std::string::npos);

  // Switch flags (argparse store_true) take no value.
  for (const FlagSpec& f : flag_table()) {
    if (f.type != "switch") continue;
    ParsedFlags s = parse_flags({"--" + f.name, "--n_layer", "2"});
    CHECK(s.values.at(f.name).as_bool() && s.get_int("n_layer") == 2);
    CHECK(s.get_int(f.name) == 1 && parse_flags({}).get_int(f.name) == 0);
    break;
  }
  // argparse's prefixes, per trainer (the table's trainerDetection picks it, as the server does)
  ParsedFlags abbrev = parse_flags({"--micro", "2", "--epoch_step=800"});
  CHECK(abbrev.get_int("micro_bsz") == 2 && abbrev.get_int("epoch_steps") == 800);
  CHECK((abbrev.given == std::vector<std::string>{"micro_bsz", "epoch_steps"}));
  CHECK(hint_of({"--peft_config", "{}", "--head_size", "64"}).find("E_FLAG_UNKNOWN | ambiguous option: --head_size could match --head_size_a, --head_size_divisor") == 0);
  CHECK(parse_flags({"--train_stage", "1", "--head_size", "64"}).get_int("head_size") == 64);
  CHECK(hint_of({"--train_stage", "1", "--max", "3"}).find("could match --max_epochs, --max_steps, --max_time") != std::string::npos);
  CHECK(hint_of({"--train_stage", "1", "--max_steps", "3"}).find("Lightning Trainer argument") != std::string::npos);
  CHECK(hint_of({"--he"}).find("ambiguous option: --he could match --help, --head_qk") != std::string::npos);
  CHECK(detect_trainer({"peft_config", "head_size"}, "") == "peft" && detect_trainer({"head_size"}, "") == "lm-v7");
  CHECK(detect_trainer({"peft"}, "disha") == "peft-legacy");
  // -1e-5 is an option to argparse, -1 and -.5 are values
  CHECK(hint_of({"--lr_init", "-1e-5"}).find("--lr_init needs a value") != std::string::npos);
  CHECK(hint_of({"--lr_init=-1e-5"}).find("must be at least 0") != std::string::npos);  // a value, out of bounds
  CHECK(parse_flags({"--warmup_steps", "-1"}).get_int("warmup_steps") == -1);
  // a value one trainer accepts (the older RWKV-PEFT's --quant fp8) passes the parser
  CHECK(parse_flags({"--quant", "fp8"}).get_string("quant") == "fp8");
  CHECK(parse_flags({"--strategy", "ddp_find_unused_parameters_true"}).get_string("strategy") == "ddp_find_unused_parameters_true");

  // The argparse differential cases (server/test/argparse/outcomes.json, python3's outcomes):
  // what argparse refuses the engine refuses; what it accepts the engine reads with the same
  // flags, or refuses only for a value (E_FLAG_VALUE: the engine is stricter about nan, 2_000).
  {
    std::ifstream in("../../server/test/argparse/outcomes.json");
    std::stringstream text;
    text << in.rdbuf();
    CHECK(!text.str().empty());
    const Json outcomes = text.str().empty() ? Json() : Json::parse(text.str());
    int compared = 0, stricter = 0;
    if (const Json* cases = outcomes.find("cases")) {
      for (const Json& c : cases->items()) {
        std::vector<std::string> argv;
        for (const Json& w : c.find("argv")->items()) argv.push_back(w.as_string());
        const Json& o = *c.find("outcome");
        const bool ok = o.find("ok")->as_bool();
        const std::string error = ok ? "" : o.find("error")->as_string();
        if (error.rfind("exit 0", 0) == 0) continue;  // --help
        std::string code, what;
        ParsedFlags p;
        try { p = parse_flags(argv); } catch (const EngineError& e) { code = e.code; what = e.what(); }
        ++compared;
        std::string where;
        for (const std::string& w : argv) where += " " + w;
        if (ok) {
          if (code == "E_FLAG_VALUE") { ++stricter; continue; }
          if (!code.empty()) { rwkv_test::fail(__FILE__, __LINE__, "argparse accepts" + where + ", the engine says " + what); continue; }
          std::set<std::string> given(p.given.begin(), p.given.end()), expected;
          for (const auto& kv : o.find("given")->members()) expected.insert(kv.first);
          if (given != expected) rwkv_test::fail(__FILE__, __LINE__, "different flags for" + where);
        } else if (code.empty()) {
          rwkv_test::fail(__FILE__, __LINE__, "argparse refuses" + where + " (" + error + "), the engine accepts it");
        } else if (error.rfind("ambiguous option", 0) == 0 && what != error) {
          rwkv_test::fail(__FILE__, __LINE__, "argparse says " + error + ", the engine " + what);
        }
      }
    }
    CHECK(compared > 1000);
    std::fprintf(stderr, "flags_test: %d argparse cases compared, %d refused only for a value\n", compared, stricter);
  }

  CHECK(closest_name("gpu", {"gpus", "inspect", "make-data"}) == "gpus");
  CHECK(closest_name("xyz", {"gpus", "inspect"}).empty());
  CHECK_THROWS_CODE(p.get_int("not_a_flag"), "E_FLAG_UNKNOWN");
  return rwkv_test::summary("flags_test");
}
