#pragma once
// The skeleton every recurrent layer shares, so that a cell keeps only its equations.
//
// RecurrentLayer owns the recurrent state contract of layer.hpp:
//   - the carried state (one H x B matrix per state variable: h, or h and c), zeroed by
//     reset_state() and by a forward on a new batch size, replaced by set_state();
//   - the state history of the last forward: history(k) is H x (T+1)B, block 0 the initial
//     state, block t+1 the state after step t (state_at(t) reads it, and backward reads h_{t-1});
//   - the gradient w.r.t. the initial state (initial_state_grad()), which the cell's backward
//     leaves in state_grad(k) after step 0 and which goes no further back;
//   - the per-step grad-lag record (hidden_grad_norms());
//   - the per-thread time loop: each thread walks every step on its own columns of the batch.
//     Samples are independent through time, so there is no synchronization between steps, and a
//     sample's numbers do not depend on how the batch is split (same numbers for any thread count).
//
// A cell derives from it and implements two functions:
//   forward_steps(x, T, B): fill history(k) blocks 1..T from block 0 (already the carried state);
//   backward_steps(dy, T, B): accumulate parameter gradients, leave dL/d(initial state) in
//     state_grad(k) (zeroed before the call) and, if need_dx, write dL/dx.
// The output is the first state variable at every step: y = history(0) blocks 1..T.
//
// Bounded memory (train.bptt.memory, set_step_storage()): the base runs forward_steps on
// segments of k steps, one after the other, and keeps only each segment's initial state (a
// checkpoint: state variables x B per segment) besides the output. Backward walks the segments
// from the last one: it re-runs forward_steps from the segment's checkpoint (the last segment's
// steps are still there from the forward), then backward_steps on the segment with the state
// gradient carried in from the later segment. A cell needs nothing for this beyond the contract
// above — history(k), input(), record_grad() and the carry are all per segment — so long as its
// backward_steps ACCUMULATES parameter gradients (as the contract of Layer::backward says)
// and forward_steps depends only on the initial state, the input and the parameters.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "unroll/layer.hpp"
#include "unroll/linalg.hpp"
#include "unroll/parallel.hpp"

namespace unroll {

/// The columns of the batch one thread owns in a time loop: samples [c0, c0 + n) of B.
struct StepColumns {
  Eigen::Index c0 = 0, n = 0, B = 0;
  /// Step k of a matrix laid out in steps of B columns (history, gates, ...), our columns.
  template <class M>
  auto at(M& m, int k) const {
    return m.middleCols(static_cast<Eigen::Index>(k) * B + c0, n);
  }
  /// Our columns of a one-step matrix (H x B scratch, carries).
  template <class M>
  auto of(M& m) const {
    return m.middleCols(c0, n);
  }
  /// Calls f(slice) on our columns cut into slices of `width` (the last may be narrower): a
  /// step's element-wise statements, run slice by slice, then read their operands from L1
  /// instead of streaming all our columns through L2 once per statement.
  template <class F>
  void in_slices(Eigen::Index width, F&& f) const {
    for (Eigen::Index j = 0; j < n; j += width) f(StepColumns{c0 + j, std::min(width, n - j), B});
  }
};

class RecurrentLayer : public Layer {
 public:
  /// `units` rows per state variable; `state_names` name them in messages ("h", "c"). The first
  /// state variable is the layer's output.
  RecurrentLayer(int units, std::vector<std::string> state_names)
      : H_(units),
        names_(std::move(state_names)),
        carry_(names_.size()),
        history_(names_.size()),
        dstate_(names_.size()) {}

  int output_size() const override { return H_; }
  bool is_recurrent() const override { return true; }

