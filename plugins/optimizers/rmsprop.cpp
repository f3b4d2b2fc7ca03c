// rmsprop: Tieleman & Hinton 2012, "Lecture 6.5 - RMSProp: divide the gradient by a running
// average of its recent magnitude" (COURSERA: Neural Networks for Machine Learning), with
// PyTorch's optional momentum on the normalized step.
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class RmsProp final : public ElementwiseOptimizer {
 public:
  explicit RmsProp(const Options& o)
      : ElementwiseOptimizer("rmsprop"),
        lr_(o.real("lr")),
        alpha_(o.f("alpha")),
        eps_(o.f("eps")),
        mu_(o.f("momentum")) {}

  double base_lr() const override { return lr_; }

  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    const float a = static_cast<float>(lr), alpha = alpha_, mu = mu_, eps = eps_;
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad(), square_avg = slot(r, "/square_avg");
      if (mu == 0) {
        for_each_block(
            [=](ArrayMap w, ArrayMap g, ArrayMap ms) {
              ms = alpha * ms + (1 - alpha) * g.square();
              w -= a * g / (ms.sqrt() + eps);
            },
            value, grad, square_avg);
      } else {
        ArrayMap momentum = slot(r, "/momentum");
        for_each_block(
            [=](ArrayMap w, ArrayMap g, ArrayMap ms, ArrayMap buf) {
              ms = alpha * ms + (1 - alpha) * g.square();
              buf = mu * buf + g / (ms.sqrt() + eps);
              w -= a * buf;
            },
            value, grad, square_avg, momentum);
      }
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
