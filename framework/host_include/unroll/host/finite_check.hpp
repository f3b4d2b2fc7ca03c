#pragma once
// The check that keeps non-finite numbers out of checkpoints: a NaN or infinite parameter,
// buffer or optimizer state means the run has diverged, even when the loss that would show it is
// only computed at the next batch (an overflow in the last update of an epoch).
#include <string>

namespace unroll {

class Model;
class Optimizer;

/// "parameter 'dense0.W'", "buffer 'bn1.mean'" or "optimizer state 'dense0.W/m'": the first
/// tensor holding a NaN or an infinity; "" when every value is finite.
std::string first_non_finite(Model& model, Optimizer& optimizer);

}  // namespace unroll
