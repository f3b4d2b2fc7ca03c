#pragma once
// One run of a sweep, supervised: started fresh or resumed from its checkpoint, watched as a
// child process (host/child_process.hpp), and its end recorded in the run folder's
// sweep_run.json. A local sweep (many runs at a time) and a Slurm array task (one run each) use
// the same code, so their run folders look the same and the report reads both alike.
//
// sweep_run.json (written atomically; "running" while the child lives):
//   {"variant", "seed", "status": "running" | "completed" | "failed" | "interrupted",
//    "launcher": "local" | "slurm", "host", "pid", "pid_start", "attempt", "started",
//    "resumed_from_epoch" (when resumed), "exit_code" or "signal", "error", "seconds",
//    "slurm": {"job", "array_job", "task", "node", "state", "exit_code", "source"} (Slurm runs),
//    "previous": [earlier attempts' records, oldest first]}
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace unroll {

/// One variant x seed of a sweep and its folder.
struct SweepRun {
  std::string variant;      // the variant's readable name
  std::string variant_dir;  // its folder name under runs/ and variants/
  long long seed = 0;
  std::string rel;  // "VARIANT_DIR/seedS": the run's name under runs/
  std::string dir;  // SWEEP_DIR/runs/VARIANT_DIR/seedS
};

/// Every run of the sweep folder SWEEP_DIR, from its sweep.json, in manifest order (variants,
/// then seeds). Throws unroll::Error naming the file when sweep.json is missing or unreadable.
std::vector<SweepRun> list_sweep_runs(const std::string& sweep_dir);

/// What a run folder says by itself:
///   "completed"  summary.json status completed;
///   "running"    sweep_run.json status running (its supervisor may or may not be alive);
///   "resumable"  a checkpoint and summary "interrupted", "running" (killed with its supervisor),
///                "crashed", or no summary;
///   "diverged"   summary.json status diverged: a result, final like "completed" (the same config
///                and seed diverge again), rerun only when asked (--retry-diverged);
///   "failed"     a failed summary, or a failed sweep_run.json record without a checkpoint;
///   ""           nothing there yet.
/// With `trust_running` false a "running" record is ignored (its supervisor is known to be gone).
std::string run_folder_state(const std::string& run_dir, bool trust_running = true);

/// How to start `unroll run` for a sweep's runs.
struct RunCommand {
  std::string unroll_binary;
  int threads = 1;
  std::vector<std::string> plugin_dirs;
  std::string launcher = "local";            // recorded in sweep_run.json
  std::map<std::string, std::string> slurm;  // job ids etc. recorded under "slurm" (Slurm tasks)
};

/// A run whose child process was started by start_run.
struct StartedRun {
  SweepRun run;
  pid_t pid = -1;
  bool resumed = false;
  int resumed_from_epoch = 0;
  double start_seconds = 0;  // steady clock, for the run's duration
};

/// Start one run. A "resumable" run continues with `unroll run --resume` (its stderr.txt is
/// appended to); anything else not completed starts over in an emptied folder. Earlier attempts'
/// records are kept under "previous" in the new sweep_run.json, which says "running".
StartedRun start_run(const SweepRun& run, const std::string& sweep_dir, const RunCommand& cmd);

/// Record how a started run ended. `wait_status` is its waitpid status; `stop_signal` the signal
/// the supervisor passed on to it (0: none), and `stop_reason` why (e.g. Slurm's time limit).
/// Returns the recorded status: "completed", "diverged" (a NaN or infinite loss: a result, kept by
/// later invocations), "failed" or "interrupted" (stopped by a signal after its checkpoint was
/// written; the next sweep resumes it), and the error text in `error`.
std::string finish_run(const StartedRun& r, int wait_status, int stop_signal, const std::string& stop_reason,
                       std::string* error = nullptr);

/// Find children of an earlier sweep that outlived it (their sweep_run.json says "running",
/// launched locally on this host, and that pid still runs with the recorded start time) and
/// stop them: SIGTERM to the process group, SIGKILL after `grace_seconds`. Returns one line per
/// child stopped. Call it only while holding the SweepLock.
std::vector<std::string> reap_stale_children(const std::string& sweep_dir, double grace_seconds = 30);

/// An exclusive lock on a sweep folder (flock on SWEEP_DIR/.lock), so two `unroll sweep`
/// processes never drive the same runs. The kernel drops it when the process dies, however it
/// dies, so a stale lock cannot block a restart.
class SweepLock {
 public:
  /// Throws unroll::Error naming the pid of the holder when another process has the lock.
  explicit SweepLock(const std::string& sweep_dir);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
};

/// This machine's short host name (as `hostname -s`).
std::string short_hostname();
/// The current UTC time as 2026-01-31T12:00:00Z.
std::string utc_now();

}  // namespace unroll
