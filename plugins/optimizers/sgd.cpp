// sgd: stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay, in
// PyTorch's formulation (no dampening; the velocity accumulates raw gradients).
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Sgd final : public StatefulOptimizer {
 public:
  explicit Sgd(const Options& o)
      : StatefulOptimizer("sgd"), lr_(o.real("lr")), mu_(o.f("momentum")), wd_(o.f("weight_decay")), nesterov_(o.boolean("nesterov")) {
    if (nesterov_ && mu_ == 0)
      throw Error(o.node().at("nesterov").loc().str() +
                  ": sgd: 'nesterov: true' needs a momentum > 0 (the look-ahead is taken along the velocity); "
                  "set e.g. 'momentum: 0.9' or drop 'nesterov'");
  }

  double base_lr() const override { return lr_; }

  void step(const std::vector<Param*>& params, double lr) override {
    const float a = static_cast<float>(lr);
    for (Param* p : params) {
      if (p->frozen) continue;
      float* w = p->value.data();
      const float* g = p->grad.data();
      const Eigen::Index n = p->value.size();
      const float mu = mu_, wd = wd_;  // locals: members could alias w and block vectorization
      // L2 penalty 0.5*wd*|w|^2 folded into the gradient. One fused pass over w, g and v: this
      // is serial work between the GEMMs of consecutive batches (Eigen would make two).
      if (mu == 0) {
        for (Eigen::Index i = 0; i < n; ++i) w[i] -= a * (g[i] + wd * w[i]);
        continue;
      }
      float* v = slot(*p, "/momentum").data();
      if (nesterov_) {
        for (Eigen::Index i = 0; i < n; ++i) {
          const float gi = g[i] + wd * w[i];
          v[i] = mu * v[i] + gi;
          w[i] -= a * (gi + mu * v[i]);
        }
      } else {
        for (Eigen::Index i = 0; i < n; ++i) {
          v[i] = mu * v[i] + g[i] + wd * w[i];
          w[i] -= a * v[i];
        }
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
