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
#include <functional>

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

/// One truncation window, as the hooks see it.
struct BpttWindow {
  int index = 0;           // 0, 1, ... within the batch
  int start = 0;           // first step run forward (where the gradient is cut)
  int end = 0;             // one past the last step run forward
  int first_loss = 0;      // first step whose loss is taken (valid when has_loss)
  bool has_loss = false;   // false: forward only, no backward ran
  const Seq* outputs = nullptr;  // the model's outputs for steps [start, end)
  Eigen::Index col0 = 0, ncols = 0;  // the loss columns of *outputs
  const Targets* targets = nullptr;  // targets of exactly those columns
  double loss_sum = 0;     // Loss::evaluate over the loss columns (may be NaN/inf)
  long count = 0;          // non-masked loss columns; dy = dloss / count
};

/// Caller hooks, each optional. The caller zeroes gradients in its update; Bptt never does.
struct BpttHooks {
  /// Before each window's forward (e.g. weight noise).
  std::function<void(const BpttWindow&)> before_forward;
  /// After the loss, before backward (score, divergence check: it may throw).
  std::function<void(const BpttWindow&)> after_loss;
  /// After each window's backward: the caller clips, steps the optimizer and zeroes the
  /// gradients. Also called for loss-free windows (has_loss false, nothing back-propagated),
  /// so per-window hooks stay paired.
  std::function<void(const BpttWindow&)> after_backward;
};

/// Runs the windows of one batch. Keeps its buffers between batches (no allocation once the
/// shapes settle).
class Bptt {
 public:
  /// Unroll `model` over batch (x, y). The model's recurrent state after the call is the state
  /// after step T-1 (what a stateful next batch continues from).
  void run(Model& model, Loss& loss, const Seq& x, const Targets& y, const BpttSettings& s, const BpttHooks& hooks);

 private:
  Seq win_x_, dy_;
  Targets win_y_;
  Matrix grad_;
  std::vector<std::vector<Matrix>> saved_state_;
};

/// True when the model's output `out` holds one step per sequence (a last_step layer) for an
/// input of `input_steps` steps; false when it holds every step. An Error for any other shape,
/// or for a one-step output when the loss is taken at every step.
bool output_is_last_step(const Seq& out, int input_steps, bool every_step);

/// Columns [from, from + n) of a target batch, as a batch of `steps` steps.
void slice_targets(const Targets& src, Eigen::Index from, Eigen::Index n, int steps, Targets& dst);

}  // namespace unroll
