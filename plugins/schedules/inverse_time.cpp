// inverse_time: 1/t-style annealing, the classic step-size rule of stochastic approximation
// (Robbins & Monro 1951); Keras' InverseTimeDecay.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class InverseTime final : public Schedule {
 public:
  explicit InverseTime(const Options& o) : decay_(o.real("decay")), by_step_(o.string("by") == "step") {}

  double factor(const ScheduleState& s) override {
    return 1.0 / (1.0 + decay_ * static_cast<double>(by_step_ ? s.step : s.epoch));
  }

 private:
  double decay_;
  bool by_step_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("inverse_time", "Inverse-time decay: factor(t) = 1 / (1 + decay * t), t in epochs (or steps).");
  s.real("decay", "Decay rate per unit of t.").at_least(0);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t: 0-based epoch, or updates done so far.");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<InverseTime>(o);
  });
}
