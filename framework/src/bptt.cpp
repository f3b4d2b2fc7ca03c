#include "unroll/host/bptt.hpp"

#include <algorithm>

#include "unroll/error.hpp"
#include "unroll/host/model.hpp"
#include "unroll/loss.hpp"

namespace unroll {

void slice_targets(const Targets& src, Eigen::Index from, Eigen::Index n, int steps, Targets& dst) {
  dst.steps = steps;
  dst.batch = src.batch;
  if (src.has_labels()) {
    dst.labels.assign(src.labels.begin() + from, src.labels.begin() + from + n);
    dst.values.resize(0, 0);
  } else {
    dst.labels.clear();
    dst.values = src.values.middleCols(from, n);
  }
}

namespace {
long loss_count(const Targets& y, Eigen::Index ncols) {
  if (!y.has_labels()) return static_cast<long>(ncols);
  return static_cast<long>(std::count_if(y.labels.begin(), y.labels.end(), [](int32_t l) { return l >= 0; }));
}
}  // namespace

bool output_is_last_step(const Seq& out, int input_steps, bool every_step) {
  if (out.steps == input_steps) return false;
  if (out.steps != 1)
    throw Error("the model's output has " + std::to_string(out.steps) + " steps for an input of " +
                std::to_string(input_steps) + "; a layer may keep every step or one (last_step)");
  if (every_step)
    throw Error(
        "the model keeps one step per sequence (a last_step layer), but the loss is taken at every "
        "step: set train.loss_at: last, or remove last_step");
  return true;
}

LossColumns loss_columns(const Seq& out, const Targets& y, int start, int end, int first_loss, bool every_step,
                         Targets& targets) {
  const int B = out.batch;
  // A sequence reducer (last_step) leaves one step: the window's last.
  const bool reduced = output_is_last_step(out, end - start, every_step);
  LossColumns c;
  c.col0 = reduced ? 0 : static_cast<Eigen::Index>(first_loss - start) * B;
  c.ncols = static_cast<Eigen::Index>(end - first_loss) * B;
  const Eigen::Index target_col0 = y.steps == 1 ? 0 : static_cast<Eigen::Index>(first_loss) * B;
  slice_targets(y, target_col0, c.ncols, end - first_loss, targets);
  return c;
}

void bound_step_storage(Layer& layer, const StepStorage& storage, const std::string& where) {
  if (storage.full() || !layer.is_recurrent()) return;
  if (!layer.set_step_storage(storage))
    throw Error(where + ": train.bptt.memory: layer '" + layer.name() +
                "' cannot recompute its steps, so it cannot keep only some of them (a recurrent layer gets "
                "recomputation by deriving from RecurrentLayer, unroll/recurrent.hpp); remove bptt.memory to "
                "keep every step");
}

long long bptt_updates(int steps, int k1, bool every_step) {
  if (!every_step || k1 <= 0 || k1 >= steps) return 1;
  return (steps + k1 - 1) / k1;
}

void Bptt::start(Model& model, Loss& loss, const Seq& x, const Targets& y, const BpttSettings& s) {
  const int T = x.steps;
  if (y.steps == 1 && s.every_step && T > 1)
    throw Error("dataset gives last-step targets, but the loss is taken at every step");
  model_ = &model;
  loss_ = &loss;
  x_ = &x;
  y_ = &y;
  every_step_ = s.every_step;
  if (!s.stateful) model.reset_state(x.batch);
  k1_ = s.k1 > 0 ? std::min(s.k1, T) : T;
  k2_ = s.k2 > 0 ? std::max(s.k2, k1_) : k1_;
  saved_state_.clear();
  for (auto& l : model.layers())
    if (l->is_recurrent()) saved_state_.push_back(l->state());
  w_ = BpttWindow{};
  started_ = false;
}

const BpttWindow* Bptt::next() {
  const int T = x_->steps;
  auto& layers = model_->layers();
  if (started_) {
    if (w_.end >= T) return nullptr;
    const int t = w_.end;
    const int index = w_.index + 1;
    w_ = BpttWindow{};
    w_.index = index;
    w_.end = std::min(t + k1_, T);
    w_.first_loss = every_step_ ? t : T - 1;
  } else {
    started_ = true;
    w_.end = std::min(k1_, T);
    w_.first_loss = every_step_ ? 0 : T - 1;
  }
  w_.start = std::max(0, w_.end - k2_);
  w_.has_loss = every_step_ || w_.end == T;
  size_t ri = 0;
  for (auto& l : layers)
    if (l->is_recurrent()) l->set_state(saved_state_[ri++]);
  return &w_;
}

void Bptt::forward() {
  const int B = x_->batch, T = x_->steps;
  const Seq* in = x_;
  if (w_.start != 0 || w_.end != T) {
    win_x_.resize(x_->features(), w_.end - w_.start, B);
    win_x_.data =
        x_->data.middleCols(static_cast<Eigen::Index>(w_.start) * B, static_cast<Eigen::Index>(w_.end - w_.start) * B);
    in = &win_x_;
  }
  const Seq& out = model_->forward(*in, Mode::Train);
  // The state the next window starts from (the state after step next_start - 1), taken from
  // this window's forward and so cut from its graph. It is read now, before backward and the
  // update: a layer that keeps only some steps (train.bptt.memory) may recompute it, and must
  // do so with the parameters of this forward.
  if (w_.end < T) {
    const int next_end = std::min(w_.end + k1_, T);
    const int next_start = std::max(0, next_end - k2_);
    size_t ri = 0;
    for (auto& l : model_->layers())
      if (l->is_recurrent()) {
        if (next_start > w_.start) saved_state_[ri] = l->state_at(next_start - 1 - w_.start);
        ++ri;
      }
  }
  if (!w_.has_loss) {
    output_is_last_step(out, w_.end - w_.start, every_step_);  // the shape is checked all the same
    return;
  }
  w_.outputs = &out;
  const LossColumns c = loss_columns(out, *y_, w_.start, w_.end, w_.first_loss, every_step_, win_y_);
  w_.col0 = c.col0;
  w_.ncols = c.ncols;
  w_.targets = &win_y_;
  w_.loss_sum = loss_->evaluate(out.data.middleCols(w_.col0, w_.ncols), win_y_, &grad_);
  w_.count = loss_count(win_y_, w_.ncols);
}

void Bptt::backward(long loss_divisor) {
  if (!w_.has_loss) return;
  const Seq& out = *w_.outputs;
  const long divisor = loss_divisor > 0 ? loss_divisor : w_.count;
  dy_.resize(out.features(), out.steps, out.batch);
  dy_.data.setZero();
  if (divisor > 0) dy_.data.middleCols(w_.col0, w_.ncols) = grad_ * static_cast<Scalar>(1.0 / divisor);
  model_->backward(dy_);
}

}  // namespace unroll
