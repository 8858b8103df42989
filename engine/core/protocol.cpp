// The run protocol writer: one compact JSON object a line on stdout and in metrics.jsonl.
// See protocol.h and ARCHITECTURE.md "Contracts between parts".
#include "core/protocol.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/errors.h"

namespace rwkv {

RunProtocol::RunProtocol(const std::string& metrics_path) {
  if (metrics_path.empty()) return;
  metrics_ = std::fopen(metrics_path.c_str(), "a+");
  if (!metrics_)
    throw EngineError(errno == EACCES || errno == EROFS || errno == EPERM ? "E_IO_PERMISSION" : "E_IO_WRITE",
                      metrics_path + ": cannot open for appending (" + std::strerror(errno) + ")",
                      "check that proj_dir exists and is writable, or give a --proj_dir you can write to");
  // A run killed mid-line (SIGKILL, power loss) leaves a last line without its newline; the
  // first line of the next launch would be glued to it and both lost to a reader. End it first.
  if (std::fseek(metrics_, -1, SEEK_END) == 0 && std::fgetc(metrics_) != '\n') {
    std::fseek(metrics_, 0, SEEK_END);
    std::fputc('\n', metrics_);
    std::fflush(metrics_);
  }
}

RunProtocol::~RunProtocol() {
  if (metrics_) std::fclose(metrics_);
}

void RunProtocol::emit(const std::string& event, Json fields) {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // event, v and time lead the line so a reader (or a human with `tail`) sees them first.
  Json line = Json::object();
  line.set("event", event);
  line.set("v", kProtocolVersion);
  line.set("time", static_cast<double>(static_cast<int64_t>(now * 1000)) / 1000.0);
  if (fields.kind() == Json::Kind::Object)
    for (const auto& m : fields.members())
      if (m.first != "event" && m.first != "v" && m.first != "time") line.set(m.first, m.second);
  const std::string text = line.dump() + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  if (errors_only_ && event != "error") return;
  if (sink_) {
    sink_(text);
  } else {
    // A closed stdout (the editor went away) must not stop training; metrics.jsonl still gets it.
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  if (metrics_) {
    std::fwrite(text.data(), 1, text.size(), metrics_);
    std::fflush(metrics_);
  }
  if (observer_) observer_(event, line);
}

std::vector<int> RunProtocol::output_fds() const {
  std::vector<int> fds;
  if (!sink_) fds.push_back(fileno(stdout));
  if (metrics_) fds.push_back(fileno(metrics_));
  return fds;
}

void RunProtocol::warning(const std::string& code, const std::string& message) {
  Json f = Json::object();
  f.set("code", code);
  f.set("message", message);
  emit("warning", std::move(f));
}

void RunProtocol::error(const std::string& code, const std::string& message, const std::string& hint) {
  Json f = Json::object();
  f.set("code", code);
  f.set("message", message);
  f.set("hint", hint);
  emit("error", std::move(f));
}

void RunProtocol::end(const std::string& status, Json fields) {
  Json f = Json::object();
  f.set("status", status);
  if (fields.kind() == Json::Kind::Object)
    for (const auto& m : fields.members())
      if (m.first != "status") f.set(m.first, m.second);
  emit("end", std::move(f));
}

}  // namespace rwkv
