// L1 penalty (Tibshirani 1996, the lasso): lambda*|W|_1, subgradient lambda*sign(W) (0 at 0),
// which drives small weights to exactly zero over training.
#include <unroll/plugin.hpp>

#include <unroll/param_selection.hpp>

namespace {
using namespace unroll;

class L1 final : public Regularizer {
 public:
  L1(const Options& o, const BuildContext& c)
      : lambda_(o.real("lambda")), select_(o.string("params"), "l1 regularizer '" + c.name + "'") {}

  double add_penalty_gradient(const std::vector<Param*>& params, double batch_weight) override {
    const double w = lambda_ * batch_weight;
    double sum = 0;
    for (Param* p : select_.select(params)) {
      sum += p->value.cast<double>().cwiseAbs().sum();
      p->grad.array() += static_cast<Scalar>(w) * p->value.array().sign();
    }
    return w * sum;
  }

 private:
  double lambda_;
  ParamSelection select_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("l1", "L1 penalty: lambda * |W|_1, subgradient lambda * sign(W) (Tibshirani 1996)");
  s.real("lambda", 1e-5, "penalty strength").at_least(0);
  add_params_option(s);
  registry.add_regularizer(std::move(s), [](const Options& o, BuildContext& c) { return std::make_unique<L1>(o, c); });
}
