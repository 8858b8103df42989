// rwkv-train: dispatches to the subcommand named by the first word (the registry in
// command.h), or to the default command "" (training with train.py's flags). Every failure
// leaves as an `error` event on stdout, a human line on stderr and a non-zero exit code.
#include <csignal>
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/errors.h"
#include "core/flags.h"
#include "core/protocol.h"

#ifndef RWKV_STUDIO_VERSION
#define RWKV_STUDIO_VERSION "0.0.0"
#endif

namespace rwkv::cli {

std::vector<Command>& command_registry() {
  static std::vector<Command> commands;  // function-local: safe from static-init order
  return commands;
}

int report_error(const std::string& code, const std::string& message, const std::string& hint) {
  RunProtocol protocol;
  protocol.error(code, message, hint);
  std::fprintf(stderr, "rwkv-train: error %s: %s\n", code.c_str(), message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "  hint: %s\n", hint.c_str());
  return 1;
}

namespace {

const Command* find_command(const std::string& name) {
  for (const Command& c : command_registry())
    if (name == c.name) return &c;
  return nullptr;
}

void print_help() {
  std::printf("rwkv-train %s — RWKV-7 training engine of RWKV Studio\n\n", RWKV_STUDIO_VERSION);
  std::printf("usage: rwkv-train [--flag value ...]          train, with RWKV-PEFT / RWKV-LM train.py flags\n");
  std::printf("       rwkv-train COMMAND [args]               run a subcommand (COMMAND --help for its usage)\n");
  std::printf("       rwkv-train --version | --help\n\ncommands:\n");
  for (const Command& c : command_registry())
    if (*c.name) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\ntraining flags (--flag value or --flag=value; [ignored]: accepted, has no effect here):\n");
  for (const FlagSpec& f : flag_table()) {
    std::string def = f.default_value.is_null() ? "none" : f.default_value.dump();
    std::printf("  --%-22s %-7s default %s%s\n", f.name.c_str(), f.type.c_str(), def.c_str(),
                f.engine_uses ? "" : "  [ignored]");
    if (!f.doc_en.empty()) std::printf("      %s\n", f.doc_en.c_str());
  }
  std::printf("\nOutput: JSON Lines events on stdout (start, step, checkpoint, epoch, warning, error, end);\n"
              "human logs on stderr.\n");
}

int dispatch(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) { print_help(); return 0; }
  if (!args.empty() && (args[0] == "--version" || args[0] == "-V")) { std::printf("rwkv-train %s\n", RWKV_STUDIO_VERSION); return 0; }
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    if (const Command* c = find_command(args[0]))
      return c->run(std::vector<std::string>(args.begin() + 1, args.end()));
    std::vector<std::string> names;
    for (const Command& c : command_registry()) if (*c.name) names.push_back(c.name);
    std::string suggestion = closest_name(args[0], names);
    throw EngineError("E_CLI_UNKNOWN_COMMAND", "unknown command \"" + args[0] + "\"",
                      suggestion.empty() ? "run rwkv-train --help for the commands" : "did you mean `rwkv-train " + suggestion + "`?");
  }
  if (const Command* trainer = find_command(""))
    return trainer->run(args);
  if (args.empty()) { print_help(); return 2; }
  parse_flags(args);  // bad flags are still reported as such
  throw EngineError("E_CLI_NO_TRAINER", "this build of rwkv-train has no training command",
                    "rebuild the engine with the trainer (engine/cli/train_command.cpp)");
}

}  // namespace
}  // namespace rwkv::cli

int main(int argc, char** argv) {
  // A closed stdout (the editor went away) must surface as a write error, not kill the run.
  std::signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (ulimit -f) a write must fail with EFBIG, which the checkpoint writer
  // reports as E_IO_DISK_FULL with the previous checkpoint intact, instead of SIGXFSZ killing
  // the run with a half-written temporary file and no error event.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return rwkv::cli::dispatch(args);
  } catch (const rwkv::EngineError& e) {
    return rwkv::cli::report_error(e.code, e.what(), e.hint);
  } catch (const std::bad_alloc&) {
    return rwkv::cli::report_error("E_OUT_OF_MEMORY", "out of memory", "use a smaller model, ctx_len or micro_bsz");
  } catch (const std::exception& e) {
    return rwkv::cli::report_error("E_INTERNAL", e.what(), "this is a bug in rwkv-train; please report it with the command line");
  }
}
