#pragma once
// Initializers fill a parameter given its fan-in/fan-out and a random stream. The stream is
// derived from (experiment seed, parameter name), so the result does not depend on what else
// the model contains. Name each initializer after its paper and cite it in its doc line.
#include "unroll/param.hpp"
#include "unroll/rng.hpp"

namespace unroll {

class Initializer {
 public:
  virtual ~Initializer() = default;
  /// Overwrite p.value (its shape is fixed). May set p.frozen (pretrained weights).
  virtual void fill(Param& p, Rng& rng) = 0;
};

}  // namespace unroll
