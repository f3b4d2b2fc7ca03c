#pragma once
// Everything a run leaves behind, in one object: the terminal lines and log.txt, config.yaml,
// metrics.csv, grad_lags.csv, summary.json, checkpoint/ and best/. Every file is written
// atomically (temporary name + rename). Told not to write (set_writing(false): the non-zero ranks
// of a data-parallel run), it prints nothing and touches no file, while the trainer around it
// runs exactly the same.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "unroll/config_node.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/progress.hpp"

namespace unroll {

class MetricsTable;
class GradLags;

/// What summary.json says about a run besides its metrics.
struct RunSummary {
  std::string name, status, stop_reason, error;
  int threads = 1;
  int ranks = 1;  // processes of a data-parallel run
  uint64_t seed = 1;
  long long steps = 0;
  std::string best_metric;  // best/: the metric, its value and epoch (epoch 0: none)
  double best_value = 0;
  int best_epoch = 0;
  int resumed_from_epoch = 0;
  std::map<std::string, double> test;  // test_loss, ... (empty without a test split)
  int test_epoch = 0;                  // the epoch whose parameters scored the test split
};

class RunOutputs {
 public:
  RunOutputs(std::string dir, bool quiet);

  /// Whether this process writes files and prints (default true).
  void set_writing(bool writing) { writing_ = writing; }
  const std::string& dir() const { return dir_; }

  /// Create the run folder and return the config text of the run: written to config.yaml for a
  /// new run; for a resumed one, config.yaml as it stands (its hash is in the checkpoint) and
  /// log.txt continued.
  std::string begin(const Node& config, bool resume);
  /// A line of log.txt, also printed unless `echo` is false or the run is quiet.
  void log(const std::string& line, bool echo = true);
  /// An epoch's line. Fast epochs (the textbook XOR takes microseconds) would flood the
  /// terminal, so it is printed at most once a second unless `force`; log.txt keeps every
  /// line. Returns whether it was printed.
  bool epoch_line(const std::string& line, bool force);
  /// Print the last epoch line that was not printed (the epoch that stopped a run).
  void print_unshown();

  /// The live progress bar, when stderr is a terminal (else null).
  void start_progress(int epochs);
  Progress* progress() { return progress_.get(); }
  void clear_progress() {
    if (progress_) progress_->clear();
  }

  /// The state at the last epoch boundary: what checkpoint/ gets now or at an interrupt.
  void keep_snapshot(Snapshot s) { snapshot_ = std::move(s); }
  /// Write the kept snapshot as checkpoint/ unless it is already there.
  void save_checkpoint();
  /// Write the kept snapshot as best/ (and keep a copy in memory when keep_best is on).
  void save_best();
  /// Keep best/'s snapshot in memory as well (checkpoint.test_on: best): every rank of a
  /// data-parallel run needs it at the end, and only rank 0 writes best/.
  void set_keep_best(bool keep) { keep_best_ = keep; }
  /// The snapshot save_best() kept in this process, or null (off, or no best/ since a resume).
  const Snapshot* best_snapshot() const { return best_ ? &*best_ : nullptr; }
  /// The epoch checkpoint/ holds (a resumed run starts with the one it read).
  int saved_epoch() const { return saved_epoch_; }
  void set_saved_epoch(int epoch) { saved_epoch_ = epoch; }

  /// metrics.csv, log.txt and, when given, grad_lags.csv.
  void write_metrics(const MetricsTable& table, const GradLags* lags);
  void write_summary(const RunSummary& s, const MetricsTable& table);

 private:
  std::string dir_;
  bool quiet_, writing_ = true;
  std::string log_text_;
  std::unique_ptr<Progress> progress_;
  std::chrono::steady_clock::time_point start_, last_echo_;
  std::string unshown_;  // the last epoch line not printed
  Snapshot snapshot_;
  bool keep_best_ = false;
  std::optional<Snapshot> best_;
  int saved_epoch_ = -1;
};

}  // namespace unroll
