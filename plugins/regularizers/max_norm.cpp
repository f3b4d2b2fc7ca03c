// Max-norm constraint (Srebro & Shraibman 2005; Hinton et al. 2012; Srivastava et al. 2014):
// after each update, every row of a selected weight matrix (the incoming weights of one unit,
// W being units x inputs) whose L2 norm exceeds c is scaled back to norm c. A projection, not a
// penalty: it bounds the weights without shrinking those inside the ball. Frozen parameters
// are left alone.
#include <unroll/plugin.hpp>

#include <unroll/param_selection.hpp>

namespace {
using namespace unroll;

class MaxNorm final : public Regularizer {
 public:
  MaxNorm(const Options& o, const BuildContext& c)
      : max_(o.real("max")),
        rows_(o.string("axis") == "rows"),
        select_(o.string("params"), "max_norm regularizer '" + c.name + "'") {}

  // A constraint on the updated weights only: a sharded run applies it after the gather.
  bool changes_gradients() const override { return false; }

  void after_step(const std::vector<Param*>& params) override {
    const auto c = static_cast<Scalar>(max_);
    for (Param* p : select_.select(params)) {
      if (p->frozen) continue;
      auto w = p->value.array();
      if (rows_) {
        norms_ = p->value.rowwise().norm();
        w.colwise() *= (norms_.array() > c).select(c / norms_.array(), Scalar(1));
      } else {
        norms_ = p->value.colwise().norm().transpose();
        w.rowwise() *= (norms_.array() > c).select(c / norms_.array(), Scalar(1)).transpose();
      }
    }
  }

 private:
  double max_;
  bool rows_;
  ParamSelection select_;
  Vector norms_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("max_norm",
           "max-norm constraint: after each step, rows w of W with ||w||_2 > c become c * w / ||w||_2 "
           "(Srebro & Shraibman 2005; Hinton et al. 2012)");
  s.real("max", 3.0, "the bound c on each row's (or column's) L2 norm").above(0);
  s.choice("axis", "rows", {"rows", "cols"},
           "rows: incoming weights of each unit (W is units x inputs); cols: outgoing");
  add_params_option(s);
  registry.add_regularizer(std::move(s),
                           [](const Options& o, BuildContext& c) { return std::make_unique<MaxNorm>(o, c); });
}
