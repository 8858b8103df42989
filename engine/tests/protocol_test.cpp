// Run protocol: each event is one JSON line with event, v and time first, the same line in
// metrics.jsonl, which a resumed run appends to.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"
#include "core/protocol.h"
#include "tests/check.h"

using namespace rwkv;

static std::vector<Json> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<Json> out;
  for (std::string line; std::getline(f, line);) out.push_back(Json::parse(line));
  return out;
}

int main() {
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
  }
  std::remove(path.c_str());
  CHECK_THROWS_CODE(RunProtocol("/nonexistent_dir_rwkv/metrics.jsonl"), "E_IO_WRITE");
  return rwkv_test::summary("protocol_test");
}
