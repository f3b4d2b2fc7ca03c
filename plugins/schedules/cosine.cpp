// cosine: cosine annealing, Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with
// Warm Restarts", eq. 5 without restarts (one period of length T_max, then held at the minimum).
// Without T_max the period is the whole run: the epochs, or the updates, the trainer reports.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Cosine final : public Schedule {
 public:
  explicit Cosine(const Options& o)
      : T_(o.has("T_max") ? static_cast<double>(o.integer("T_max")) : 0.0),
        min_(o.real("min_factor")),
        by_step_(o.string("by") == "step") {}

  double factor(const ScheduleState& s) override {
    const double T = T_ > 0 ? T_ : static_cast<double>(by_step_ ? s.total_steps : s.total_epochs);
    if (T <= 0) throw Error("cosine: T_max is not set and the run's length is unknown (give T_max)");
    const double t = std::min(static_cast<double>(by_step_ ? s.step : s.epoch), T);
    return min_ + (1 - min_) * (1 + std::cos(std::numbers::pi * t / T)) / 2;
  }

 private:
  double T_, min_;  // T_ = 0: the run's length
  bool by_step_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("cosine",
           "Cosine annealing (Loshchilov & Hutter 2017, SGDR without restarts): factor(t) = min_factor + "
           "(1 - min_factor) * (1 + cos(pi * min(t, T_max) / T_max)) / 2.");
  s.integer("T_max",
            "Length T of the half cosine period in epochs (or steps); the factor stays at min_factor after it. "
            "Absent: the whole run (train.epochs, or every update of the run).")
      .at_least(1)
      .optional();
  s.real("min_factor", 0.0, "Factor reached at t = T_max (eta_min / eta_max in the paper).").range(0, 1);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t: 0-based epoch, or updates done so far.");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<Cosine>(o);
  });
}
