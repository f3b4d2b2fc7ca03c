#pragma once
// Regularizers that act on parameters or gradients (weight noise, L1/L2, gradient noise,
// max-norm). Activation-level regularizers (dropout, batch norm, input noise) are Layers.
// The trainer's update pipeline is fixed and calls these hooks in this order:
//   perturb (train forward only) -> forward/backward -> restore -> add_penalty_gradient ->
//   clip -> transform_gradients -> optimizer step -> after_step
#include <vector>

#include "unroll/param.hpp"
#include "unroll/rng.hpp"

namespace unroll {

class Regularizer {
 public:
  virtual ~Regularizer() = default;
  /// Before a training forward pass: e.g. add noise to weights (remember what to undo).
  virtual void perturb(const std::vector<Param*>& params, Rng& rng) {
    (void)params;
    (void)rng;
  }
  /// After backward: undo perturb().
  virtual void restore(const std::vector<Param*>& params) { (void)params; }
  /// Add the penalty's gradient into p.grad (L1/L2); returns the penalty (not added to the reported loss).
  virtual double add_penalty_gradient(const std::vector<Param*>& params, double batch_weight) {
    (void)params;
    (void)batch_weight;
    return 0.0;
  }
  /// Transform gradients after clipping (annealed gradient noise). `step` counts updates.
  virtual void transform_gradients(const std::vector<Param*>& params, long long step, Rng& rng) {
    (void)params;
    (void)step;
    (void)rng;
  }
  /// After the optimizer step: constraints (max-norm).
  virtual void after_step(const std::vector<Param*>& params) { (void)params; }
  /// Whether add_penalty_gradient or transform_gradients may change gradients. A data-parallel
  /// run that shards the optimizer step over its ranks (docs/scaling.md) holds each summed
  /// gradient element on one rank only, where those hooks cannot see whole parameters; it
  /// shards only when every regularizer returns false. perturb/restore (around the forward) and
  /// after_step (once the updated parameters are gathered) see every rank's whole replica
  /// either way. The default, true, keeps a regularizer that does not say on the replicated
  /// update.
  virtual bool changes_gradients() const { return true; }
};

}  // namespace unroll
