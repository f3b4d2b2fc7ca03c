// he_uniform: He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers", ICCV: the variance of
// eq. 10, Var(w) = gain^2 / fan_in with gain = sqrt(2), from a uniform distribution:
// w ~ U(-a, a) with a = gain * sqrt(3 / fan_in).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class HeUniform final : public Initializer {
 public:
  explicit HeUniform(double gain) : gain_(gain) {}
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in <= 0) throw Error(p.name + ": he_uniform needs fan_in > 0");
    const double a = gain_ * std::sqrt(3.0 / p.fan_in);
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.uniform(-a, a));
  }

 private:
  double gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("he_uniform",
           "He uniform: w ~ U(-a, a), a = gain * sqrt(3 / fan_in), gain = sqrt(2) for ReLU (He et al. 2015, eq. 10).");
  s.real("gain", std::sqrt(2.0), "sqrt(2) for ReLU; sqrt(2 / (1 + a^2)) for PReLU slope a (eq. 15).").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<HeUniform>(o.real("gain"));
  });
}