  void reset_state(int batch) override {
    for (Matrix& m : carry_) m.setZero(H_, batch);
  }
  std::vector<Matrix> state() const override { return carry_; }
  void set_state(const std::vector<Matrix>& s) override {
    bool ok = s.size() == carry_.size();
    for (size_t k = 0; ok && k < s.size(); ++k) ok = s[k].rows() == H_ && s[k].cols() == s[0].cols();
    if (!ok) {
      std::string list;
      for (const std::string& n : names_) list += (list.empty() ? "" : ", ") + n;
      throw Error(name() + ": set_state expects " + std::to_string(names_.size()) + " " + std::to_string(H_) +
                  " x batch matrices (" + list + ") of the same batch, got " + std::to_string(s.size()) + " matrices" +
                  (s.empty() ? "" : ", the first with " + std::to_string(s[0].rows()) + " rows"));
    }
    carry_ = s;
  }
  std::vector<Matrix> state_at(int t) const override {
    if (t < 0 || t >= T_)
      throw Error(name() + ": state_at(" + std::to_string(t) + ") outside the last forward's " + std::to_string(T_) +
                  " steps");
    std::vector<Matrix> out;
    const int s = t / seg_, local = t - s * seg_;
    if (s != live_) {
      if (local == seg_ - 1) {  // the state after a segment's last step is the next one's checkpoint
        for (const Matrix& c : ckpt_) out.emplace_back(c.middleCols(static_cast<Eigen::Index>(s + 1) * B_, B_));
        return out;
      }
      // Recompute segment s from its checkpoint. The parameters must be those of the forward:
      // the BPTT driver asks for the state it carries right after the window's forward.
      // (The cache of steps is not part of the layer's observable value, hence the cast.)
      const_cast<RecurrentLayer*>(this)->recompute(s);
    }
    for (const Matrix& h : history_) out.emplace_back(h.middleCols(static_cast<Eigen::Index>(local + 1) * B_, B_));
    return out;
  }
  bool set_step_storage(const StepStorage& s) override {
    storage_ = s;
    return true;
  }
  std::vector<Matrix> initial_state_grad() const override { return dstate_; }
  std::vector<double> hidden_grad_norms() const override { return norms_.norms(); }

 protected:
  /// Fewest batch columns worth a thread of their own in the time loops.
  static constexpr Eigen::Index kMinColumns = 16;

  /// Fill history(k) blocks 1..T (block 0 holds the initial state). x is the whole sequence.
  virtual void forward_steps(const Seq& x, int T, int B) = 0;
  /// Backward through the T steps of the last forward: accumulate parameter gradients, leave
  /// dL/d(initial state) in state_grad(k) (zero on entry), write dx (input_size x T*B) if need_dx.
  virtual void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) = 0;

  /// Floats per step and sample that forward_steps stores for backward_steps (history and the
  /// cell's own per-step buffers: gates, pre-activation gradients). Sizes the segments of a byte
  /// budget (train.bptt.memory.budget); the default counts the state variables and one
  /// pre-activation gradient per state variable. A cell that keeps more per step overrides it.
  virtual double stored_floats_per_step() const { return 2.0 * static_cast<double>(names_.size()) * H_; }

  int units() const { return H_; }
  /// Slice width for StepColumns::in_slices: about 512 floats per H-row operand (a cell's
  /// element-wise operands then fit L1 together), and a whole number of 64-byte lines per slice
  /// of an H-row matrix, so each slice starts as aligned as the whole block: Eigen's vector code
  /// then treats every element alike, and the results are bit-identical to unsliced statements.
  Eigen::Index slice_width() const {
    const Eigen::Index lines = 16 / std::gcd<Eigen::Index>(H_, 16);  // columns per 64-byte multiple
    return std::max<Eigen::Index>(lines, 512 / H_ / lines * lines);
  }
  /// State variable k over the last forward: H x (T+1)B, block 0 the initial state.
  Matrix& history(size_t k) { return history_[k]; }
  const Matrix& history(size_t k) const { return history_[k]; }
  /// dL/d(state k) carried backwards; after step 0 it is dL/d(initial state k). H x B.
  Matrix& state_grad(size_t k) { return dstate_[k]; }
  /// The input of the last train forward (for dW = dA x^T after the time loop).
  const Matrix& input() const { return seg_ < T_ ? seg_x_.data : x_; }

  /// Runs step(cols) on disjoint column ranges of the batch, one per thread: each thread runs
  /// the whole time loop on its own samples.
  template <class Step>
  void time_loop(int B, Step&& step) const {
    parallel_for(
        B,
        [&](Eigen::Index c0, Eigen::Index c1) {
          step(StepColumns{c0, c1 - c0, B});
        },
        kMinColumns);
  }
  /// Record the step-t gradient w.r.t. the output state, for hidden_grad_norms().
  template <class G>
  void record_grad(int t, const StepColumns& cols, const G& g) {
    norms_.record(t + step0_, cols.c0, g);
  }

