// sgd: stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay, in
// PyTorch's formulation (no dampening; the velocity accumulates raw gradients).
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Sgd final : public ElementwiseOptimizer {
 public:
  explicit Sgd(const Options& o)
      : ElementwiseOptimizer("sgd"),
        lr_(o.real("lr")),
        mu_(o.f("momentum")),
        wd_(o.f("weight_decay")),
        nesterov_(o.boolean("nesterov")) {
    if (nesterov_ && mu_ == 0)
      throw Error(o.node().at("nesterov").loc().str() +
                  ": sgd: 'nesterov: true' needs a momentum > 0 (the look-ahead is taken along the velocity); "
                  "set e.g. 'momentum: 0.9' or drop 'nesterov'");
  }

  double base_lr() const override { return lr_; }

  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    const float a = static_cast<float>(lr), mu = mu_, wd = wd_;
    // The L2 penalty 0.5*wd*|w|^2 is folded into the gradient.
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad();
      if (mu == 0) {
        for_each_block([=](ArrayMap w, ArrayMap g) { w -= a * (g + wd * w); }, value, grad);
        continue;
      }
      ArrayMap velocity = slot(r, "/momentum");
      if (nesterov_) {
        for_each_block(
            [=](ArrayMap w, ArrayMap g, ArrayMap v) {
              v = mu * v + g + wd * w;
              w -= a * (g + wd * w + mu * v);
            },
            value, grad, velocity);
      } else {
        for_each_block(
            [=](ArrayMap w, ArrayMap g, ArrayMap v) {
              v = mu * v + g + wd * w;
              w -= a * v;
            },
            value, grad, velocity);
      }
    }
  }

 private:
  double lr_;
  float mu_, wd_;
  bool nesterov_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("sgd",
           "SGD with momentum, PyTorch formulation: g = grad + weight_decay*p; v = momentum*v + g; "
           "p -= lr*v (nesterov: p -= lr*(g + momentum*v)). Nesterov momentum after Sutskever et al. 2013.");
  s.real("lr", 0.01, "Learning rate (base value; the schedule multiplies it).").above(0);
  s.real("momentum", 0.0, "Momentum coefficient mu; 0 = plain SGD (no state).").range(0, 1).below(1);
  s.boolean("nesterov", false, "Nesterov momentum (needs momentum > 0).");
  s.real("weight_decay", 0.0, "L2 coefficient added to the gradient: g += weight_decay * p.").at_least(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Sgd>(o);
  });
}
