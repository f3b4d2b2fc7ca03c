#include "stop_rules.hpp"

namespace unroll {

StopRules::StopRules(const TrainSettings& s, const MetricsTable& table, bool validation, std::string& note)
    : loss_below_(s.loss_below),
      max_seconds_(s.max_seconds),
      train_loss_column_(table.find("train_loss")),
      patience_(s.early_patience) {
  early_.min_delta = s.early_min_delta;
  if (patience_ > 0) early_.monitor = table.monitor(s.early, validation, note);
}

std::optional<StopReason> StopRules::after_epoch(const std::vector<double>& row, int epoch, double train_seconds) {
  if (patience_ > 0) early_.observe(row, epoch);
  const double train_loss = row[train_loss_column_];
  if (loss_below_ > 0 && train_loss < loss_below_)
    return StopReason{"train_loss_below", "the training loss " + fmt(train_loss) + " fell below " + fmt(loss_below_)};
  if (patience_ > 0 && early_.bad >= patience_)
    return StopReason{"early_stopping", early_.monitor.name + " has not improved on " + fmt(early_.value) +
                                            " (by more than " + fmt(early_.min_delta) + ") for " +
                                            std::to_string(early_.bad) + " epochs"};
  if (max_seconds_ > 0 && train_seconds >= max_seconds_)
    return StopReason{"max_seconds", "the wall-clock budget of " + fmt(max_seconds_) + " s is used up (" +
                                         fmt(train_seconds, 4) + " s)"};
  return std::nullopt;
}

}  // namespace unroll
