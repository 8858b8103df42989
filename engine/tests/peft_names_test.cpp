// Every RWKV-PEFT --peft script form (tests/fixtures/peft_script_forms.json, which the server's
// peftNames.test.ts reads too) resolves to the same method everywhere in the engine: the flag
// table's peftMethods entry, the trainer detection, the train options and the planner.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/flags.h"
#include "core/planner.h"
#include "tests/check.h"
#include "train/train_options.h"

using namespace rwkv;

namespace {

std::string method_name(PeftMethod m) {
  switch (m) {
    case PeftMethod::Full: return "none";
    case PeftMethod::Lora: return "lora";
    case PeftMethod::Pissa: return "pissa";
    case PeftMethod::Miss: return "miss";
    case PeftMethod::State: return "state";
  }
  return "?";
}

void table_is_consistent() {
  // bone and disha are older names of miss and carry their settings in --disha_config (JL-er's
  // trainer); miss carries them in --miss_config (Joluck's); each configFlag is a table flag
  const PeftName* bone = find_peft_name("bone");
  const PeftName* disha = find_peft_name("disha");
  const PeftName* miss = find_peft_name("miss");
  CHECK(bone && disha && miss);
  if (!bone || !disha || !miss) return;
  CHECK(bone->method == "miss" && disha->method == "miss" && miss->method == "miss");
  CHECK(bone->config_flag == "disha_config" && disha->config_flag == "disha_config");
  CHECK(miss->config_flag == "miss_config");
  CHECK(!find_peft_name("bogus"));
  const FlagSpec* peft = find_flag("peft");
  CHECK(peft != nullptr);
  for (const PeftName& n : peft_names()) {
    if (!n.config_flag.empty()) {
      const FlagSpec* cfg = find_flag(n.config_flag);
      CHECK(cfg != nullptr);
      // the config flag exists in every trainer that spells the name
      if (cfg)
        for (const std::string& t : n.trainers)
          CHECK(std::find(cfg->trainers.begin(), cfg->trainers.end(), t) != cfg->trainers.end());
    }
    // --peft's values are the table's names
    if (peft) CHECK(std::find(peft->values.begin(), peft->values.end(), n.name) != peft->values.end());
  }
  if (peft) CHECK(peft->values.size() == peft_names().size());
}

void script_forms_resolve_alike() {
  std::ifstream in("fixtures/peft_script_forms.json");
  std::stringstream text;
  text << in.rdbuf();
  CHECK(!text.str().empty());
  if (text.str().empty()) return;
  const Json forms = Json::parse(text.str());
  int seen = 0;
  for (const Json& form : forms.find("forms")->items()) {
    const std::string source = form.find("source")->as_string();
    const std::string method = form.find("method")->as_string();
    const int r = int(form.find("r")->as_number());
    // the rest of a script, as server/test/peftNames.test.ts writes it
    std::vector<std::string> argv = {"--load_model", "m.pth", "--n_layer", "24", "--n_embd", "2048",
                                     "--vocab_size", "65536", "--data_file", "d", "--data_type", "binidx",
                                     "--ctx_len", "512", "--lr_init", "1e-5", "--lr_final", "1e-5"};
    for (const Json& w : form.find("argv")->items()) argv.push_back(w.as_string());
    try {

    const ParsedFlags parsed = parse_flags(argv);
    const std::string peft = parsed.get_string("train_type") == "state" ? "state" : parsed.get_string("peft");
    const PeftName* name = find_peft_name(peft);
    CHECK(name && name->method == method);
    const Json* trainer = form.find("trainer");
    if (trainer && trainer->kind() == Json::Kind::String) {
      const std::string detected = detect_trainer(parsed.given, parsed.get_string("peft"));
      if (detected != trainer->as_string()) rwkv_test::fail(__FILE__, __LINE__, source + ": trainer " + detected);
      if (name) CHECK(std::find(name->trainers.begin(), name->trainers.end(), detected) != name->trainers.end());
    }
    const std::string config_flag = form.find("configFlag")->as_string();
    if (name && config_flag != "peft_config") CHECK(name->config_flag == config_flag || config_flag.empty());

    // the train options
    TrainOptions o = train_options_from_flags(parsed);
    if (method_name(o.peft.method) != method)
      rwkv_test::fail(__FILE__, __LINE__, source + ": train options method " + method_name(o.peft.method));
    if (r > 0 && o.peft.r != r)
      rwkv_test::fail(__FILE__, __LINE__, source + ": train options r " + std::to_string(o.peft.r));

    // the planner, given the script's flags as the language server passes them (strings)
    std::map<std::string, Json> flags;
    for (const std::string& g : parsed.given) {
      const Json& v = parsed.values.at(g);
      flags[g] = v.kind() == Json::Kind::String ? v : Json(v.dump());
    }
    const PlanInput plan = plan_input_from_flags(flags);
    if (plan.peft != method) rwkv_test::fail(__FILE__, __LINE__, source + ": planner method " + plan.peft);
    if (r > 0 && plan.peft_r != r)
      rwkv_test::fail(__FILE__, __LINE__, source + ": planner r " + std::to_string(plan.peft_r));
    } catch (const EngineError& e) {
      rwkv_test::fail(__FILE__, __LINE__, source + ": " + e.code + " " + e.what());
    }
    ++seen;
  }
  CHECK(seen >= 10);
}

}  // namespace

int main() {
  table_is_consistent();
  script_forms_resolve_alike();
  return rwkv_test::summary("peft_names_test");
}
