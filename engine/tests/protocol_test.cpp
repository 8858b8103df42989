// Run protocol: each event is one JSON line with event, v and time first, the same line in
// metrics.jsonl, which a resumed run appends to. The schema validator (core/json_schema) the
// other tests check emitted lines with refuses what the protocol's schema does not allow.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"
#include "core/json_schema.h"
#include "core/protocol.h"
#include "tests/check.h"
#include "tests/protocol_check.h"

using namespace rwkv;

static std::vector<Json> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<Json> out;
  for (std::string line; std::getline(f, line);) out.push_back(Json::parse(line));
  return out;
}

static Json step_line() {
  return Json::parse(R"({"event":"step","v":1,"time":1765000000.5,"step":3,"epoch":0,"loss":2.5,"lr":0.001,)"
                     R"("tokens":192,"real_step":3,"tokens_per_s":1000.5,"grad_norm":0.5,"gpu_mem_used_bytes":1024,)"
                     R"("gpu_mem_reserved_bytes":2048,"elapsed_s":0.25})");
}

static size_t problems(Json line) { return rwkv_test::protocol_schema().validate(line).size(); }

// The validator can fail: each kind of mistake the engine could make is caught.
static void schema_refuses_what_it_does_not_allow() {
  const JsonSchema& schema = rwkv_test::protocol_schema();
  CHECK(schema.root().find("version")->as_number() == kProtocolVersion);
  for (const char* e : {"start", "step", "checkpoint", "epoch", "warning", "error", "end"})
    CHECK(schema.root().find("$defs")->find(e) != nullptr);
  CHECK(problems(step_line()) == 0);
  Json extra = step_line();
  extra.set("gpu_temperature", 70);
  CHECK(problems(extra) > 0);  // a field the schema does not name
  Json missing = Json::object();
  const Json full = step_line();
  for (const auto& m : full.members()) if (m.first != "real_step") missing.set(m.first, m.second);
  CHECK(problems(missing) > 0);
  Json wrong_type = step_line();
  wrong_type.set("loss", "2.5");
  CHECK(problems(wrong_type) > 0);
  Json fraction = step_line();
  fraction.set("tokens", 1.5);  // an integer field
  CHECK(problems(fraction) > 0);
  Json version = step_line();
  version.set("v", 2);
  CHECK(problems(version) > 0);
  Json unknown_event = step_line();
  unknown_event.set("event", "progress");
  CHECK(problems(unknown_event) > 0);
  Json ckpt = Json::parse(R"({"event":"checkpoint","v":1,"time":1.0,"path":"/p/rwkv-0.pth","bytes":10,"step":0,"kind":"adapter"})");
  CHECK(problems(ckpt) == 0);
  ckpt.set("kind", "lora");
  CHECK(problems(ckpt) > 0);
  Json nested = Json::parse(R"({"backend":"cpu","name":"CPU","cores":2})");
  CHECK(schema.validate_def("step", nested).size() > 0);
  // several ranks: every rank's memory, each item checked against `items`
  Json ranks = step_line();
  ranks.set("ranks", Json::parse(R"([{"rank":0,"gpu_mem_used_bytes":5,"gpu_mem_reserved_bytes":6},
                                     {"rank":1,"gpu_mem_used_bytes":7,"gpu_mem_reserved_bytes":8}])"));
  CHECK(problems(ranks) == 0);
  ranks.set("ranks", Json::parse(R"([{"rank":0,"gpu_mem_used_bytes":5,"gpu_mem_reserved_bytes":6},{"rank":1}])"));
  CHECK(problems(ranks) > 0);
  ranks.set("ranks", Json::parse(R"([{"rank":0,"gpu_mem_used_bytes":5,"gpu_mem_reserved_bytes":6,"gpu":"x"}])"));
  CHECK(problems(ranks) > 0);
  // a schema may only use what the validator checks
  CHECK_THROWS_CODE(JsonSchema(Json::parse(R"({"type":"integer","minimum":0})")), "E_SCHEMA");
  CHECK_THROWS_CODE(JsonSchema(Json::parse(R"({"$ref":"#/$defs/none"})")), "E_SCHEMA");
}

int main() {
  schema_refuses_what_it_does_not_allow();
  const std::string path = "/tmp/rwkv_protocol_test_" + std::to_string(::getpid()) + ".jsonl";
  {
    RunProtocol p(path);
    Json step = Json::object();
    step.set("step", 3);
    step.set("loss", 2.5);
    step.set("event", "overridden?");  // callers cannot replace the envelope
    p.emit("step", step);
    p.warning("W_IGNORED_FLAG", "--strategy is ignored");
    p.error("E_DATA_EMPTY", "no tokens", "check the data");
  }
  {
    RunProtocol resumed(path);  // appends
    Json f = Json::object();
    f.set("steps", 10);
    f.set("final_loss", 1.25);
    resumed.end("completed", f);
  }
  std::vector<Json> lines = read_lines(path);
  CHECK(lines.size() == 4);
  if (lines.size() == 4) {
    CHECK(lines[0].members()[0].first == "event" && lines[0].members()[1].first == "v" && lines[0].members()[2].first == "time");
    CHECK(lines[0].find("event")->as_string() == "step");
    CHECK(lines[0].find("v")->as_number() == kProtocolVersion);
    CHECK(lines[0].find("time")->as_number() > 1.6e9);
    CHECK(lines[0].find("loss")->as_number() == 2.5);
    CHECK(lines[1].find("event")->as_string() == "warning" && lines[1].find("code")->as_string() == "W_IGNORED_FLAG");
    CHECK(lines[2].find("hint")->as_string() == "check the data");
    CHECK(lines[3].find("status")->as_string() == "completed" && lines[3].find("steps")->as_number() == 10);
    for (size_t i = 1; i < 4; ++i) CHECK_PROTOCOL_EVENT(lines[i]);  // what RunProtocol itself writes
  }
  std::remove(path.c_str());
  {  // a launch killed mid-line left a torn last line: the next launch ends it before its own
    std::ofstream(path) << "{\"event\":\"step\",\"v\":1,\"time\":1,\"step\":1,\"lo";
    { RunProtocol again(path); again.warning("W_X", "after the torn line"); }
    std::ifstream in(path);
    std::string torn, next, rest;
    std::getline(in, torn);
    std::getline(in, next);
    CHECK(torn == "{\"event\":\"step\",\"v\":1,\"time\":1,\"step\":1,\"lo");
    CHECK(Json::parse(next).find("code")->as_string() == "W_X");
    CHECK(!std::getline(in, rest));
    std::remove(path.c_str());
  }
  CHECK_THROWS_CODE(RunProtocol("/nonexistent_dir_rwkv/metrics.jsonl"), "E_IO_WRITE");
  return rwkv_test::summary("protocol_test");
}
