// warmup: linear learning-rate warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD:
// Training ImageNet in 1 Hour"), then any other schedule. The nested schedule's clock starts
// when the warm-up ends, so `then: {kind: cosine, T_max: 90}` anneals over the 90 epochs that
// follow the warm-up, and `then: {kind: cosine}` over the rest of the run.
#include <algorithm>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Warmup final : public Schedule {
 public:
  Warmup(const Options& o, BuildContext& c)
      : length_(o.integer("length")), by_step_(o.string("by") == "step"), then_(c.make_schedule(o.block("then"))) {}

  double factor(const ScheduleState& s) override {
    ScheduleState after = s;
    long long t = 0;
    // The nested schedule's clock, and the run it sees, start when the warm-up ends.
    const long long warmup_steps = by_step_ ? length_ : length_ * s.steps_per_epoch;
    if (by_step_) {
      t = s.step;
    } else {
      t = s.epoch;
      after.epoch = static_cast<int>(std::max(0LL, s.epoch - length_));
      if (s.total_epochs > 0) after.total_epochs = static_cast<int>(std::max(1LL, s.total_epochs - length_));
    }
    after.step = std::max(0LL, s.step - warmup_steps);
    if (s.total_steps > 0) after.total_steps = std::max(1LL, s.total_steps - warmup_steps);
    // (t+1)/length: the first update already moves, and update `length`-1 reaches the full rate.
    const double ramp = std::min(1.0, static_cast<double>(t + 1) / static_cast<double>(length_));
    return ramp * then_->factor(after);
  }

  void end_epoch(int epoch, const std::map<std::string, double>& metrics) override { then_->end_epoch(epoch, metrics); }
  StateMap* state() override { return then_->state(); }

 private:
  long long length_;
  bool by_step_;
  std::shared_ptr<Schedule> then_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("warmup",
           "Linear warm-up (Goyal et al. 2017): factor(t) = min(1, (t+1)/length) * then(t - length), the nested "
           "schedule's clock starting when the warm-up ends.");
  s.integer("length", "Warm-up length in epochs (or steps).").at_least(1);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t of the warm-up: 0-based epoch, or updates done so far.");
  s.component("then", "schedule", "{kind: constant}", "Schedule that follows the warm-up (multiplied by the ramp).");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Schedule> {
    return std::make_unique<Warmup>(o, c);
  });
}
