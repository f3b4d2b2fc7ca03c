// L2 weight decay (Krogh & Hertz 1992): penalty 0.5*lambda*||W||^2, gradient lambda*W.
#include <unroll/plugin.hpp>

#include <unroll/param_selection.hpp>

namespace {
using namespace unroll;

class L2 final : public Regularizer {
 public:
  L2(const Options& o, const BuildContext& c)
      : lambda_(o.real("lambda")), select_(o.string("params"), "l2 regularizer '" + c.name + "'") {}

  // batch_weight scales penalty and gradient alike (the host's factor relating the penalty to
  // one batch's loss).
  double add_penalty_gradient(const std::vector<Param*>& params, double batch_weight) override {
    const double w = lambda_ * batch_weight;
    double sum = 0;
    for (Param* p : select_.select(params)) {
      sum += p->value.cast<double>().squaredNorm();
      p->grad += static_cast<Scalar>(w) * p->value;
    }
    return 0.5 * w * sum;
  }

 private:
  double lambda_;
  ParamSelection select_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("l2", "L2 penalty (weight decay): 0.5 * lambda * ||W||^2, gradient lambda * W (Krogh & Hertz 1992)");
  s.real("lambda", 1e-4, "penalty strength").at_least(0);
  add_params_option(s);
  registry.add_regularizer(std::move(s), [](const Options& o, BuildContext& c) { return std::make_unique<L2>(o, c); });
}
