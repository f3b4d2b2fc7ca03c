#pragma once
// Layers: the differentiable building blocks of a model, also used for activation-level
// regularizer stages (dropout, batch norm, input noise).
//
// Contract (Caffe-style): the host calls the non-virtual forward()/backward() wrappers, which
// check shapes and call order and then call the virtual do_forward()/do_backward() that a
// plugin implements.
//
// Sequences: x holds all T steps at once (see types.hpp). A feed-forward layer maps the whole
// (features x T*B) matrix in one pass. A sequence reducer (last_step) may instead output one
// step per sequence (features x B); the layers after it see one-step sequences. A recurrent layer walks steps 0..T-1
// starting from its carried state; its per-step contract is:
//   forward  at step t stores whatever backward needs for step t (pre-activations, gates, h_t);
//   backward runs t = T-1 .. 0, receiving dL/dh_t from above (dy) plus the recurrent gradient
//            carried from t+1, and leaves the gradient w.r.t. the state at t-1 for the next step;
//            after step 0 that gradient is dL/d(initial state) (initial_state_grad()) and goes no
//            further: the window start is where truncated BPTT cuts the gradient.
#include <cmath>
#include <string>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/param.hpp"
#include "unroll/rng.hpp"
#include "unroll/schema.hpp"
#include "unroll/types.hpp"

namespace unroll {

/// What a layer factory knows when it builds a layer.
struct LayerContext {
  std::string name;  // "dense0": prefix for parameter names ("dense0.W")
  int input_size = 0;
};

/// How much of its forward a recurrent layer keeps for the backward pass (train.bptt.memory).
/// Full storage keeps every step; otherwise the layer keeps its state at the start of every
/// segment of `every` steps (a checkpoint), keeps the steps of only one segment at a time, and
/// recomputes each segment's steps from its checkpoint during backward (one extra forward).
struct StepStorage {
  int every = 0;            // segment length in steps; 0: derive it from budget_bytes
  double budget_bytes = 0;  // per recurrent layer: checkpoints + one segment's steps; 0 with every = 0: full storage
  bool full() const { return every <= 0 && budget_bytes <= 0; }
};

/// The per-step norms a recurrent layer reports through hidden_grad_norms(), kept per sample
/// during backward so that threads running the time loop on different samples write different
/// cells and the sums do not depend on the split.
class StepGradNorms {
 public:
  /// Before a backward pass of `steps` steps over `batch` samples.
  void reset(int steps, int batch) { sq_.setZero(steps, batch); }
  /// g: the step-t gradient w.r.t. h_t of samples [first, first + g.cols()).
  template <class G>
  void record(int t, Eigen::Index first, const G& g) {
    sq_.row(t).segment(first, g.cols()) = g.colwise().squaredNorm();
  }
  /// ||dL/dh_t|| over the batch, for each step t.
  std::vector<double> norms() const {
    std::vector<double> out(static_cast<size_t>(sq_.rows()));
    for (Eigen::Index t = 0; t < sq_.rows(); ++t)
      out[static_cast<size_t>(t)] = std::sqrt(static_cast<double>(sq_.row(t).sum()));
    return out;
  }

 private:
  Matrix sq_;  // steps x batch: squared norm per step and sample
};

class Layer {
 public:
  virtual ~Layer() = default;

  /// Features per column of the output.
  virtual int output_size() const = 0;
  /// Trainable parameters (pointers stay valid for the layer's lifetime).
  virtual std::vector<Param*> params() { return {}; }
  /// Non-trainable state saved in checkpoints (batch-norm running statistics), by name.
  virtual std::vector<std::pair<std::string, Matrix*>> buffers() { return {}; }

