#pragma once
// Ablation sweeps: one YAML file names a base experiment (usually by `extends:`) and the factors
// to vary; every variant x seed runs as its own `unroll run` child process.
//
//   extends: ../fashion_mnist_mlp.yaml
//   seeds: 3                      # or [1, 2, 3]
//   train.epochs: 3               # plain overrides of the base, as in any experiment file
//   vary:                         # one factor at a time against the base
//     optimizer.momentum: [0.0, 0.5]
//     model[1]: [{kind: tanh}]
//   grid: {...}                   # the full product of its factors
//   variants:                     # named, hand-written override maps
//     no_schedule: {schedule: {kind: constant}}
//   metric: {name: test_accuracy, higher_is_better: true}
//   metrics: [test_loss]          # extra metrics to report
//   jobs: 2
//   threads_per_run: 1
//
// Output folder layout: sweep.json (manifest), sweep.yaml (the composed sweep), variants/NAME.yaml
// (each resolved variant), runs/NAME/seedS/ (each run's own folder plus sweep_run.json, the
// parent's record of its exit), report.md, report.csv, plots/*.png.
#include <cstdint>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/host/sweep_run.hpp"

namespace unroll {

class PluginHost;

/// A metric the report summarizes: a key of summary.json's `final` block.
struct MetricSpec {
  std::string name;
  bool higher_is_better = false;
};

/// One variant of a sweep: its readable name (`optimizer.momentum=0`, or the hand-written name),
/// the folder name used under runs/ and variants/, and its resolved, validated config.
struct Variant {
  std::string name;
  std::string dir;
  std::string origin;  // file:line:col where it was defined ("" for the base)
  Node config;
};

/// A sweep file, read and every variant validated.
struct SweepSpec {
  std::string file;
  std::string name;
  std::vector<long long> seeds;
  std::vector<Variant> variants;   // variants[0] is the base
  std::vector<std::string> notes;  // e.g. variants dropped because they equal the base
  MetricSpec metric;
  std::vector<MetricSpec> extra_metrics;
  int jobs = 0;             // 0: not given in the file
  int threads_per_run = 0;  // 0: not given in the file
};

/// Read a sweep file (`extends:` resolved, SETS applied to the composed tree first, so `--set
/// seeds=2` and `--set train.epochs=1` both work), build every variant and resolve it with
/// resolve_experiment. Every variant is checked before anything runs; an error names the
/// variant and the file:line:column. Variants whose resolved config equals the base's are
/// dropped (a note says so), so the base runs exactly once.
SweepSpec load_sweep(const std::string& file, const std::vector<std::string>& sets, PluginHost& host);

/// The pre-flight check of `unroll run` (check.hpp) for every variant, before any run starts or
/// any Slurm task is submitted: each variant's dataset, model, memory estimate, output size,
/// initializer blocks, loss_at and regularizer patterns. load_sweep validates what the schema
/// sees; this catches what only building finds (a last layer of the wrong width in one variant),
/// which would otherwise fail that variant's every run, one Slurm allocation each. Variants with
/// the same data block and seed share one dataset. Every problem is thrown at once as a
/// ConfigErrors, each message naming its variant.
void preflight_sweep(const SweepSpec& spec, PluginHost& host);

/// A readable label for a value in a variant name: scalars as written, `null`, a component
/// block as `adam` or `adam(lr=0.001)`, lists as `[a,b]`.
std::string value_label(const Node& value);

struct SweepOptions {
  std::string out_dir;                   // the sweep folder (created)
  std::string unroll_binary;             // the `unroll` executable the runs are started with
  std::vector<std::string> plugin_dirs;  // passed on to every run as --plugin-dir
  int jobs = 0;                          // parallel runs; 0: the file's `jobs`, else the number of cores
  int threads_per_run = 0;               // 0: the file's value, else max(1, cores / jobs)
  bool progress = true;                  // live progress on stderr
  bool handle_signals = false;           // SIGINT/SIGTERM/SIGHUP stop the sweep cleanly (the CLI sets it)
  double stop_grace_seconds = 60;        // after passing a stop on, SIGKILL runs still alive this long after
  bool retry_diverged = false;           // start diverged runs over instead of keeping them as results
};

struct SweepResult {
  int total = 0;      // variant x seed runs
  int skipped = 0;    // completed (or diverged, and kept) by an earlier invocation
  int completed = 0;  // completed now or before
  int diverged = 0;   // diverged now or before (kept: the same config and seed diverge again)
  int failed = 0;
  int resumed = 0;           // runs continued from their checkpoint
  bool interrupted = false;  // a stop signal ended the sweep early
  int interrupted_runs = 0;  // runs stopped by it (they checkpointed; the next invocation resumes them)
  int not_started = 0;       // runs it kept from starting
  int jobs = 0, threads_per_run = 0;
  std::vector<std::string> notes;  // e.g. stale children of an earlier sweep that were stopped
};

/// Write SWEEP_DIR's sweep.json (keeping its record of earlier Slurm submissions) and
/// variants/NAME.yaml, discarding the runs of a variant whose resolved config changed since the
/// last invocation, and return every run of the sweep.
std::vector<SweepRun> prepare_sweep_folder(const SweepSpec& spec, const std::string& out_dir);

/// Run every variant x seed without a result yet (summary.json status "completed", or "diverged"
/// unless opt.retry_diverged) as a child process `unroll run variants/NAME.yaml --set seed=S --out
/// runs/NAME/seedS --threads T --quiet` (or `unroll run --resume runs/NAME/seedS` when an earlier
/// attempt left a checkpoint), up to `jobs` at a time. A run that diverges or fails in any way
/// (non-zero exit, a signal such as SIGSEGV or SIGKILL, exit 0 without a summary) is recorded in
/// its sweep_run.json with its error and the others go on. A diverged run is kept as a result: the
/// same config and seed give the same numbers, so running it again would diverge again. A variant
/// whose resolved config changed since the last invocation has its old runs discarded. Holds the
/// folder's SweepLock; no child outlives the call (see host/child_process.hpp), and children left
/// by a killed earlier sweep are stopped first.
SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& opt);

}  // namespace unroll
