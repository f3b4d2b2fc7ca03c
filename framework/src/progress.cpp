#include "unroll/host/progress.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace unroll {

using Clock = std::chrono::steady_clock;

Progress::Progress(int epochs) : epochs_(epochs), epoch_start_(Clock::now()), last_draw_(Clock::now()) {}

void Progress::batch(int epoch, long done, long total, double loss) {
  const auto now = Clock::now();
  if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double in_epoch = std::chrono::duration<double>(now - epoch_start_).count();
  const double frac = static_cast<double>(done) / total;
  const double per_epoch = epochs_done_ ? seconds_done_ / epochs_done_ : (frac > 0 ? in_epoch / frac : 0);
  const double eta = per_epoch * (epochs_ - epoch - 1) + std::max(0.0, per_epoch - in_epoch);
  const int width = 24, filled = static_cast<int>(frac * width);
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  std::fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %ld/%ld  loss %.4f  ETA %.0fs", epoch + 1, epochs_, bar.c_str(), done,
               total, loss, eta);
  std::fflush(stderr);
  shown_ = true;
}

void Progress::epoch_done(int epochs_done, double seconds) {
  epochs_done_ = epochs_done;
  seconds_done_ += seconds;
  epoch_start_ = Clock::now();
}

void Progress::clear() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace unroll
