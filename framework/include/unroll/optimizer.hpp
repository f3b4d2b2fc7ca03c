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

}  // namespace unroll
