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
#include <string>
#include <utility>
#include <vector>

#include "unroll/layer.hpp"
#include "unroll/parallel.hpp"

namespace unroll {

/// The columns of the batch one thread owns in a time loop: samples [c0, c0 + n) of B.
struct StepColumns {
  Eigen::Index c0 = 0, n = 0, B = 0;
  /// Step k of a matrix laid out in steps of B columns (history, gates, ...), our columns.
  template <class M>
  auto at(M& m, int k) const { return m.middleCols(static_cast<Eigen::Index>(k) * B + c0, n); }
  /// Our columns of a one-step matrix (H x B scratch, carries).
  template <class M>
  auto of(M& m) const { return m.middleCols(c0, n); }
};

class RecurrentLayer : public Layer {
 public:
  /// `units` rows per state variable; `state_names` name them in messages ("h", "c"). The first
  /// state variable is the layer's output.
  RecurrentLayer(int units, std::vector<std::string> state_names)
      : H_(units), names_(std::move(state_names)), carry_(names_.size()), history_(names_.size()),
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
                  " x batch matrices (" + list + ") of the same batch, got " + std::to_string(s.size()) +
                  " matrices" + (s.empty() ? "" : ", the first with " + std::to_string(s[0].rows()) + " rows"));
    }
    carry_ = s;
  }
  std::vector<Matrix> state_at(int t) const override {
    if (t < 0 || t >= T_)
      throw Error(name() + ": state_at(" + std::to_string(t) + ") outside the last forward's " +
                  std::to_string(T_) + " steps");
    std::vector<Matrix> out;
    for (const Matrix& h : history_) out.emplace_back(h.middleCols(static_cast<Eigen::Index>(t + 1) * B_, B_));
    return out;
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

  int units() const { return H_; }
  /// State variable k over the last forward: H x (T+1)B, block 0 the initial state.
  Matrix& history(size_t k) { return history_[k]; }
  const Matrix& history(size_t k) const { return history_[k]; }
  /// dL/d(state k) carried backwards; after step 0 it is dL/d(initial state k). H x B.
  Matrix& state_grad(size_t k) { return dstate_[k]; }
  /// The input of the last train forward (for dW = dA x^T after the time loop).
  const Matrix& input() const { return x_; }

  /// Runs step(cols) on disjoint column ranges of the batch, one per thread: each thread runs
  /// the whole time loop on its own samples.
  template <class Step>
  void time_loop(int B, Step&& step) const {
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) { step(StepColumns{c0, c1 - c0, B}); }, kMinColumns);
  }
  /// Record the step-t gradient w.r.t. the output state, for hidden_grad_norms().
  template <class G>
  void record_grad(int t, const StepColumns& cols, const G& g) {
    norms_.record(t, cols.c0, g);
  }

  void do_forward(const Seq& x, Seq& y, Mode mode) final {
    const int T = x.steps, B = x.batch;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    if (carry_[0].cols() != B) reset_state(B);
    T_ = T;
    B_ = B;
    for (size_t k = 0; k < history_.size(); ++k) {
      history_[k].resize(H_, TB + B);
      history_[k].leftCols(B) = carry_[k];
    }
    forward_steps(x, T, B);
    for (size_t k = 0; k < history_.size(); ++k) carry_[k] = history_[k].rightCols(B);  // where the next forward starts
    y.resize(H_, T, B);
    y.data = history_[0].rightCols(TB);
    if (mode == Mode::Train) x_ = x.data;
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) final {
    const int T = T_, B = B_;
    if (dy.steps != T || dy.batch != B)
      throw Error(name() + ": backward got " + std::to_string(dy.steps) + " steps x " + std::to_string(dy.batch) +
                  " samples, the forward had " + std::to_string(T) + " x " + std::to_string(B));
    for (Matrix& d : dstate_) d.setZero(H_, B);
    norms_.reset(T, B);
    backward_steps(dy, dx, need_dx, T, B);
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
};

}  // namespace unroll
