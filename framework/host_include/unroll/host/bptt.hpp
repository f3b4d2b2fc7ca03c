#pragma once
// Back-propagation through time over one batch of sequences, full or truncated (Williams &
// Peng 1990, "BPTT(k1, k2)"), as the trainer runs it. docs/bptt.md explains it with a picture.
//
// A batch of T steps is cut into windows. Window w ends at end_w = min((w+1) k1, T) and starts at
// start_w = max(0, end_w - k2): every k1 steps the model is run forward over the last k2 steps
// (k2 >= k1; the first windows are shorter when fewer than k2 steps exist). Each window:
//
//   set every recurrent layer's state to the state after step start_w - 1 (cut: no gradient
//   flows into it) -> forward over [start_w, end_w) -> loss over the NEW steps
//   [w k1, end_w) (every-step loss), or over step T-1 in the last window (last-step
//   loss) -> backward through all of [start_w, end_w) -> the caller's update.
//
// A window without loss columns (last-step loss, not the last window) only advances the state.
// With k1 = k2 = T (or k1 = 0: full BPTT) there is one window over the whole sequence.
// With k2 > k1 the windows overlap: the state the next window starts from is taken with
// state_at() from the current window's forward (the state after step start_{w+1} - 1), and the
// overlapping steps are run again, with the updated parameters, in the next window.
#include <string>

#include "unroll/layer.hpp"
#include "unroll/types.hpp"

namespace unroll {

class Model;
class Loss;

/// How a batch is unrolled.
struct BpttSettings {
  int k1 = 0;               // steps between updates; 0 (or >= T): full BPTT, one window
  int k2 = 0;               // steps back-propagated per window; 0 or < k1: k2 = k1
  bool every_step = false;  // loss at every step (true) or at the last step only
  bool stateful = false;    // false: reset_state(B) (zeros) before the batch; true: continue
};

/// Bounded-memory BPTT (train.bptt.memory) for one layer: tells a recurrent layer what to keep
/// (feed-forward layers keep their whole window as before), and throws Error naming the layer and
/// `where` (the setting's file:line:column) when it cannot recompute its steps.
void bound_step_storage(Layer& layer, const StepStorage& storage, const std::string& where);

/// Updates one batch of `steps` steps makes: ceil(T / k1) with every-step loss (one per
/// window), 1 with last-step loss (only the last window has a loss) or full BPTT (k1 = 0).
long long bptt_updates(int steps, int k1, bool every_step);

/// One truncation window, as Bptt::next() yields it.
struct BpttWindow {
  int index = 0;          // 0, 1, ... within the batch
  int start = 0;          // first step run forward (where the gradient is cut)
  int end = 0;            // one past the last step run forward
  int first_loss = 0;     // first step whose loss is taken (valid when has_loss)
  bool has_loss = false;  // false: forward only, backward() does nothing
  // Filled by forward():
  const Seq* outputs = nullptr;      // the model's outputs for steps [start, end)
  Eigen::Index col0 = 0, ncols = 0;  // the loss columns of *outputs
  const Targets* targets = nullptr;  // targets of exactly those columns
  double loss_sum = 0;               // Loss::evaluate over the loss columns (may be NaN/inf)
  long count = 0;                    // non-masked loss columns; dy = dloss / count
};

/// Yields the windows of one batch to its caller, who does what it needs between the steps of
/// each (weight noise before the forward, scoring after it, an update after the backward):
///
///   bptt.start(model, loss, x, y, settings);
///   while (const BpttWindow* w = bptt.next()) {
///     bptt.forward();    // outputs and loss of the window
///     bptt.backward();   // gradients accumulate; nothing when !w->has_loss
///   }
///
/// forward() must run for every window (the next window starts from its states). Gradients
/// are never zeroed here: that is the caller's update. Buffers are kept between batches (no
/// allocation once the shapes settle).
class Bptt {
 public:
  /// Begin unrolling `model` over batch (x, y); the model's state is reset to zeros unless
  /// `s.stateful`. The arguments must outlive the batch's windows.
  void start(Model& model, Loss& loss, const Seq& x, const Targets& y, const BpttSettings& s);
  /// The next window, with every recurrent layer's state set to where it starts; nullptr
  /// after the last one. The model's state after the last window is the state after step
  /// T-1 (what a stateful next batch continues from).
  const BpttWindow* next();
  /// Forward over the current window and, when it has a loss, the loss.
  void forward();
  /// Back-propagate the current window's loss through all its steps, its gradient averaged over
  /// `loss_divisor` loss columns (0: the window's own count, w->count). A data-parallel run
  /// passes the count over every rank's slice, so the gradients summed over the ranks average
  /// the global batch.
  void backward(long loss_divisor = 0);

 private:
  Model* model_ = nullptr;
  Loss* loss_ = nullptr;
  const Seq* x_ = nullptr;
  const Targets* y_ = nullptr;
  int k1_ = 0, k2_ = 0;
  bool every_step_ = false, started_ = false;
  BpttWindow w_;
  Seq win_x_, dy_;
  Targets win_y_;
  Matrix grad_;
  std::vector<std::vector<Matrix>> saved_state_;
};

/// True when the model's output `out` holds one step per sequence (a last_step layer) for an
/// input of `input_steps` steps; false when it holds every step. An Error for any other shape,
/// or for a one-step output when the loss is taken at every step.
bool output_is_last_step(const Seq& out, int input_steps, bool every_step);

/// The output columns a loss is taken over.
struct LossColumns {
  Eigen::Index col0 = 0, ncols = 0;
};

/// Where the loss of a forward pass lies, for training windows and evaluation alike: `out` is
/// the model's output for steps [start, end) of a batch of targets `y` (every step, or one
/// after a last_step layer), and the loss covers steps [first_loss, end). Returns the columns
/// of `out` and fills `targets` with the matching columns of `y` (last-step targets whole).
LossColumns loss_columns(const Seq& out, const Targets& y, int start, int end, int first_loss, bool every_step,
                         Targets& targets);

/// Columns [from, from + n) of a target batch, as a batch of `steps` steps.
void slice_targets(const Targets& src, Eigen::Index from, Eigen::Index n, int steps, Targets& dst);

}  // namespace unroll
