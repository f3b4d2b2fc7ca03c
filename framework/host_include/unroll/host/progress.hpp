#pragma once
// A live progress bar on stderr (only when stderr is a terminal): epoch, batch, running loss
// and an ETA from the mean epoch time so far.
#include <chrono>

namespace unroll {

class Progress {
 public:
  explicit Progress(int epochs);
  void batch(int epoch, long done, long total, double loss);
  void epoch_done(int epochs_done, double seconds);
  void clear();

 private:
  int epochs_;
  double seconds_done_ = 0;
  int epochs_done_ = 0;
  bool shown_ = false;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

}  // namespace unroll
