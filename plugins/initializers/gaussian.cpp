// gaussian: every weight drawn independently from N(mean, std^2).
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Gaussian final : public Initializer {
 public:
  Gaussian(double mean, double std) : mean_(mean), std_(std) {}
  void fill(Param& p, Rng& rng) override {
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.normal(mean_, std_));
  }

 private:
  double mean_, std_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("gaussian", "Gaussian random weights: w ~ N(mean, std^2).");
  s.real("mean", 0.0, "Mean of the distribution.");
  s.real("std", 0.05, "Standard deviation.").at_least(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<Gaussian>(o.real("mean"), o.real("std"));
  });
}
