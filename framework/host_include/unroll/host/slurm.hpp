#pragma once
// Sweeps on Slurm. `unroll sweep FILE --slurm` turns every run that is not completed into one
// task of a job array (sweeps/NAME/slurm/array.sbatch), submits it with sbatch, and submits a
// second job that depends on it (afterany) and writes the report. Each array task runs
// `unroll sweep-task SWEEP_DIR RUN`, which supervises exactly one run with the same code as a
// local sweep (host/sweep_run.hpp), so the run folders are the same; the sweep folder must be on
// a file system that the login node and the compute nodes share.
//
// What happened to each task is known from three places, in this order of preference: sacct
// (needs Slurm accounting, slurmdbd), `scontrol show job` (the controller keeps ended jobs for
// MinJobAge seconds, 300 by default), squeue (state only, no exit code); and the run folder's
// own sweep_run.json, which the task writes itself. `unroll sweep --status` says which source
// each state came from. The controller is only asked; nothing here schedules anything.
#include <map>
#include <string>
#include <vector>

#include "unroll/host/sweep.hpp"
#include "unroll/host/sweep_run.hpp"

namespace unroll {

/// Options of `unroll sweep FILE --slurm`; each becomes an #SBATCH line of array.sbatch.
struct SlurmOptions {
  std::string partition;                 // --partition (empty: the cluster's default)
  std::string time;                      // --time per task, Slurm syntax (empty: the partition's default)
  std::string mem;                       // --mem per task (empty: the cluster's default)
  int cpus_per_task = 1;                 // --cpus-per-task; also each run's --threads
  int max_parallel = 0;                  // the array's %K: tasks at a time (0: no limit)
  std::string signal = "B:TERM@60";      // --signal: SIGTERM to the task 60 s before its time limit
  std::vector<std::string> sbatch_args;  // more #SBATCH lines, e.g. --account=lab (last wins)
  bool dry_run = false;                  // write the scripts, print the sbatch commands, submit nothing
  std::string unroll_binary;             // the `unroll` the tasks run (an absolute path)
  std::vector<std::string> plugin_dirs;  // passed to every run as --plugin-dir
  bool retry_diverged = false;           // submit diverged runs again instead of keeping them as results
};

/// What one submission did.
struct SlurmSubmission {
  int total = 0;                      // runs in the sweep
  int completed = 0;                  // already completed (not submitted)
  int diverged = 0;                   // diverged earlier and kept as results (not submitted)
  int active = 0;                     // still pending or running in Slurm from an earlier submission (not submitted)
  int submitted = 0;                  // array tasks in this submission
  std::string array_job, report_job;  // Slurm job ids ("" on a dry run or when nothing was submitted)
  std::string script;                 // SWEEP_DIR/slurm/array.sbatch
  std::vector<std::string> commands;  // the sbatch command lines (run, or to run on a dry run)
};

/// Validate-first submission: `spec` was loaded by load_sweep (every variant valid). Writes the
/// folder (prepare_sweep_folder), reconciles earlier submissions (sweep_status with record),
/// submits one array task per run that is neither completed, nor diverged (unless
/// opt.retry_diverged), nor pending/running in Slurm, and
/// records the job ids in sweep.json under "slurm": {"submissions": [...]}. Throws unroll::Error
/// with sbatch's message when submission fails.
SlurmSubmission submit_sweep_to_slurm(const SweepSpec& spec, const std::string& sweep_dir, const SlurmOptions& opt);

/// One run's state, for `unroll sweep --status`.
struct RunStatus {
  SweepRun run;
  std::string state;            // "done", "diverged", "running", "pending" or "failed"; "unknown" when Slurm does
                                // not answer
  std::string source;           // where the state came from: "run folder", "sacct", "scontrol" or "squeue"
  std::string detail;           // Slurm's state and exit code, the run's error, "not submitted", ...
  std::string job;              // its Slurm task ("12_3"), if it was submitted
  bool in_slurm_queue = false;  // pending or running in Slurm now
};

/// Every run's state. With `record`, a task that Slurm says has ended without a completed run
/// gets Slurm's state and exit code written into its sweep_run.json (status "failed"), so the
/// report lists it; a task killed outright (SIGKILL, out of memory, node failure) never wrote its
/// own end, and this is where it is recorded.
std::vector<RunStatus> sweep_status(const std::string& sweep_dir, bool record);

/// The body of one array task: run SWEEP_DIR's run REL ("VARIANT_DIR/seedS") with start_run, pass
/// on SIGTERM/SIGINT (Slurm's --signal warning, scancel) to it so it checkpoints, and record
/// its end with the job's ids from the SLURM_* environment. Returns the task's exit code: 0 when
/// the run completed, 1 when it diverged or failed, 143 when it was stopped by a signal.
int run_slurm_task(const std::string& sweep_dir, const std::string& rel, RunCommand cmd);

}  // namespace unroll
