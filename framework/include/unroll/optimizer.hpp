#pragma once
// Optimizers update parameters from their (already clipped and regularized) gradients.
// State is per parameter, keyed by the parameter's name, and exposed as named tensors so that
// checkpoints save and restore it exactly.
#include <map>
#include <string>
#include <vector>

#include "unroll/parallel.hpp"
#include "unroll/param.hpp"

namespace unroll {

/// Elements [begin, end) of one parameter, in storage (column-major) order. A data-parallel run
/// that shards the optimizer step (docs/scaling.md) gives each rank a contiguous share of all
/// parameters laid end to end, so a rank's share starts and ends inside parameters.
struct ParamRange {
  Param* param = nullptr;
  Eigen::Index begin = 0, end = 0;
  /// These elements of the parameter's value, of its gradient, or of any matrix of its shape.
  ArrayMap value() const { return of(param->value); }
  ArrayMap grad() const { return of(param->grad); }
  ArrayMap of(Matrix& m) const { return ArrayMap(m.data() + begin, end - begin); }
};

/// Every element of every parameter: what step(params, lr) updates.
std::vector<ParamRange> whole(const std::vector<Param*>& params);

/// Named state tensors: "dense0.W/momentum" -> matrix, "step" -> 1x1 matrix.
using StateMap = std::map<std::string, Matrix>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// The base learning rate from the optimizer's own options (`lr`); schedules scale it.
  virtual double base_lr() const = 0;
  /// One update of every non-frozen parameter with learning rate lr. Reads p.grad, which the
  /// host zeroes afterwards.
  virtual void step(const std::vector<Param*>& params, double lr) = 0;
  /// Every state tensor, so the host can save it and write it back on resume.
  virtual StateMap& state() = 0;
  /// True when the update of each element depends only on that element's value, gradient and
  /// state (and on scalars shared by all elements: lr, a step counter). Then a data-parallel run
  /// may shard the step: each rank calls step_range on its share of the elements only, and the
  /// updated values are gathered on every rank. The default, false, keeps an optimizer that does
  /// not say on the replicated path (every rank runs step() over every parameter), unchanged.
  virtual bool elementwise() const { return false; }
  /// One update of the given elements only (see elementwise()). Called on every rank once per
  /// update, also with no ranges, so that shared scalars (a step counter) advance alike
  /// everywhere. State tensors keep the full shape of their parameter, so checkpoints do not
  /// depend on the number of ranks. The default throws: only elementwise() optimizers are asked.
  virtual void step_range(const std::vector<ParamRange>& ranges, double lr);
};

/// Base for optimizers with per-parameter state: owns the StateMap and hands out named slots.
/// Slots are looked up by name at every step (not cached as pointers) because the host may
/// replace the whole map when it restores a checkpoint.
class StatefulOptimizer : public Optimizer {
 public:
  StateMap& state() override { return state_; }

 protected:
  explicit StatefulOptimizer(std::string name) : name_(std::move(name)) {}
  /// State tensor "<param name><suffix>" (e.g. "dense0.W/m"), created with the parameter's
  /// shape and filled with `init` on first use; a restored tensor of another shape is an Error.
  Matrix& slot(const Param& p, const char* suffix, float init = 0.0f);
  /// The same slot's elements [r.begin, r.end) (for step_range).
  ArrayMap slot(const ParamRange& r, const char* suffix, float init = 0.0f) {
    return r.of(slot(*r.param, suffix, init));
  }
  /// The 1x1 "step" counter shared by all parameters (a float: exact up to 2^24 updates).
  float& counter();

 private:
  StateMap state_;
  std::string name_, key_;
};

/// Base for elementwise optimizers (sgd, adam, ...): write the update once, as step_range; step()
/// runs it over every element of every parameter, and sharded data-parallel runs over a rank's
/// share.
class ElementwiseOptimizer : public StatefulOptimizer {
 public:
  bool elementwise() const final { return true; }
  void step(const std::vector<Param*>& params, double lr) final { step_range(whole(params), lr); }
  void step_range(const std::vector<ParamRange>& ranges, double lr) override = 0;

 protected:
  using StatefulOptimizer::StatefulOptimizer;
};

}  // namespace unroll
