// xavier_uniform: Glorot & Bengio (2010), "Understanding the difficulty of training deep
// feedforward neural networks", AISTATS, eq. 16 ("normalized initialization"):
// w ~ U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)), i.e. Var(w) = 2 / (fan_in + fan_out).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class XavierUniform final : public Initializer {
 public:
  explicit XavierUniform(double gain) : gain_(gain) {}
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in + p.fan_out <= 0) throw Error(p.name + ": xavier_uniform needs fan_in + fan_out > 0");
    const double a = gain_ * std::sqrt(6.0 / (p.fan_in + p.fan_out));
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.uniform(-a, a));
  }

 private:
  double gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("xavier_uniform",
           "Glorot uniform: w ~ U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010, eq. 16).");
  s.real("gain", 1.0, "Scale factor on the bound a.").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<XavierUniform>(o.real("gain"));
  });
}
