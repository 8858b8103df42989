// Reads of memory-mapped files that may shrink underneath (issue 14). A page of a MAP_SHARED
// mapping that lies past the file's current end raises SIGBUS when touched, which would end
// the process with no error event. Checking the file before each read (binidx's
// check_unchanged) leaves a window between the check and the read; this closes it:
// - every registered mapping is a range the SIGBUS handler knows is ours;
// - `run_guarded` runs a plain copy loop with a recovery point: a SIGBUS inside a registered
//   range there unwinds to it, so the reader throws E_DATA_CHANGED like the check does and the
//   trainer saves its last finished step as usual;
// - a fault in a registered range outside run_guarded (no reader should do that) writes the
//   final `error` and `end` events prepared by `set_mapped_fault_report` with write(2) and
//   _exit()s with kExitMappedFault, instead of a silent signal death. Checkpoints are written
//   through AtomicFile (temporary + rename), so the last finished one is whole either way.
// A SIGBUS anywhere else is passed on to the handler that was there before (or the default).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rwkv {

// The exit status after the handler's last-words path: distinct from the CLI's 1 and the
// trainer's 2 (an error event), 3 (out of memory) and 4 (internal), and from 128 + SIGBUS,
// what a shell shows for the signal death this replaces.
constexpr int kExitMappedFault = 5;

// Marks [base, base + len) as a read-only mapping of `path`. Installs the SIGBUS handler on
// first use. At most 256 ranges at once; more are simply not covered (a fault there stays a
// signal death, as before).
void register_mapped_range(const void* base, size_t len, const std::string& path);
void unregister_mapped_range(const void* base);

// Runs fn(arg). Returns false when fn touched a page of a registered range that is past its
// file's end (SIGBUS); fn is then abandoned mid-way, so it must be a plain loop: no
// allocation, no locks, no objects with destructors, no exceptions.
bool run_guarded(void (*fn)(void*), void* arg);

// The process's protocol outputs (stdout, metrics.jsonl) for the last-words path; empty = no
// report (the Node addon: its stdout is the language server's LSP stream). The lines are
// prepared here so the handler only formats the time and the file name.
void set_mapped_fault_report(const std::vector<int>& fds);

}  // namespace rwkv
