// exponential: the learning rate decays by gamma every epoch (or step); PyTorch's ExponentialLR.
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Exponential final : public Schedule {
 public:
  explicit Exponential(const Options& o) : gamma_(o.real("gamma")), by_step_(o.string("by") == "step") {}

  double factor(const ScheduleState& s) override {
    return std::pow(gamma_, static_cast<double>(by_step_ ? s.step : s.epoch));
  }

 private:
  double gamma_;
  bool by_step_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("exponential", "Exponential decay: factor(t) = gamma^t, t in epochs (or steps).");
  s.real("gamma", "Decay per unit of t.").range(0, 1).above(0);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t: 0-based epoch, or updates done so far.");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<Exponential>(o);
  });
}
