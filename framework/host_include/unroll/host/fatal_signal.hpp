#pragma once
// Recording a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) of a run in its folder.
//
// The handler runs on an alternate signal stack, so a stack overflow is caught too, and uses
// only async-signal-safe calls (open, write, rename, close) on buffers prepared in advance:
//   - summary.json gets status "crashed", stop_reason "crashed", an `error` naming the signal, the
//     phase and the component last entered (run_marker.hpp), and `signal`, `phase`, `component`;
//   - log.txt gets a "fatal:" line;
//   - RUN_DIR/crash.stack gets the raw stack frames (boost::stacktrace::safe_dump_to).
// Then the signal is raised again with its default action, so the process dies of it as before
// (core dumps, a parent's waitpid see the real signal). Symbolizing the frames is not
// async-signal-safe; the supervising parent (run_supervisor.hpp), which has the same address
// layout as the forked run, does it with format_crash_stack() and appends it to log.txt.
#include <string>

namespace unroll {

/// Install the handlers for a run writing into run_dir (named run_name in summary.json).
void arm_fatal_signal_report(const std::string& run_dir, const std::string& run_name);
/// Restore the default actions.
void disarm_fatal_signal_report();
// Each thread gets its own alternate signal stack (install_signal_stack, framework/src/
// signal_stack.hpp): arm_fatal_signal_report for the main thread, the thread pool for its workers.

/// The frames dumped to `path` by the handler, symbolized (function, file:line where known), one
/// per line. Correct only in a process with the crashed one's address layout (a fork of it).
std::string format_crash_stack(const std::string& path);

/// "SIGSEGV", "SIGABRT", ... ("signal N" for others).
const char* signal_name(int sig);
/// "segmentation fault", "abort", ... (strsignal's text, without allocating).
const char* signal_text(int sig);

}  // namespace unroll
