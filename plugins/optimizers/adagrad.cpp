// adagrad: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
// Stochastic Optimization" (diagonal version): each coordinate's step shrinks with the sum of
// its squared gradients so far.
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Adagrad final : public ElementwiseOptimizer {
 public:
  explicit Adagrad(const Options& o)
      : ElementwiseOptimizer("adagrad"), lr_(o.real("lr")), eps_(o.f("eps")), initial_(o.f("initial_accumulator")) {}

  double base_lr() const override { return lr_; }

  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    const float a = static_cast<float>(lr), eps = eps_;
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad(), sum = slot(r, "/sum", initial_);
      for_each_block(
          [=](ArrayMap w, ArrayMap g, ArrayMap sum) {
            sum += g.square();
            w -= a * g / (sum.sqrt() + eps);
          },
          value, grad, sum);
    }
  }

 private:
  double lr_;
  float eps_, initial_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("adagrad", "AdaGrad (Duchi, Hazan & Singer 2011), diagonal: G += grad^2; p -= lr * grad / (sqrt(G) + eps).");
  s.real("lr", 0.01, "Learning rate (base value; the schedule multiplies it).").above(0);
  s.real("eps", 1e-10, "Added to sqrt(G) in the denominator.").above(0);
  s.real("initial_accumulator", 0.0, "Starting value of every entry of G.").at_least(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adagrad>(o);
  });
}
