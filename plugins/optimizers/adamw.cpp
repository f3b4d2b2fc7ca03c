// adamw: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization". Adam whose weight
// decay shrinks the parameters directly instead of entering the moment estimates, so every
// weight decays at the same rate whatever its gradient history (with L2-in-Adam, weights with
// large gradients are barely regularized).
#include <cmath>
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class AdamW final : public ElementwiseOptimizer {
 public:
  explicit AdamW(const Options& o)
      : ElementwiseOptimizer("adamw"),
        lr_(o.real("lr")),
        beta1_(o.real("beta1")),
        beta2_(o.real("beta2")),
        eps_(o.f("eps")),
        wd_(o.real("weight_decay")) {}

  double base_lr() const override { return lr_; }

  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    // Float counter (StateMap holds floats): exact up to 2^24 updates, after which the bias
    // corrections are 1 to double precision anyway.
    float& t = counter();
    t += 1;
    const double bc1 = 1 - std::pow(beta1_, t), bc2 = 1 - std::pow(beta2_, t);
    const float step_size = static_cast<float>(lr / bc1), root_bc2 = static_cast<float>(std::sqrt(bc2));
    const float b1 = static_cast<float>(beta1_), b2 = static_cast<float>(beta2_);
    // The decay follows the scheduled lr, as in PyTorch (the paper's eta_t multiplier).
    const float shrink = static_cast<float>(1 - lr * wd_);
    const float eps = eps_;
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad(), m = slot(r, "/m"), v = slot(r, "/v");
      for_each_block(
          [=](ArrayMap w, ArrayMap g, ArrayMap m, ArrayMap v) {
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g.square();
            w = shrink * w - step_size * m / (v.sqrt() / root_bc2 + eps);
          },
          value, grad, m, v);
    }
  }

 private:
  double lr_, beta1_, beta2_;
  float eps_;
  double wd_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("adamw",
           "AdamW (Loshchilov & Hutter 2019): p -= lr*weight_decay*p, then the Adam step (Kingma & Ba 2015) "
           "p -= lr * m_hat / (sqrt(v_hat) + eps) on the raw gradient.");
  s.real("lr", 1e-3, "Learning rate (base value; the schedule multiplies it).").above(0);
  s.real("beta1", 0.9, "Decay rate of the first-moment estimate m.").range(0, 1).below(1);
  s.real("beta2", 0.999, "Decay rate of the second-moment estimate v.").range(0, 1).below(1);
  s.real("eps", 1e-8, "Added to sqrt(v_hat) in the denominator.").above(0);
  s.real("weight_decay", 0.01, "Decoupled decay: p -= lr * weight_decay * p each step.").at_least(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<AdamW>(o);
  });
}
