// gru: gated recurrent unit (Cho et al. 2014), in PyTorch's variant: the reset gate multiplies
// the recurrent product AFTER it, r * (U_n h + b_hn), instead of before it, U_n (r * h). This is
// also cuDNN's and Keras's reset_after=True form; it lets U h_{t-1} for all three blocks be one
// gemm per step, and makes results comparable with PyTorch. Stacked as W (3H x input: r, z, n),
// U (3H x H: r, z, n) and b (4H: b_r, b_z, b_n, b_hn):
//   r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)
//   z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)
//   n = tanh(W_n x_t + b_n + r * (U_n h_{t-1} + b_hn))
//   h_t = (1 - z) * n + z * h_{t-1}
// The output is h_t at every step (H x T*B).
//
// Per-step state contract (layer.hpp):
//   forward, step t:  gates_ block t holds r, z, n; hn_ block t holds U_n h_{t-1} + b_hn; hs_
//                     block t+1 holds h_t (block 0 holds the initial state h_{-1}). After step
//                     T-1 the carried state becomes h_{T-1}.
//   backward, step t: takes dh = dy_t + dh_ (from above plus the carry from step t+1), stores
//                     da_t (gradient w.r.t. W x_t + b) and dp_t (w.r.t. U h_{t-1} + [0; 0; b_hn]),
//                     and leaves dh_ = U^T dp_t + z * dh = dL/dh_{t-1} for step t-1. After step 0
//                     that is initial_state_grad(); nothing goes further back.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it. Only U h_{t-1} and U^T dp_t run per step.
#include <unroll/linalg.hpp>
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

// Fewest batch columns worth a thread of their own in the time loops.
constexpr Eigen::Index kMinColumns = 16;

template <class Block>
void sigmoid(Block&& a) {
  a.array() = (1.0f + (-a.array()).exp()).inverse();
}

class Gru final : public Layer {
 public:
  Gru(const Options& o, const BuildContext& c)
      : H_(o.i("units")),
        W_(c.name + ".W", 3 * H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", 3 * H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", 4 * H_, 1, c.input_size, H_, o.block("bias_init")) {}

  int output_size() const override { return H_; }
  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

