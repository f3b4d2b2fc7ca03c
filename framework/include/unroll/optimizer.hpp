#pragma once
// Optimizers update parameters from their (already clipped and regularized) gradients.
// State is per parameter, keyed by the parameter's name, and exposed as named tensors so that
// checkpoints save and restore it exactly.
#include <map>
#include <string>
#include <vector>

#include "unroll/param.hpp"

namespace unroll {

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
  /// The 1x1 "step" counter shared by all parameters (a float: exact up to 2^24 updates).
  float& counter();

 private:
  StateMap state_;
  std::string name_, key_;
};

}  // namespace unroll
