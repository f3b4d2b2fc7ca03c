// adagrad: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
// Stochastic Optimization" (diagonal version): each coordinate's step shrinks with the sum of
// its squared gradients so far.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Adagrad final : public Optimizer {
 public:
  explicit Adagrad(const Options& o)
      : lr_(o.real("lr")), eps_(o.f("eps")), initial_(o.f("initial_accumulator")) {}

  double base_lr() const override { return lr_; }
  StateMap& state() override { return state_; }

  void step(const std::vector<Param*>& params, double lr) override {
    const float a = static_cast<float>(lr);
    for (Param* p : params) {
      if (p->frozen) continue;
      auto g = p->grad.array();
      auto sum = accumulator(*p).array();
      sum += g.square();
      p->value.array() -= a * g / (sum.sqrt() + eps_);
    }
  }

 private:
  // "<param>/sum", filled with initial_accumulator on first use. Looked up by name every step
  // because the host may replace the map on restore; the key buffer is reused.
  Matrix& accumulator(const Param& p) {
    key_.assign(p.name).append("/sum");
    auto it = state_.find(key_);
    if (it == state_.end())
      return state_.emplace(key_, Matrix::Constant(p.value.rows(), p.value.cols(), initial_)).first->second;
    if (it->second.rows() != p.value.rows() || it->second.cols() != p.value.cols())
      throw Error("adagrad: state '" + key_ + "' is " + std::to_string(it->second.rows()) + "x" +
                  std::to_string(it->second.cols()) + " but parameter " + p.name + " is " +
                  std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols()) +
                  " (a checkpoint from a different model?)");
    return it->second;
  }

  double lr_;
  float eps_, initial_;
  StateMap state_;
  std::string key_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("adagrad",
           "AdaGrad (Duchi, Hazan & Singer 2011), diagonal: G += grad^2; p -= lr * grad / (sqrt(G) + eps).");
  s.real("lr", 0.01, "Learning rate (base value; the schedule multiplies it).").above(0);
  s.real("eps", 1e-10, "Added to sqrt(G) in the denominator.").above(0);
  s.real("initial_accumulator", 0.0, "Starting value of every entry of G.").at_least(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adagrad>(o);
  });
}
