// constant: every weight set to one value. `zeros` is constant with value 0 (zero initialization).
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Constant final : public Initializer {
 public:
  explicit Constant(double value) : value_(static_cast<Scalar>(value)) {}
  void fill(Param& p, Rng&) override { p.value.setConstant(value_); }

 private:
  Scalar value_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("constant", "Constant weights: w = value (value 0 is zero initialization).");
  s.real("value", 0.0, "The value of every weight.");
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<Constant>(o.real("value"));
  });
  registry.add_initializer(
      Schema("zeros", "Zero initialization: w = 0 (the same as {kind: constant, value: 0})."),
      [](const Options&, BuildContext&) -> std::unique_ptr<Initializer> { return std::make_unique<Constant>(0.0); });
}
