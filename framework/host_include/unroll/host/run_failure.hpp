#pragma once
// How a run that fails is recorded: every way a run can end has a status in summary.json and an
// exit code of `unroll run` (README lists them).
#include <functional>
#include <string>

namespace unroll {

/// Exit codes of `unroll run` (and of the other commands, which use the first four).
enum ExitCode : int {
  kExitCompleted = 0,     // the run completed (or there was nothing left to resume)
  kExitFailed = 1,        // bad input, a data or I/O error (disk full, read-only folder), a refused --out
  kExitUsage = 2,         // bad command line
  kExitInternal = 3,      // an exception that is not an unroll::Error: a bug in a plugin or in unroll
  kExitDiverged = 4,      // a non-finite loss or parameter; the last finite checkpoint is kept
  kExitCrashed = 5,       // a fatal signal, SIGKILL, or the run process ended without finishing
  kExitInterrupted = 130  // SIGINT/SIGTERM: the checkpoint of the last completed epoch is saved
};

/// status of RUN_DIR/summary.json: "running", "completed", "failed", ...; "" when the file is
/// missing or unreadable.
std::string summary_status(const std::string& run_dir);

/// Statuses after which nothing more is written: completed, failed, diverged, crashed,
/// interrupted.
bool is_final_status(const std::string& status);

/// Record a failure the trainer could not record itself (it failed while loading data, or a
/// plugin threw something that is not an unroll::Error): unless summary.json already holds a
/// final status, write it with `status`, `error`, the phase and component of the run marker and
/// the epoch of the last checkpoint, and append "error: ..." to log.txt. Never throws: when the
/// folder cannot be written (disk full, read-only) it says so on stderr and returns false.
bool record_run_failure(const std::string& run_dir, const std::string& status, const std::string& error,
                        const std::string& extra_key = "", const std::string& extra_value = "");

/// Run `f`; if it throws, report "warning: could not WHAT: ..." on stderr instead. For writing
/// results while handling another failure: the original error must not be replaced by a
/// follow-on one (a full disk fails the summary too).
void best_effort(const char* what, const std::function<void()>& f);

}  // namespace unroll
