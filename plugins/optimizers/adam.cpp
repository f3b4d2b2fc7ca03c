// adam: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1, with
// optional L2 weight decay added to the gradient (coupled; for decoupled decay use adamw).
#include <cmath>
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Adam final : public ElementwiseOptimizer {
 public:
  explicit Adam(const Options& o)
      : ElementwiseOptimizer("adam"),
        lr_(o.real("lr")),
        beta1_(o.real("beta1")),
        beta2_(o.real("beta2")),
        eps_(o.f("eps")),
        wd_(o.f("weight_decay")) {}

  double base_lr() const override { return lr_; }

  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    // One counter for all parameters. It is a float (StateMap holds float matrices), exact up to
    // 2^24 updates; beyond that the bias corrections are 1 to double precision anyway.
    float& t = counter();
    t += 1;
    const double bc1 = 1 - std::pow(beta1_, t), bc2 = 1 - std::pow(beta2_, t);
    // lr * m_hat / (sqrt(v_hat) + eps) with the corrections moved onto scalars.
    const float step_size = static_cast<float>(lr / bc1), root_bc2 = static_cast<float>(std::sqrt(bc2));
    const float b1 = static_cast<float>(beta1_), b2 = static_cast<float>(beta2_), eps = eps_, wd = wd_;
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad(), m = slot(r, "/m"), v = slot(r, "/v");
      for_each_block(
          [=](ArrayMap w, ArrayMap grad, ArrayMap m, ArrayMap v) {
            auto g = grad + wd * w;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g.square();
            w -= step_size * m / (v.sqrt() / root_bc2 + eps);
          },
          value, grad, m, v);
    }
  }

 private:
  double lr_, beta1_, beta2_;
  float eps_, wd_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("adam",
           "Adam (Kingma & Ba 2015): g = grad + weight_decay*p; m = beta1*m + (1-beta1)*g; "
           "v = beta2*v + (1-beta2)*g^2; p -= lr * m_hat / (sqrt(v_hat) + eps), m_hat = m/(1-beta1^t), "
           "v_hat = v/(1-beta2^t).");
  s.real("lr", 1e-3, "Learning rate alpha (base value; the schedule multiplies it).").above(0);
  s.real("beta1", 0.9, "Decay rate of the first-moment estimate m.").range(0, 1).below(1);
  s.real("beta2", 0.999, "Decay rate of the second-moment estimate v.").range(0, 1).below(1);
  s.real("eps", 1e-8, "Added to sqrt(v_hat) in the denominator.").above(0);
  s.real("weight_decay", 0.0, "L2 coefficient added to the gradient (coupled, scaled by Adam).").at_least(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adam>(o);
  });
}
