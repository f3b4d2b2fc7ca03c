// multistep: multiply the learning rate by gamma at each listed milestone; PyTorch's MultiStepLR.
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class MultiStep final : public Schedule {
 public:
  explicit MultiStep(const Options& o)
      : milestones_(o.integers("milestones")), gamma_(o.real("gamma")), by_step_(o.string("by") == "step") {
    const Node& n = o.node().at("milestones");
    const std::string where = (n.loc().file.empty() ? o.node().loc() : n.loc()).str();
    if (milestones_.empty())
      throw Error(where + ": multistep needs at least one milestone, e.g. 'milestones: [30, 80]'");
    for (std::size_t i = 0; i < milestones_.size(); ++i)
      if (milestones_[i] < 1 || (i > 0 && milestones_[i] <= milestones_[i - 1]))
        throw Error(where + ": multistep milestones must be positive and strictly increasing; got " +
                    std::to_string(milestones_[i]) + (i > 0 ? " after " + std::to_string(milestones_[i - 1]) : ""));
  }

  double factor(const ScheduleState& s) override {
    const long long t = by_step_ ? s.step : s.epoch;
    int passed = 0;
    for (long long m : milestones_) passed += (t >= m);
    return std::pow(gamma_, passed);
  }

 private:
  std::vector<long long> milestones_;
  double gamma_;
  bool by_step_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("multistep", "Multi-step decay: factor(t) = gamma^(number of milestones <= t), t in epochs (or steps).");
  s.integers("milestones", "[]", "Epochs (or steps) at which the lr is multiplied by gamma; strictly increasing.");
  s.real("gamma", 0.1, "Multiplier applied at each milestone.").above(0);
  s.choice("by", "epoch", {"epoch", "step"}, "Time unit t: 0-based epoch, or updates done so far.");
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<MultiStep>(o);
  });
}
