// identity: Le, Jaitly & Hinton (2015), "A simple way to initialize recurrent networks of
// rectified linear units" (the IRNN): the recurrent matrix starts as a scaled identity, gain * I.
// A non-square matrix gets gain * I on its leading square block and zeros elsewhere.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Identity final : public Initializer {
 public:
  explicit Identity(double gain) : gain_(static_cast<Scalar>(gain)) {}
  void fill(Param& p, Rng&) override {
    p.value.setZero();
    p.value.diagonal().setConstant(gain_);
  }

 private:
  Scalar gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("identity",
           "Scaled identity: W = gain * I (Le, Jaitly & Hinton 2015, IRNN); a non-square W gets gain * I on its "
           "leading square block, zeros elsewhere.");
  s.real("gain", 1.0, "The diagonal value.");
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<Identity>(o.real("gain"));
  });
}
