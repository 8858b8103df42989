// Subcommands of rwkv-train register themselves (one file each: inspect_command.cpp,
// make_data_command.cpp, init_command.cpp, train_command.cpp, gpus_command.cpp, ...), so the
// CLI's main.cpp needs no list that every command owner would edit.
#pragma once
#include <string>
#include <vector>

namespace rwkv::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);  // returns the exit code

struct Command {
  const char* name;     // "inspect"; the empty name "" is the default (training with train.py flags)
  const char* summary;  // one line for --help
  CommandFn run;
};

std::vector<Command>& command_registry();

// Reports a failure the way every command does: an `error` event (run protocol) on stdout and
// "rwkv-train: error CODE: message" plus the hint on stderr. Returns the exit code to use (1).
int report_error(const std::string& code, const std::string& message, const std::string& hint);

struct RegisterCommand {
  RegisterCommand(const char* name, const char* summary, CommandFn run) {
    command_registry().push_back({name, summary, run});
  }
};

}  // namespace rwkv::cli
