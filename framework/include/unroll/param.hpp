#pragma once
// A trainable parameter: a named value matrix plus its gradient, owned by the layer that uses
// it. Names are hierarchical ("dense0.W", "lstm1.U") and key everything: initializer streams,
// optimizer state, checkpoints and pretrained loading.
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/types.hpp"

namespace unroll {

/// An initializer for a block of rows of a stacked parameter (one gate of W = [W_i; W_f; ...]):
/// the host runs it after the parameter's own `init`, with an Rng stream derived from (seed,
/// "NAME[BLOCK]"), and writes the result into rows [row0, row0 + rows). fan_in and fan_out are
/// those of the block (for a gate block of a recurrent matrix: H and H).
struct InitBlock {
  std::string block;  // "f": shown in messages and in the stream name
  int row0 = 0, rows = 0;
  int fan_in = 0, fan_out = 0;
  Node init;
};

struct Param {
  std::string name;
  Matrix value;
  /// GRADIENTS ACCUMULATE: backward() adds (+=) into grad; the trainer zeroes it once per
  /// update. Never assign to grad in a layer.
  Matrix grad;
  /// Fan-in and fan-out as the initializer formulas (Glorot, He, LeCun) define them.
  int fan_in = 0, fan_out = 0;
  /// The initializer block ({kind: gaussian, std: 0.05}); the host runs it after the model is
  /// built, with an Rng stream derived from (seed, name): construction is separate from
  /// initialization.
  Node init;
  /// Per-block initializers, run in order after `init` (a forget-gate bias of 1 in b, an
  /// orthogonal block per gate in U). Blocks may leave rows to the whole-parameter `init`.
  std::vector<InitBlock> blocks;
  /// Frozen parameters keep their gradient but the optimizer skips them.
  bool frozen = false;

  Param() = default;
  Param(std::string name_, int rows, int cols, int fan_in_, int fan_out_, Node init_)
      : name(std::move(name_)),
        value(Matrix::Zero(rows, cols)),
        grad(Matrix::Zero(rows, cols)),
        fan_in(fan_in_),
        fan_out(fan_out_),
        init(std::move(init_)) {}
};

}  // namespace unroll
