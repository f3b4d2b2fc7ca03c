// he_normal: He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers: surpassing human-level
// performance on ImageNet classification", ICCV. For ReLU, eq. 10 asks 0.5 * fan_in * Var(w) = 1,
// so w ~ N(0, 2 / fan_in): std = gain / sqrt(fan_in) with gain = sqrt(2) ("fan_in" mode).
// For PReLU with slope a, eq. 15 gives gain = sqrt(2 / (1 + a^2)).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class HeNormal final : public Initializer {
 public:
  explicit HeNormal(double gain) : gain_(gain) {}
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in <= 0) throw Error(p.name + ": he_normal needs fan_in > 0");
    const double std = gain_ / std::sqrt(double(p.fan_in));
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.normal(0.0, std));
  }

 private:
  double gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("he_normal", "He normal: w ~ N(0, gain^2 / fan_in), gain = sqrt(2) for ReLU (He et al. 2015, eq. 10).");
  s.real("gain", std::sqrt(2.0), "sqrt(2) for ReLU; sqrt(2 / (1 + a^2)) for PReLU slope a (eq. 15).").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<HeNormal>(o.real("gain"));
  });
}