  void do_forward(const Seq& x, Seq& y, Mode mode) final {
    const int T = x.steps, B = x.batch;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    if (carry_[0].cols() != B) reset_state(B);
    T_ = T;
    B_ = B;
    seg_ = segment_steps(T, B, mode);
    if (seg_ < T) return forward_segments(x, y, mode);
    live_ = 0;
    for (size_t k = 0; k < history_.size(); ++k) {
      history_[k].resize(H_, TB + B);
      history_[k].leftCols(B) = carry_[k];
    }
    forward_steps(x, T, B);
    for (size_t k = 0; k < history_.size(); ++k) carry_[k] = history_[k].rightCols(B);  // where the next forward starts
    y.resize(H_, T, B);
    copy_matrix(y.data, history_[0].rightCols(TB));
    if (mode == Mode::Train) x_ = x.data;
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) final {
    const int T = T_, B = B_;
    if (dy.steps != T || dy.batch != B)
      throw Error(name() + ": backward got " + std::to_string(dy.steps) + " steps x " + std::to_string(dy.batch) +
                  " samples, the forward had " + std::to_string(T) + " x " + std::to_string(B));
    for (Matrix& d : dstate_) d.setZero(H_, B);
    norms_.reset(T, B);
    if (seg_ < T) return backward_segments(dy, dx, need_dx);
    backward_steps(dy, dx, need_dx, T, B);
  }

 private:
  /// Steps per segment for a forward of T steps x B samples: T with full storage.
  int segment_steps(int T, int B, Mode mode) const {
    if (storage_.every > 0) return std::min(storage_.every, T);
    if (storage_.budget_bytes <= 0) return T;
    // Bytes held for backward with segments of k steps: a checkpoint per segment plus one
    // segment's steps. Recomputation costs one forward whatever k is, but short segments run
    // faster than long ones, because a segment's steps are still in cache when backward reads
    // them (LSTM h128, batch 32: T = 10,000 took 1.03x full storage's time with 100-step
    // segments and 1.30x with 998-step ones). So take segments of about sqrt(T) steps, within
    // the lengths that fit. An evaluation pass keeps no checkpoints; its batch may be larger
    // than training's, and a run is not stopped at its end for that: it runs one step at a time
    // if nothing else fits.
    const double ckpt = mode == Mode::Train ? 4.0 * static_cast<double>(names_.size()) * H_ * B : 0.0;
    const double step = 4.0 * stored_floats_per_step() * B;
    auto bytes = [&](int k) { return ((T + k - 1) / k) * ckpt + k * step; };
    if (T * step <= storage_.budget_bytes) return T;
    int longest = 0, shortest = 0;
    for (int k = T; k >= 1 && longest == 0; --k)
      if (bytes(k) <= storage_.budget_bytes) longest = k;
    for (int k = 1; k <= longest && shortest == 0; ++k)
      if (bytes(k) <= storage_.budget_bytes) shortest = k;
    if (longest > 0)
      return std::clamp(static_cast<int>(std::lround(std::sqrt(static_cast<double>(T)))), shortest, longest);
    if (mode == Mode::Eval) return 1;
    int kmin = 1;
    for (int k = 1; k <= T; ++k)
      if (bytes(k) < bytes(kmin)) kmin = k;
    throw Error(name() + ": train.bptt.memory.budget is " +
                std::to_string(static_cast<long long>(storage_.budget_bytes)) +
                " bytes, below the least this layer needs for " + std::to_string(T) + " steps x " + std::to_string(B) +
                " samples: " + std::to_string(static_cast<long long>(bytes(kmin))) + " bytes (a checkpoint every " +
                std::to_string(kmin) + " steps)");
  }

