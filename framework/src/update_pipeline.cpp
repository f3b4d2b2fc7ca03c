#include "update_pipeline.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <cmath>
#include <string>

#include "unroll/optimizer.hpp"
#include "unroll/parallel.hpp"

namespace unroll {

namespace {
// Sum of squares of every gradient, split over the threads (float sums per L1 block, double
// across, in a fixed order); with `zero`, each block is zeroed right after it is read.
double gradient_squared_norm(const std::vector<Param*>& params, bool zero) {
  double sq = 0;
  for (Param* p : params) {
    float* g = p->grad.data();
    sq += parallel_sum(
        p->grad.size(),
        [g, zero](Eigen::Index from, Eigen::Index to) {
          double s = 0;
          for (Eigen::Index b = from; b < to; b += 1024) {
            ArrayMap block(g + b, std::min<Eigen::Index>(1024, to - b));
            s += static_cast<double>(block.square().sum());
            if (zero) block = 0.0f;
          }
          return s;
        },
        kMinBytesPerThread / static_cast<Eigen::Index>(sizeof(float)));
  }
  return sq;
}
}  // namespace

UpdatePipeline::UpdatePipeline(std::vector<Param*> params, std::vector<std::shared_ptr<Regularizer>> regularizers,
                               Optimizer& optimizer, Schedule& schedule, double clip_norm, double clip_value)
    : params_(std::move(params)),
      regs_(std::move(regularizers)),
      optim_(optimizer),
      sched_(schedule),
      clip_norm_(clip_norm),
      clip_value_(clip_value) {}

void UpdatePipeline::start_epoch(uint64_t seed, int epoch) {
  rng_ = Rng::derive(seed, "regularizers/epoch" + std::to_string(epoch));
  stats_ = {};
  pending_.clear();
}

void UpdatePipeline::perturb() {
  for (auto& r : regs_) r->perturb(params_, rng_);
}

void UpdatePipeline::restore() {
  for (auto& r : regs_) r->restore(params_);
}

void UpdatePipeline::apply(ScheduleState clock) {
  if (shard_) return apply_sharded(clock);
  // The penalty's value is not part of the reported loss (metrics.csv shows the data loss);
  // only its gradient is used.
  for (auto& r : regs_) r->add_penalty_gradient(params_, 1.0);
  // The optimizer only reads the gradients, so when nothing acts on their norm before the step
  // (no clipping, no regularizer that may change them) it is taken in the pass that zeroes them
  // afterwards: one pass over every gradient fewer per update.
  const bool norm_after_step = clip_norm_ <= 0 && clip_value_ <= 0 && regs_.empty();
  const double norm = norm_after_step ? 0.0 : std::sqrt(gradient_squared_norm(params_, false));
  ++stats_.updates;
  bool clipped = false;
  if (clip_norm_ > 0 && norm > clip_norm_) {
    const float s = static_cast<float>(clip_norm_ / norm);
    for (Param* p : params_) for_each_block([s](ArrayMap g) { g *= s; }, p->grad);
    clipped = true;
  }
  if (clip_value_ > 0) {
    const float v = static_cast<float>(clip_value_);
    for (Param* p : params_) {
      if ((p->grad.array().abs() > v).any()) clipped = true;
      p->grad = p->grad.cwiseMax(-v).cwiseMin(v);
    }
  }
  if (clipped) ++stats_.clipped;
  for (auto& r : regs_) r->transform_gradients(params_, step_, rng_);
  clock.step = step_;
  lr_ = optim_.base_lr() * sched_.factor(clock);
  optim_.step(params_, lr_);
  for (auto& r : regs_) r->after_step(params_);
  if (norm_after_step) {
    stats_.grad_norm_sum += std::sqrt(gradient_squared_norm(params_, true));
  } else {
    stats_.grad_norm_sum += norm;
    for (Param* p : params_) for_each_block([](ArrayMap g) { g = 0.0f; }, p->grad);
  }
  ++step_;
}

void UpdatePipeline::apply_sharded(ScheduleState clock) {
  OptimizerShard& shard = *shard_;
  ArrayMap g(shard.gradient().data(), static_cast<Eigen::Index>(shard.share_size()));
  double sq = 0;
  for (Eigen::Index b = 0; b < g.size(); b += 1024)
    sq += static_cast<double>(g.segment(b, std::min<Eigen::Index>(1024, g.size() - b)).square().sum());
  double norm_clipped = 0;
  if (clip_norm_ > 0) {
    // The one collective that cannot wait for the end of the epoch: the scale depends on it.
    std::array<double, 1> total{sq};
    shard.comm().allreduce_sum(total);
    if (const double norm = std::sqrt(total[0]); norm > clip_norm_) {
      g *= static_cast<float>(clip_norm_ / norm);
      norm_clipped = 1;
    }
  }
  double value_clipped = 0;
  if (clip_value_ > 0) {
    const float v = static_cast<float>(clip_value_);
    if ((g.abs() > v).any()) value_clipped = 1;
    g = g.max(-v).min(v);
  }
  pending_.insert(pending_.end(), {sq, norm_clipped + value_clipped});
  clock.step = step_;
  lr_ = optim_.base_lr() * sched_.factor(clock);
  shard.write_gradients();
  optim_.step_range(shard.ranges(), lr_);
  shard.finish_step();
  for (auto& r : regs_) r->after_step(params_);
  constexpr size_t kStatsBatch = 4096;  // bounds pending_ in very long epochs
  if (pending_.size() >= 2 * kStatsBatch) flush_pending();
  ++step_;
}

void UpdatePipeline::flush_pending() {
  if (!shard_ || pending_.empty()) return;
  shard_->comm().allreduce_sum(std::span<double>(pending_));
  for (size_t i = 0; i < pending_.size(); i += 2) {
    ++stats_.updates;
    stats_.grad_norm_sum += std::sqrt(pending_[i]);
    if (pending_[i + 1] > 0) ++stats_.clipped;
  }
  pending_.clear();
}

void UpdatePipeline::finish_epoch() { flush_pending(); }

}  // namespace unroll
