#pragma once
// The rules that end a run before its last epoch (train.stop): the training loss below a
// threshold (the textbook rule), early stopping on a metric that stopped improving, and a
// wall-clock budget. They are looked at after every epoch, in that order; the epoch limit itself
// is the trainer's loop.
#include <optional>
#include <string>

#include "metrics_table.hpp"
#include "train_settings.hpp"

namespace unroll {

/// Why a run stops early: `reason` as summary.json's stop_reason, `why` as the log says it.
struct StopReason {
  std::string reason;
  std::string why;
};

class StopRules {
 public:
  StopRules() = default;
  /// The rules of `s`; early stopping watches its metric in `table` (see MetricsTable::monitor,
  /// whose `note` this passes on).
  StopRules(const TrainSettings& s, const MetricsTable& table, bool validation, std::string& note);

  /// Look at the row an epoch just added (`train_seconds`: training time so far, across
  /// resumes); a reason when the run should stop after it.
  std::optional<StopReason> after_epoch(const std::vector<double>& row, int epoch, double train_seconds);

  /// Early stopping's best value and epochs without improvement (saved in checkpoints).
  const BestSoFar& early() const { return early_; }
  void restore_early(double best, int bad) {
    early_.value = best;
    early_.bad = bad;
  }

 private:
  double loss_below_ = 0, max_seconds_ = 0;
  size_t train_loss_column_ = 1;
  int patience_ = 0;
  BestSoFar early_;
};

}  // namespace unroll