  /// Steps [t0, t0 + n) of a step-major matrix of B columns per step.
  template <class M>
  static auto steps_of(M& m, int t0, int n, int B) {
    return m.middleCols(static_cast<Eigen::Index>(t0) * B, static_cast<Eigen::Index>(n) * B);
  }
  int segments() const { return (T_ + seg_ - 1) / seg_; }
  int segment_length(int s) const { return std::min(seg_, T_ - s * seg_); }

  /// Run forward_steps on segment s from the state in history block 0; its input into seg_x_.
  void run_segment(int s, const Matrix& x) {
    const int n = segment_length(s);
    seg_x_.resize(static_cast<int>(x.rows()), n, B_);
    seg_x_.data = steps_of(x, s * seg_, n, B_);
    forward_steps(seg_x_, n, B_);
    live_ = s;
  }

  /// Restore segment s's steps from its checkpoint (backward, or state_at inside a segment).
  void recompute(int s) {
    if (x_.cols() != static_cast<Eigen::Index>(T_) * B_)
      throw Error(name() + ": recomputing steps needs the input of a train-mode forward");
    const int n = segment_length(s);
    for (size_t k = 0; k < history_.size(); ++k) {
      history_[k].resize(H_, static_cast<Eigen::Index>(n + 1) * B_);
      history_[k].leftCols(B_) = ckpt_[k].middleCols(static_cast<Eigen::Index>(s) * B_, B_);
    }
    run_segment(s, x_);
  }

  void forward_segments(const Seq& x, Seq& y, Mode mode) {
    const int S = segments(), B = B_;
    y.resize(H_, T_, B);
    for (size_t k = 0; k < history_.size(); ++k) ckpt_[k].resize(H_, static_cast<Eigen::Index>(S + 1) * B);
    for (int s = 0; s < S; ++s) {
      const int n = segment_length(s);
      for (size_t k = 0; k < history_.size(); ++k) {
        ckpt_[k].middleCols(static_cast<Eigen::Index>(s) * B, B) = carry_[k];
        history_[k].resize(H_, static_cast<Eigen::Index>(n + 1) * B);
        history_[k].leftCols(B) = carry_[k];
      }
      run_segment(s, x.data);
      for (size_t k = 0; k < history_.size(); ++k) carry_[k] = history_[k].rightCols(B);
      steps_of(y.data, s * seg_, n, B) = history_[0].rightCols(static_cast<Eigen::Index>(n) * B);
    }
    for (size_t k = 0; k < history_.size(); ++k) ckpt_[k].rightCols(B) = carry_[k];  // the final state
    x_ = mode == Mode::Train ? x.data : Matrix();
  }

  void backward_segments(const Seq& dy, Seq& dx, bool need_dx) {
    const int B = B_;
    if (need_dx) dx.resize(input_size(), T_, B);
    for (int s = segments() - 1; s >= 0; --s) {
      if (s != live_) recompute(s);
      const int n = segment_length(s);
      seg_dy_.resize(H_, n, B);
      seg_dy_.data = steps_of(dy.data, s * seg_, n, B);
      step0_ = s * seg_;
      backward_steps(seg_dy_, seg_dx_, need_dx, n, B);  // the state gradient carries over in state_grad(k)
      if (need_dx) steps_of(dx.data, s * seg_, n, B) = seg_dx_.data;
    }
    step0_ = 0;
  }

 private:
  int H_;
  std::vector<std::string> names_;
  std::vector<Matrix> carry_;    // carried state: where the next forward starts
  std::vector<Matrix> history_;  // per state variable: H x (T+1)B
  std::vector<Matrix> dstate_;   // per state variable: the backward carry, then dL/d(initial state)
  Matrix x_;                     // input of the last train forward
  StepGradNorms norms_;          // hidden_grad_norms()
  int T_ = 0, B_ = 0;
  // Bounded memory (seg_ < T_): segments of seg_ steps; history_ and the cell's buffers hold
  // segment live_ only.
  StepStorage storage_;
  int seg_ = 0, live_ = 0, step0_ = 0;                             // step0_: first step of the segment in backward
  std::vector<Matrix> ckpt_ = std::vector<Matrix>(names_.size());  // per state variable: H x (segments+1)B
  Seq seg_x_, seg_dy_, seg_dx_;  // one segment's input, output gradient and input gradient
};

}  // namespace unroll
