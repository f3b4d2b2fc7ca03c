#pragma once
// Learning-rate schedules: lr = optimizer.base_lr * factor(epoch, step, metrics so far).
#include <map>
#include <string>

#include "unroll/optimizer.hpp"

namespace unroll {

struct ScheduleState {
  int epoch = 0;              // 0-based epoch being trained
  long long step = 0;         // updates done so far in the run
  long long steps_per_epoch = 0;
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