  bool is_recurrent() const override { return true; }
  void reset_state(int batch) override { h0_.setZero(H_, batch); }
  std::vector<Matrix> state() const override { return {h0_}; }
  void set_state(const std::vector<Matrix>& s) override {
    if (s.size() != 1 || s[0].rows() != H_)
      throw Error(name() + ": set_state expects one " + std::to_string(H_) + " x batch matrix (h), got " +
                  std::to_string(s.size()) + (s.empty() ? "" : " with " + std::to_string(s[0].rows()) + " rows"));
    h0_ = s[0];
  }
  std::vector<Matrix> state_at(int t) const override {
    if (t < 0 || t >= T_)
      throw Error(name() + ": state_at(" + std::to_string(t) + ") outside the last forward's " +
                  std::to_string(T_) + " steps");
    return {hs_.middleCols(static_cast<Eigen::Index>(t + 1) * B_, B_)};
  }
  std::vector<Matrix> initial_state_grad() const override { return {dh_}; }
  std::vector<double> hidden_grad_norms() const override { return norms_.norms(); }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    const int T = x.steps, B = x.batch, H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    if (h0_.cols() != B) reset_state(B);
    T_ = T;
    B_ = B;
    hs_.resize(H, TB + B);
    hn_.resize(H, TB);
    gates_.resize(3 * H, TB);
    p_.resize(3 * H, B);
    hs_.leftCols(B) = h0_;
    gemm(gates_, W_.value, Trans::No, x.data, Trans::No);
    gates_.colwise() += b_.value.col(0).head(3 * H);
    const auto b_hn = b_.value.col(0).tail(H);
    // Samples are independent through time, so each thread runs the whole time loop on its own
    // columns of the batch: no synchronization between steps, and a sample's numbers do not
    // depend on how the batch is split.
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      auto p = p_.middleCols(c0, n);
      for (int t = 0; t < T; ++t) {
        auto a = at(gates_, t), hn = at(hn_, t), h_prev = at(hs_, t);
        gemm(p, U_.value, Trans::No, h_prev, Trans::No);
        a.topRows(2 * H) += p.topRows(2 * H);
        sigmoid(a.topRows(2 * H));  // r, z
        hn = p.bottomRows(H);
        hn.colwise() += b_hn;
        auto nt = a.bottomRows(H);
        nt.array() = (nt.array() + a.topRows(H).array() * hn.array()).tanh();
        at(hs_, t + 1).array() = nt.array() + a.middleRows(H, H).array() * (h_prev.array() - nt.array());
      }
    }, kMinColumns);
    h0_ = hs_.rightCols(B);  // h_{T-1}, the state the next forward starts from
    y.resize(H, T, B);
    y.data = hs_.rightCols(TB);
    if (mode == Mode::Train) x_ = x.data;
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    const int T = T_, B = B_, H = H_;
    if (dy.steps != T || dy.batch != B)
      throw Error(name() + ": backward got " + std::to_string(dy.steps) + " steps x " + std::to_string(dy.batch) +
                  " samples, the forward had " + std::to_string(T) + " x " + std::to_string(B));
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    da_.resize(3 * H, TB);
    dp_.resize(3 * H, TB);
    g_.resize(H, B);
    dh_.setZero(H, B);
    norms_.reset(T, B);
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      auto g = g_.middleCols(c0, n), dh = dh_.middleCols(c0, n);
      for (int t = T - 1; t >= 0; --t) {
        g = dy.data.middleCols(t * B + c0, n) + dh;
        norms_.record(t, c0, g);
        auto a = at(gates_, t);
        const auto r = a.topRows(H).array(), z = a.middleRows(H, H).array(), nt = a.bottomRows(H).array();
        auto hn = at(hn_, t).array(), h_prev = at(hs_, t).array();
        auto da = at(da_, t), dp = at(dp_, t);
        da.bottomRows(H).array() = g.array() * (1.0f - z) * (1.0f - nt.square());
        da.middleRows(H, H).array() = g.array() * (h_prev - nt) * z * (1.0f - z);
        da.topRows(H).array() = da.bottomRows(H).array() * hn * r * (1.0f - r);
        dp.topRows(2 * H) = da.topRows(2 * H);
        dp.bottomRows(H).array() = da.bottomRows(H).array() * r;
        gemm(dh, U_.value, Trans::Yes, dp, Trans::No);
        dh.array() += g.array() * z;
      }
    }, kMinColumns);
    gemm(W_.grad, da_, Trans::No, x_, Trans::Yes, 1.0f, 1.0f);
    gemm(U_.grad, dp_, Trans::No, hs_.leftCols(TB), Trans::Yes, 1.0f, 1.0f);
    add_row_sums(b_.grad.col(0).head(3 * H), da_);
    add_row_sums(b_.grad.col(0).tail(H), dp_.bottomRows(H));
    if (need_dx) {
      dx.resize(input_size(), T, B);
      gemm(dx.data, W_.value, Trans::Yes, da_, Trans::No);
    }
  }

 private:
  int H_;
  Param W_, U_, b_;
  Matrix h0_;      // carried state: where the next forward starts
  Matrix hs_;      // H x (T+1)B: h_{-1}, h_0, ..., h_{T-1}
  Matrix hn_;      // H x TB: U_n h_{t-1} + b_hn
  Matrix gates_;   // 3H x TB: r, z, n after their nonlinearities
  Matrix p_;       // 3H x B: U h_{t-1} of the current step
  Matrix x_;       // input of the last train forward (for dW)
  Matrix da_, dp_, g_;  // backward: gradients w.r.t. W x + b and U h + b_hn; total dL/dh_t
  Matrix dh_;      // recurrent carry; after backward, dL/dh_{-1}
  StepGradNorms norms_;  // hidden_grad_norms()
  int T_ = 0, B_ = 0;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("gru",
           "GRU layer (Cho et al. 2014), PyTorch's variant with the reset gate after the recurrent product: "
           "n = tanh(W_n x + b_n + r*(U_n h + b_hn)), h_t = (1-z)*n + z*h_{t-1}, output h_t at every step.");
  s.integer("units", "Hidden units H (size of h_t and of the output).").at_least(1);
  s.component("init", "initializer", "{kind: xavier_uniform}",
              "Initializer of W (3H x input, filled as a whole; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}",
              "Initializer of U (3H x H, filled as a whole: orthogonal gives orthonormal columns).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (4H: b_r, b_z, b_n, b_hn).");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    if (c.input_size < 1)
      throw Error(c.name + ": gru needs at least one input feature, got " + std::to_string(c.input_size));
    return std::make_unique<Gru>(o, c);
  }, [](const Options& o, int in) {  // memory estimate: W, U, b; gates and the candidate per step
    const long long H = o.integer("units");
    return LayerFootprint{static_cast<int>(H), 3.0 * H * (in + H) + 4.0 * H, 5 * H};
  });
}
