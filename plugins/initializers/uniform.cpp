// uniform: every weight drawn independently from U(low, high).
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Uniform final : public Initializer {
 public:
  Uniform(double low, double high) : low_(low), high_(high) {}
  void fill(Param& p, Rng& rng) override {
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.uniform(low_, high_));
  }

 private:
  double low_, high_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("uniform", "Uniform random weights: w ~ U(low, high).");
  s.real("low", -0.05, "Lower end of the interval.");
  s.real("high", 0.05, "Upper end of the interval (must exceed low).");
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    const double low = o.real("low"), high = o.real("high");
    if (!(low < high))
      throw Error(o.node().loc().str() + ": the uniform initializer needs low < high, got low = " +
                  std::to_string(low) + ", high = " + std::to_string(high));
    return std::make_unique<Uniform>(low, high);
  });
}
