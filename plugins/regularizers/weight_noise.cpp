// Weight noise (Graves 2011; Graves et al. 2013): before each training forward pass every
// selected weight gets fresh N(0, std^2) noise; the gradient computed at the noisy weights is
// applied to the clean ones. restore() copies the saved weights back rather than subtracting
// the noise, because (w + n) - n is not always w in floating point.
#include <unroll/plugin.hpp>

#include <unroll/param_selection.hpp>

namespace {
using namespace unroll;

class WeightNoise final : public Regularizer {
 public:
  WeightNoise(const Options& o, const BuildContext& c)
      : std_(o.real("std")), select_(o.string("params"), "weight_noise regularizer '" + c.name + "'") {}

  // The noise is on the weights the forward sees, never on gradients: a sharded run keeps it.
  bool changes_gradients() const override { return false; }

  void perturb(const std::vector<Param*>& params, Rng& rng) override {
    const auto& sel = select_.select(params);
    saved_.resize(sel.size());
    for (size_t i = 0; i < sel.size(); ++i) {
      Matrix& w = sel[i]->value;
      saved_[i] = w;
      for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] += static_cast<Scalar>(std_ * rng.normal());
    }
    perturbed_ = sel;
  }

  void restore(const std::vector<Param*>& params) override {
    (void)params;
    for (size_t i = 0; i < perturbed_.size(); ++i) perturbed_[i]->value = saved_[i];
    perturbed_.clear();
  }

 private:
  double std_;
  ParamSelection select_;
  std::vector<Param*> perturbed_;  // empty unless a perturb() awaits its restore()
  std::vector<Matrix> saved_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("weight_noise",
           "forward-pass weight noise: W + n, n ~ N(0, std^2) drawn per training batch, removed after backward "
           "(Graves 2011)");
  s.real("std", 0.075, "standard deviation of the noise").at_least(0);
  add_params_option(s);
  registry.add_regularizer(std::move(s),
                           [](const Options& o, BuildContext& c) { return std::make_unique<WeightNoise>(o, c); });
}
