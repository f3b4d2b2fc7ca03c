// rmsprop: Tieleman & Hinton 2012, "Lecture 6.5 - RMSProp: divide the gradient by a running
// average of its recent magnitude" (COURSERA: Neural Networks for Machine Learning), with
// PyTorch's optional momentum on the normalized step.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class RmsProp final : public StatefulOptimizer {
 public:
  explicit RmsProp(const Options& o)
      : StatefulOptimizer("rmsprop"), lr_(o.real("lr")), alpha_(o.f("alpha")), eps_(o.f("eps")), mu_(o.f("momentum")) {}

  double base_lr() const override { return lr_; }

  void step(const std::vector<Param*>& params, double lr) override {
    const float a = static_cast<float>(lr);
    for (Param* p : params) {
      if (p->frozen) continue;
      auto w = p->value.array();
      auto g = p->grad.array();
      auto ms = slot(*p, "/square_avg").array();
      ms = alpha_ * ms + (1 - alpha_) * g.square();
      if (mu_ == 0) {
        w -= a * g / (ms.sqrt() + eps_);
        continue;
      }
      auto buf = slot(*p, "/momentum").array();
      buf = mu_ * buf + g / (ms.sqrt() + eps_);
      w -= a * buf;
    }
  }

 private:
  double lr_;
  float alpha_, eps_, mu_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("rmsprop",
           "RMSprop (Tieleman & Hinton 2012): s = alpha*s + (1-alpha)*grad^2; p -= lr * grad / (sqrt(s) + eps) "
           "(with momentum: b = momentum*b + grad/(sqrt(s) + eps); p -= lr*b).");
  s.real("lr", 0.01, "Learning rate (base value; the schedule multiplies it).").above(0);
  s.real("alpha", 0.99, "Decay rate of the running average s of squared gradients.").range(0, 1).below(1);
  s.real("eps", 1e-8, "Added to sqrt(s) in the denominator.").above(0);
  s.real("momentum", 0.0, "Momentum on the normalized step; 0 = none.").range(0, 1).below(1);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<RmsProp>(o);
  });
}
