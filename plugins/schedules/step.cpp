// step: multiply the learning rate by gamma every `every` epochs (or steps); PyTorch's StepLR.
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class StepDecay final : public Schedule {
 public:
  explicit StepDecay(const Options& o)
      : every_(o.integer("every")), gamma_(o.real("gamma")), by_step_(o.string("by") == "step") {}

  double factor(const ScheduleState& s) override {
    const long long t = by_step_ ? s.step : s.epoch;
    return std::pow(gamma_, static_cast<double>(t / every_));
  }

 private:
  long long every_;
  double gamma_;
  bool by_step_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("step", "Step decay: factor(t) = gamma^floor(t / every), t in epochs (or steps).");
  s.integer("every", "Period N: the lr is multiplied by gamma every N epochs (or steps).").at_least(1);
  s.real("gamma", 0.1, "Multiplier applied at each period boundary.").above(0);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t: 0-based epoch, or updates done so far.");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<StepDecay>(o);
  });
}
