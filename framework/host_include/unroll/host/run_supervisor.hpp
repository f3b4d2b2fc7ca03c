#pragma once
// `unroll run` trains in a forked child process and the parent records how it ended. Some ends
// cannot be caught inside the process that meets them: a plugin calling exit(0) or _Exit(0)
// (which would exit 0 as if the run had completed), SIGKILL from the out-of-memory killer, a
// stack overflow on a thread without a signal stack. The parent, which has the same address
// layout as the child (a fork, plugins already loaded), also symbolizes the crash handler's raw
// stack frames into log.txt.
//
//   parent: validate, prepare and lock the folder, write summary.json "running", fork, wait
//   child:  die with the parent (PR_SET_PDEATHSIG), arm the fatal-signal report, train, record
//           its own end in summary.json, mark the shared run marker finished, exit(code)
//   parent: if the child did not finish, write summary.json "crashed" (signal or exit status,
//           phase, component) and append the stack trace to log.txt; return the exit code
//
// SIGINT/SIGTERM sent to the parent are passed on as SIGUSR1 (a stop request that never
// escalates, so Ctrl-C reaching both processes still counts once); a second one kills the child.
#include <functional>
#include <string>

namespace unroll {

/// Run `train` (returns the exit code; throws on failure) and record how it ended in run_dir.
/// With `fork_child` false it runs in this process: the fatal-signal report still writes
/// summary.json and log.txt, but an exit() inside a plugin or SIGKILL cannot be recorded and the
/// stack stays unsymbolized in crash.stack.
int supervise_run(const std::string& run_dir, const std::string& run_name, const std::function<int()>& train,
                  bool fork_child = true);

/// Exceptions escaping `train` become the exit codes of run_failure.hpp: the message is printed,
/// and summary.json records it unless the trainer already did (a failure while loading data, a
/// plugin's std::exception).
int run_recording_failures(const std::string& run_dir, const std::function<int()>& train);

}  // namespace unroll
