// Annealed gradient noise (Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for
// Very Deep Networks"): g += N(0, sigma_t^2) with sigma_t^2 = eta / (1 + t)^gamma, t = update step.
#include <cmath>

#include <unroll/plugin.hpp>

#include <unroll/param_selection.hpp>

namespace {
using namespace unroll;

class GradientNoise final : public Regularizer {
 public:
  GradientNoise(const Options& o, const BuildContext& c)
      : eta_(o.real("eta")),
        gamma_(o.real("gamma")),
        select_(o.string("params"), "gradient_noise regularizer '" + c.name + "'") {}

  void transform_gradients(const std::vector<Param*>& params, long long step, Rng& rng) override {
    const double sigma = std::sqrt(eta_ / std::pow(1.0 + static_cast<double>(step), gamma_));
    for (Param* p : select_.select(params))
      for (Eigen::Index k = 0; k < p->grad.size(); ++k) p->grad.data()[k] += static_cast<Scalar>(sigma * rng.normal());
  }

 private:
  double eta_, gamma_;
  ParamSelection select_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("gradient_noise",
           "annealed gradient noise: g + n, n ~ N(0, eta / (1 + t)^gamma), t = update step (Neelakantan et al. 2015)");
  s.real("eta", 0.01, "noise variance at step 0 (the paper tries 0.01, 0.3, 1.0)").at_least(0);
  s.real("gamma", 0.55, "decay exponent of the variance").at_least(0);
  add_params_option(s);
  registry.add_regularizer(std::move(s),
                           [](const Options& o, BuildContext& c) { return std::make_unique<GradientNoise>(o, c); });
}
