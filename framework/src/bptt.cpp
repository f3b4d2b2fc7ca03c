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
long loss_columns(const Targets& y, Eigen::Index ncols) {
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
    throw Error("the model keeps one step per sequence (a last_step layer), but the loss is taken at every "
                "step: set train.loss_at: last, or remove last_step");
  return true;
}

void Bptt::run(Model& model, Loss& loss, const Seq& x, const Targets& y, const BpttSettings& s,
               const BpttHooks& hooks) {
  const int B = x.batch, T = x.steps, F = x.features();
  if (y.steps == 1 && s.every_step && T > 1)
    throw Error("dataset gives last-step targets, but the loss is taken at every step");
  if (!s.stateful) model.reset_state(B);
  const int k1 = s.k1 > 0 ? std::min(s.k1, T) : T;
  const int k2 = s.k2 > 0 ? std::max(s.k2, k1) : k1;

  auto& layers = model.layers();
  saved_state_.clear();
  for (auto& l : layers)
    if (l->is_recurrent()) saved_state_.push_back(l->state());

  BpttWindow w;
  for (int t = 0; t < T; ++w.index) {
    w.end = std::min(t + k1, T);
    w.start = std::max(0, w.end - k2);
    w.has_loss = s.every_step || w.end == T;
    w.first_loss = s.every_step ? t : T - 1;
    w.outputs = nullptr;
    w.targets = nullptr;
    w.loss_sum = 0;
    w.count = 0;
    w.col0 = w.ncols = 0;
    size_t ri = 0;
    for (auto& l : layers)
      if (l->is_recurrent()) l->set_state(saved_state_[ri++]);

    const Seq* in = &x;
    if (w.start != 0 || w.end != T) {
      win_x_.resize(F, w.end - w.start, B);
      win_x_.data = x.data.middleCols(static_cast<Eigen::Index>(w.start) * B,
                                      static_cast<Eigen::Index>(w.end - w.start) * B);
      in = &win_x_;
    }
    if (hooks.before_forward) hooks.before_forward(w);
    const Seq& out = model.forward(*in, Mode::Train);
    // A sequence reducer (last_step) leaves one step: the window's last.
    const bool reduced = output_is_last_step(out, w.end - w.start, s.every_step);
    if (w.has_loss) {
      w.outputs = &out;
      w.col0 = reduced ? 0 : static_cast<Eigen::Index>(w.first_loss - w.start) * B;
      w.ncols = static_cast<Eigen::Index>(w.end - w.first_loss) * B;
      const Eigen::Index tcol0 = y.steps == 1 ? 0 : static_cast<Eigen::Index>(w.first_loss) * B;
      slice_targets(y, tcol0, w.ncols, w.end - w.first_loss, win_y_);
      w.targets = &win_y_;
      w.loss_sum = loss.evaluate(out.data.middleCols(w.col0, w.ncols), win_y_, &grad_);
      w.count = loss_columns(win_y_, w.ncols);
      if (hooks.after_loss) hooks.after_loss(w);
      dy_.resize(out.features(), out.steps, B);
      dy_.data.setZero();
      if (w.count > 0) dy_.data.middleCols(w.col0, w.ncols) = grad_ * static_cast<Scalar>(1.0 / w.count);
      model.backward(dy_);
    }
    if (hooks.after_backward) hooks.after_backward(w);

    if (w.end < T) {  // the state the next window starts from, cut from the graph
      const int next_end = std::min(w.end + k1, T);
      const int next_start = std::max(0, next_end - k2);
      ri = 0;
      for (auto& l : layers)
        if (l->is_recurrent()) {
          if (next_start > w.start) saved_state_[ri] = l->state_at(next_start - 1 - w.start);
          ++ri;
        }
    }
    t = w.end;
  }
}

}  // namespace unroll
