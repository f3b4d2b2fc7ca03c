#pragma once
// The update pipeline: what happens to the gradients of one batch (or truncation window) between
// the backward pass and the next forward, in a fixed order:
//
//   [perturb: weight noise, before the forward]  forward -> loss -> backward
//   -> [a data-parallel run: the trainer sums the replicas' gradients over the ranks]
//   -> restore (noise off) -> regularizer penalty gradients
//   -> global norm, clip (norm, value) -> gradient transforms (gradient noise)
//   -> lr = base_lr * schedule.factor -> optimizer step -> constraints (max-norm) -> zero gradients
//
// With the optimizer step sharded over the ranks (optimizer_shard.hpp), the same order runs on
// this rank's share of the summed gradient: the global norm is the sum over ranks of the shares'
// squared norms, clipping scales the share, the optimizer steps it, and the constraints run on
// the whole parameters once every rank's updated share is gathered.
//
// It owns the step counter the schedule sees and the per-epoch update statistics of metrics.csv
// (lr, grad_norm, clip_rate).
#include <cstdint>
#include <memory>
#include <vector>

#include "optimizer_shard.hpp"
#include "unroll/param.hpp"
#include "unroll/regularizer.hpp"
#include "unroll/rng.hpp"
#include "unroll/schedule.hpp"

namespace unroll {

/// The updates of one epoch.
struct UpdateStats {
  long updates = 0, clipped = 0;
  double grad_norm_sum = 0;  // global gradient norm before clipping, summed over updates
  double mean_grad_norm() const { return updates ? grad_norm_sum / updates : 0.0; }
  double clip_rate() const { return updates ? static_cast<double>(clipped) / updates : 0.0; }
};

class UpdatePipeline {
 public:
  UpdatePipeline(std::vector<Param*> params, std::vector<std::shared_ptr<Regularizer>> regularizers,
                 Optimizer& optimizer, Schedule& schedule, double clip_norm, double clip_value);

  /// Begin an epoch: the regularizers' random stream of (seed, epoch), statistics zeroed.
  void start_epoch(uint64_t seed, int epoch);
  /// Before a forward: regularizers that perturb the weights (weight noise) do so.
  void perturb();
  /// After a backward: the weights the forward saw are put back.
  void restore();
  /// One update from the accumulated gradients (see the file comment); `clock` is the schedule's
  /// view of the run, its step filled in here.
  void apply(ScheduleState clock);
  /// Step only this rank's share from now on (decided once, before training; null: replicated).
  void shard_over(OptimizerShard* shard) { shard_ = shard; }
  /// A sharded run's epoch statistics need the other ranks' shares of every update's gradient
  /// norm: one collective for them all (every rank calls it) before epoch_stats() is read.
  void finish_epoch();

  long long step() const { return step_; }
  double lr() const { return lr_; }
  const UpdateStats& epoch_stats() const { return stats_; }
  /// A resumed run continues the step count and shows the lr it stopped at.
  void resume(long long step, double lr) {
    step_ = step;
    lr_ = lr;
  }

 private:
  std::vector<Param*> params_;
  std::vector<std::shared_ptr<Regularizer>> regs_;
  Optimizer& optim_;
  Schedule& sched_;
  double clip_norm_, clip_value_;
  Rng rng_;
  long long step_ = 0;
  double lr_ = 0;
  UpdateStats stats_;
  OptimizerShard* shard_ = nullptr;
  // Sharded: per update, this rank's squared norm of its share and whether it clipped a value;
  // summed over the ranks in one collective per epoch (or every kStatsBatch updates), since
  // nothing in the update needs them unless clipping by norm.
  std::vector<double> pending_;
  void apply_sharded(ScheduleState clock);
  void flush_pending();
};

}  // namespace unroll
