// plateau: reduce the learning rate when a metric stops improving; PyTorch's ReduceLROnPlateau.
// Its counters live in the StateMap itself (not in members), so a restored checkpoint continues
// exactly where the interrupted run was, including the float rounding of `best`.
#include <algorithm>
#include <limits>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Plateau final : public Schedule {
 public:
  explicit Plateau(const Options& o)
      : metric_(o.string("metric")),
        maximize_(o.string("mode") == "max"),
        relative_(o.string("threshold_mode") == "rel"),
        factor_(o.real("factor")),
        patience_(o.i("patience")),
        threshold_(o.real("threshold")),
        cooldown_(o.i("cooldown")),
        min_factor_(o.real("min_factor")) {
    const float inf = std::numeric_limits<float>::infinity();
    state_["factor"] = Matrix::Constant(1, 1, 1);
    state_["best"] = Matrix::Constant(1, 1, maximize_ ? -inf : inf);
    state_["num_bad_epochs"] = Matrix::Zero(1, 1);
    state_["cooldown_counter"] = Matrix::Zero(1, 1);
  }

  double factor(const ScheduleState&) override { return at("factor"); }
  StateMap* state() override { return &state_; }

  void end_epoch(int, const std::map<std::string, double>& metrics) override {
    auto it = metrics.find(metric_);
    if (it == metrics.end()) {
      std::string have;
      for (const auto& [name, value] : metrics) have += (have.empty() ? "" : ", ") + name;
      throw Error("plateau: metric '" + metric_ + "' is not reported (this run reports: " +
                  (have.empty() ? "nothing" : have) + "); set the schedule's 'metric' option to one of these");
    }
    const double x = it->second;
    float &best = at("best"), &bad = at("num_bad_epochs"), &cooldown = at("cooldown_counter"), &f = at("factor");
    if (improves(x, best)) {
      best = static_cast<float>(x);
      bad = 0;
    } else {
      bad += 1;
    }
    if (cooldown > 0) {  // epochs right after a reduction do not count as bad
      cooldown -= 1;
      bad = 0;
    }
    if (bad > patience_) {
      f = static_cast<float>(std::max(f * factor_, min_factor_));
      cooldown = static_cast<float>(cooldown_);
      bad = 0;
    }
  }

 private:
  bool improves(double x, double best) const {
    if (relative_) return maximize_ ? x > best * (1 + threshold_) : x < best * (1 - threshold_);
    return maximize_ ? x > best + threshold_ : x < best - threshold_;
  }
  float& at(const std::string& key) {
    auto it = state_.find(key);
    if (it == state_.end() || it->second.size() != 1)
      throw Error("plateau: schedule state '" + key + "' is missing or not 1x1 (a checkpoint from another schedule?)");
    return it->second(0, 0);
  }

  std::string metric_;
  bool maximize_, relative_;
  double factor_;
  int patience_;
  double threshold_;
  int cooldown_;
  double min_factor_;
  StateMap state_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("plateau",
           "Reduce on plateau (PyTorch ReduceLROnPlateau): after more than `patience` epochs without an "
           "improvement of `metric` by `threshold`, factor *= factor (not below min_factor), then `cooldown` "
           "epochs of grace.");
  s.string("metric", "val_loss", "Epoch metric to watch (val_loss, train_loss, val_accuracy, ...).");
  s.choice("mode", "min", {"min", "max"}, "Whether the metric improves by going down (min) or up (max).");
  s.real("factor", 0.1, "Multiplier applied at each reduction.").range(0, 1).above(0).below(1);
  s.integer("patience", 10, "Epochs without improvement tolerated; the next one reduces.").at_least(0);
  s.real("threshold", 1e-4, "Minimum change that counts as an improvement.").at_least(0);
  s.choice("threshold_mode", "rel", {"rel", "abs"},
           "rel: better than best*(1 -/+ threshold); abs: better than best -/+ threshold.");
  s.integer("cooldown", 0, "Epochs after a reduction during which bad epochs are not counted.").at_least(0);
  s.real("min_factor", 0.0, "Lower bound of the factor.").range(0, 1);
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<Plateau>(o);
  });
}