  /// y = f(x). Caches what backward needs when mode == Train. Resizes y (no allocation when
  /// the shape is unchanged). The caller keeps x and y alive and unchanged from a Train forward
  /// until the matching backward (the Model owns every layer's output until the next forward),
  /// so a layer may keep pointers to x.data or y.data instead of copying them.
  void forward(const Seq& x, Seq& y, Mode mode) {
    if (x.features() != input_size_)
      throw Error(name_ + ": forward got " + std::to_string(x.features()) + " input features, expected " +
                  std::to_string(input_size_));
    do_forward(x, y, mode);
    // Same columns as x, or one step per sequence from a sequence reducer (last_step).
    const bool reduced = y.steps == 1 && y.batch == x.batch && y.data.cols() == x.batch;
    if (y.features() != output_size() || (y.data.cols() != x.data.cols() && !reduced))
      throw Error(name_ + ": forward produced a " + std::to_string(y.data.rows()) + "x" +
                  std::to_string(y.data.cols()) + " output, expected " + std::to_string(output_size()) + "x" +
                  std::to_string(x.data.cols()) + " (or " + std::to_string(output_size()) + "x" +
                  std::to_string(x.batch) + ", one step per sequence)");
    forwarded_ = (mode == Mode::Train);
  }

  /// Given dL/dy, ACCUMULATES parameter gradients (+=) and, if need_dx, writes dL/dx into dx.
  /// Must follow a forward() in Train mode on the same batch.
  void backward(const Seq& dy, Seq& dx, bool need_dx) {
    if (!forwarded_) throw Error(name_ + ": backward() called without a preceding forward() in train mode");
    if (dy.features() != output_size())
      throw Error(name_ + ": backward got a gradient with " + std::to_string(dy.features()) + " features, expected " +
                  std::to_string(output_size()));
    do_backward(dy, dx, need_dx);
    if (need_dx &&
        (dx.features() != input_size_ || dx.batch != dy.batch || (dx.data.cols() != dy.data.cols() && dy.steps != 1)))
      throw Error(name_ + ": backward produced a dx of the wrong shape");
    forwarded_ = false;
  }

  const std::string& name() const { return name_; }
  int input_size() const { return input_size_; }
  /// Called once by the host right after the factory returns.
  void bind(const LayerContext& ctx) {
    name_ = ctx.name;
    input_size_ = ctx.input_size;
  }

  // ---- Recurrent layers (feed-forward layers keep the defaults) ----
  /// True for layers that carry state across steps.
  virtual bool is_recurrent() const { return false; }
  /// Start a new sequence (called on EVERY layer, recurrent or not): recurrent layers zero
  /// their state for `batch` columns; stages with per-sequence randomness (variational dropout)
  /// draw it anew. Truncated-BPTT windows of one sequence do not call it.
  virtual void reset_state(int batch) { (void)batch; }
  /// The state after the last forward step (h, or h and c for an LSTM), one matrix each.
  virtual std::vector<Matrix> state() const { return {}; }
  /// The state the next forward starts from. Setting it also cuts the gradient there.
  virtual void set_state(const std::vector<Matrix>& s) { (void)s; }
  /// The state after step t (0-based) of the last forward; used by truncated BPTT with k2 > k1.
  virtual std::vector<Matrix> state_at(int t) const {
    (void)t;
    return {};
  }
  /// dL/d(initial state) from the last backward, same layout as state().
  virtual std::vector<Matrix> initial_state_grad() const { return {}; }
  /// Keep only some steps for backward and recompute the others (train.bptt.memory). Returns
  /// false when the layer cannot recompute its steps (the default; RecurrentLayer can), and the
  /// host then refuses the setting. Gradients are the same as with full storage.
  virtual bool set_step_storage(const StepStorage& s) {
    (void)s;
    return false;
  }
  /// ||dL/dh_t|| summed over the batch, for each step t of the last backward (diagnostics of
  /// vanishing/exploding gradients). Empty for feed-forward layers.
  virtual std::vector<double> hidden_grad_norms() const { return {}; }

  /// Layers that draw random numbers (dropout masks, noise) get a fresh stream at the start of
  /// every epoch, derived from (seed, layer name, epoch): resumed runs draw the same numbers.
  virtual void set_epoch_rng(const Rng& rng) { (void)rng; }

 protected:
  virtual void do_forward(const Seq& x, Seq& y, Mode mode) = 0;
  virtual void do_backward(const Seq& dy, Seq& dx, bool need_dx) = 0;

 private:
  std::string name_;
  int input_size_ = 0;
  bool forwarded_ = false;
};

}  // namespace unroll
