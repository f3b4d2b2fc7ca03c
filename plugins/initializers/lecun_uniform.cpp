// lecun_uniform: LeCun, Bottou, Orr & Mueller (1998), "Efficient BackProp", section 4.6: the
// variance 1 / fan_in from a uniform distribution, w ~ U(-a, a) with a = sqrt(3 / fan_in).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class LecunUniform final : public Initializer {
 public:
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in <= 0) throw Error(p.name + ": lecun_uniform needs fan_in > 0");
    const double a = std::sqrt(3.0 / p.fan_in);
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.uniform(-a, a));
  }
};

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_initializer(
      Schema(
          "lecun_uniform",
          "LeCun uniform: w ~ U(-a, a), a = sqrt(3 / fan_in), so Var(w) = 1 / fan_in (LeCun et al. 1998, sec. 4.6)."),
      [](const Options&, BuildContext&) -> std::unique_ptr<Initializer> { return std::make_unique<LecunUniform>(); });
}
