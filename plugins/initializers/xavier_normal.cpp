// xavier_normal: Glorot & Bengio (2010), "Understanding the difficulty of training deep
// feedforward neural networks", AISTATS. Their compromise between keeping forward and backward
// variances equal (eq. 12) is Var(w) = 2 / (fan_in + fan_out); this draws w from the normal
// distribution with that variance (times gain^2).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class XavierNormal final : public Initializer {
 public:
  explicit XavierNormal(double gain) : gain_(gain) {}
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in + p.fan_out <= 0) throw Error(p.name + ": xavier_normal needs fan_in + fan_out > 0");
    const double std = gain_ * std::sqrt(2.0 / (p.fan_in + p.fan_out));
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.normal(0.0, std));
  }

 private:
  double gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("xavier_normal", "Glorot normal: w ~ N(0, gain^2 * 2 / (fan_in + fan_out)) (Glorot & Bengio 2010, eq. 12).");
  s.real("gain", 1.0, "Scale factor on the standard deviation.").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<XavierNormal>(o.real("gain"));
  });
}
