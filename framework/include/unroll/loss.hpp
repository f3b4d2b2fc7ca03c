#pragma once
// Losses: a value and its gradient with respect to the model's outputs. The host chooses which
// columns the loss sees (the last step, or every step) and passes only those.
#include "unroll/linalg.hpp"
#include "unroll/types.hpp"

namespace unroll {

class Loss {
 public:
  virtual ~Loss() = default;
  /// Returns the SUM of the per-column losses over the columns of `out` (a column whose label
  /// is -1 is padding and contributes nothing). If `grad` is non-null, writes d(sum)/d(out)
  /// into it (resized to out's shape). The host divides by the column count.
  virtual double evaluate(ConstMatRef out, const Targets& targets, Matrix* grad) = 0;
  /// True when outputs are class scores (argmax = prediction), so accuracy applies.
  virtual bool classifies() const { return true; }
};

}  // namespace unroll
