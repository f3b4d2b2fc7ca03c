#pragma once
// The optimizer step sharded over the ranks of a data-parallel run (ZeRO stage 1, Rajbhandari et
// al. 2020). Laid end to end, the parameters are one flat vector of P floats; rank r owns the
// contiguous share rank_slice(P, r, N). An update is then
//
//   reduce-scatter: rank r receives the SUM over ranks of the gradient of its share only
//   clip and step the share (the optimizer's step_range)
//   allgather: every rank's updated share to every rank, so the replicas stay identical
//
// the same bytes on the wire as one allreduce (a ring allreduce is exactly a reduce-scatter
// followed by an allgather), 1/N of the optimizer work per rank, and optimizer state only for
// the parameters a rank's share touches. Checkpoints keep the unsharded layout: gather_state()
// assembles full state tensors, and a restored full state is trimmed to the share, so --resume
// works with any number of ranks.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "unroll/communicator.hpp"
#include "unroll/config_node.hpp"
#include "unroll/optimizer.hpp"
#include "unroll/regularizer.hpp"

namespace unroll {

/// Why the optimizer step of this run cannot be sharded ("" when it can): an optimizer that is not
/// elementwise(), or a regularizer whose hooks change gradients. `regularizer_blocks` are the
/// experiment's `regularizers:` blocks, for their kinds, in the order of `regularizers`.
std::string why_not_sharded(const Optimizer& optimizer, const std::string& optimizer_kind,
                            const std::vector<std::shared_ptr<Regularizer>>& regularizers,
                            const std::vector<Node>& regularizer_blocks);

class OptimizerShard {
 public:
  OptimizerShard(Communicator& comm, std::vector<Param*> params);

  /// Pack every gradient (zeroing it: it is consumed) and reduce-scatter: this rank's share of
  /// the summed gradient is then gradient().
  void sum();
  /// This rank's share of the summed gradient, in the flat order of the parameters.
  std::span<float> gradient() { return {recv_.data(), share_size()}; }
  /// The elements of the parameters in this rank's share (what step_range updates).
  const std::vector<ParamRange>& ranges() const { return ranges_; }
  size_t share_size() const { return static_cast<size_t>(counts_[comm_.rank()]); }
  size_t total_size() const { return total_; }
  Communicator& comm() { return comm_; }

  /// Copy the share's gradient into the parameters' gradients (where the optimizer reads it).
  void write_gradients();
  /// Zero the share's gradients again and send every rank's updated values to every rank.
  void finish_step();

  /// The optimizer's state with every per-parameter tensor whole, in the unsharded layout (a
  /// collective: every rank calls it; every rank gets the result). A tensor keyed
  /// "<parameter name>/..." with the parameter's shape is per element: each element is taken
  /// from the rank that owns it. Any other (a step counter) is the same on every rank.
  StateMap gather_state(const StateMap& local);
  /// Drop the per-parameter state tensors of parameters outside this rank's share (after a
  /// checkpoint's full state was restored): what a share never touches is not kept.
  void trim_state(StateMap& state) const;

 private:
  /// The parameter a state key belongs to, or -1 (shared state such as "step").
  int owner_param(const std::string& key, const Matrix& m) const;

  Communicator& comm_;
  std::vector<Param*> params_;
  std::vector<size_t> offsets_;  // of each parameter in the flat vector
  size_t total_ = 0;
  size_t begin_ = 0, end_ = 0;  // this rank's share of the flat vector
  std::vector<int> counts_;     // every rank's share: reduce-scatter and allgather blocks
  std::vector<ParamRange> ranges_;
  std::vector<float> send_, recv_, values_;  // kept between updates: one allocation per run
};

}  // namespace unroll
