#pragma once
// Learning-rate schedules: lr = optimizer.base_lr * factor(epoch, step, the run's length, metrics so far).
#include <map>
#include <string>

#include "unroll/optimizer.hpp"

namespace unroll {

/// The schedule's clock, as the trainer gives it before every update. A step is one update: a
/// batch, or under truncated BPTT one window with a loss (train.bptt), so steps_per_epoch is
/// batches x windows and `step` / `steps_per_epoch` is the epoch at every epoch's first update.
struct ScheduleState {
  int epoch = 0;                  // 0-based epoch being trained
  long long step = 0;             // updates done so far in the run
  long long steps_per_epoch = 0;  // updates an epoch makes
  int total_epochs = 0;           // epochs the run trains at most (train.epochs); 0: unknown
  long long total_steps = 0;      // updates the run makes at most; 0: unknown
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  /// Multiplier of the optimizer's base learning rate, queried before every update.
  virtual double factor(const ScheduleState& s) = 0;
  /// Called after each epoch with that epoch's metrics ("val_loss", "train_loss", ...), for
  /// schedules that react to progress (reduce-on-plateau).
  virtual void end_epoch(int epoch, const std::map<std::string, double>& metrics) {
    (void)epoch;
    (void)metrics;
  }
  /// State to checkpoint (e.g. plateau counters), as named 1x1 or small matrices.
  virtual StateMap* state() { return nullptr; }
};

}  // namespace unroll
