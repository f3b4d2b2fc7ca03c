// constant: the learning rate stays at the optimizer's base value (times `factor`).
// The file is not named constant.cpp because the initializer `constant` already builds
// libunroll_constant.so into the same plugin folder.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Constant final : public Schedule {
 public:
  explicit Constant(double factor) : factor_(factor) {}
  double factor(const ScheduleState&) override { return factor_; }

 private:
  double factor_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("constant", "Constant learning rate: factor(t) = factor.");
  s.real("factor", 1.0, "Multiplier of the optimizer's lr.").above(0);
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<Constant>(o.real("factor"));
  });
}
