// The run protocol: one JSON object a line on stdout, each with `event` and the protocol
// version `v`; the same lines appended to proj_dir/metrics.jsonl. Human logs and the progress
// bar go to stderr. Events: start, step, checkpoint, epoch, warning, error, end; every field
// of each is described in core/protocol.schema.json, which the tests hold emitted lines to.
#pragma once
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

constexpr int kProtocolVersion = 1;

class RunProtocol {
 public:
  // metrics_path may be empty (no file). Opened in append mode so a resumed run continues it.
  explicit RunProtocol(const std::string& metrics_path = "");
  ~RunProtocol();
  // Adds "event" and "v" and a wall-clock "time" (unix seconds), writes one line, flushes.
  void emit(const std::string& event, Json fields);
  void warning(const std::string& code, const std::string& message);
  void error(const std::string& code, const std::string& message, const std::string& hint);
  void end(const std::string& status /* completed | stopped | failed */, Json fields = Json::object());
  // A rank other than 0 of a data-parallel run: only its `error` lines reach stdout, where the
  // launcher (dist/launcher.h) passes them on naming the rank; rank 0 speaks for the run.
  void set_errors_only(bool on) { errors_only_ = on; }
  // Tests: every line goes to `sink` instead of stdout.
  void set_sink(std::function<void(const std::string& line)> sink) { sink_ = std::move(sink); }
  // Sees every line emitted (event name, whole line), after it is written: `rwkv-train probe`
  // reads the start and step events of the run it times.
  void observe(std::function<void(const std::string&, const Json&)> observer) { observer_ = std::move(observer); }
  // The outputs a line goes to, as file descriptors (stdout unless a sink is set, and
  // metrics.jsonl when open): core/mapped_guard.h writes its last words there.
  std::vector<int> output_fds() const;
 private:
  std::FILE* metrics_ = nullptr;
  std::mutex mutex_;
  bool errors_only_ = false;
  std::function<void(const std::string&)> sink_;
  std::function<void(const std::string&, const Json&)> observer_;
};

}  // namespace rwkv
