// lecun_normal: LeCun, Bottou, Orr & Mueller (1998), "Efficient BackProp", section 4.6: weights
// with standard deviation fan_in^(-1/2), i.e. w ~ N(0, 1 / fan_in).
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class LecunNormal final : public Initializer {
 public:
  void fill(Param& p, Rng& rng) override {
    if (p.fan_in <= 0) throw Error(p.name + ": lecun_normal needs fan_in > 0");
    const double std = 1.0 / std::sqrt(double(p.fan_in));
    for (Scalar& w : p.value.reshaped()) w = static_cast<Scalar>(rng.normal(0.0, std));
  }
};

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_initializer(
      Schema("lecun_normal", "LeCun normal: w ~ N(0, 1 / fan_in) (LeCun et al. 1998, Efficient BackProp, sec. 4.6)."),
      [](const Options&, BuildContext&) -> std::unique_ptr<Initializer> { return std::make_unique<LecunNormal>(); });
}
