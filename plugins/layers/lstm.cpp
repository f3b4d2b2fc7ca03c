// lstm: long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
// 2000; no peepholes). Gates are stacked in PyTorch's order i, f, g, o in one W (4H x input), one U
// (4H x H) and one b (4H):
//   [a_i; a_f; a_g; a_o] = W x_t + U h_{t-1} + b
//   i = sigmoid(a_i)  f = sigmoid(a_f + forget_bias)  g = tanh(a_g)  o = sigmoid(a_o)
//   c_t = f * c_{t-1} + i * g        h_t = o * tanh(c_t)
// The output is h_t at every step (H x T*B).
//
// Per-step state contract (layer.hpp):
//   forward, step t:  gates_ block t holds the activated gates (i, f, g, o), cs_ block t+1 holds
//                     c_t and tc_ block t tanh(c_t), hs_ block t+1 holds h_t (block 0 of hs_ and
//                     cs_ holds the initial state). After step T-1 the carried state becomes
//                     (h_{T-1}, c_{T-1}).
//   backward, step t: takes dh = dy_t + dh_ and dc_ (the carries from step t+1), stores the
//                     pre-activation gradient da_t, and leaves dh_ = U^T da_t = dL/dh_{t-1} and
//                     dc_ = dc * f = dL/dc_{t-1} for step t-1. After step 0 they are
//                     initial_state_grad() = {dL/dh_{-1}, dL/dc_{-1}}; nothing goes further.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it. Only U h_{t-1} and U^T da_t run per step.
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

class Lstm final : public Layer {
 public:
  Lstm(const Options& o, const BuildContext& c)
      : H_(o.i("units")), forget_bias_(o.f("forget_bias")),
        W_(c.name + ".W", 4 * H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", 4 * H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", 4 * H_, 1, c.input_size, H_, o.block("bias_init")) {}

  int output_size() const override { return H_; }
  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

  bool is_recurrent() const override { return true; }
  void reset_state(int batch) override {
    h0_.setZero(H_, batch);
    c0_.setZero(H_, batch);
  }
  std::vector<Matrix> state() const override { return {h0_, c0_}; }
  void set_state(const std::vector<Matrix>& s) override {
    if (s.size() != 2 || s[0].rows() != H_ || s[1].rows() != H_ || s[0].cols() != s[1].cols())
      throw Error(name() + ": set_state expects two " + std::to_string(H_) +
                  " x batch matrices (h, c) of the same batch, got " + std::to_string(s.size()) + " matrices");
    h0_ = s[0];
    c0_ = s[1];
  }
  std::vector<Matrix> state_at(int t) const override {
    if (t < 0 || t >= T_)
      throw Error(name() + ": state_at(" + std::to_string(t) + ") outside the last forward's " +
                  std::to_string(T_) + " steps");
    const Eigen::Index at = static_cast<Eigen::Index>(t + 1) * B_;
    return {hs_.middleCols(at, B_), cs_.middleCols(at, B_)};
  }
  std::vector<Matrix> initial_state_grad() const override { return {dh_, dc_}; }
  std::vector<double> hidden_grad_norms() const override { return norms_.norms(); }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    const int T = x.steps, B = x.batch, H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    if (h0_.cols() != B) reset_state(B);
    T_ = T;
    B_ = B;
    hs_.resize(H, TB + B);
    cs_.resize(H, TB + B);
    tc_.resize(H, TB);
    gates_.resize(4 * H, TB);
    hs_.leftCols(B) = h0_;
    cs_.leftCols(B) = c0_;
    gemm(gates_, W_.value, Trans::No, x.data, Trans::No);
    gates_.colwise() += b_.value.col(0);
    // Samples are independent through time, so each thread runs the whole time loop on its own
    // columns of the batch: no synchronization between steps, and a sample's numbers do not
    // depend on how the batch is split.
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      for (int t = 0; t < T; ++t) {
        auto a = at(gates_, t);
        gemm(a, U_.value, Trans::No, at(hs_, t), Trans::No, 1.0f, 1.0f);
        a.middleRows(H, H).array() += forget_bias_;
        sigmoid(a.topRows(2 * H));  // i, f
        a.middleRows(2 * H, H).array() = a.middleRows(2 * H, H).array().tanh();
        sigmoid(a.bottomRows(H));  // o
        auto c = at(cs_, t + 1), tc = at(tc_, t);
        c.array() = a.middleRows(H, H).array() * at(cs_, t).array() + a.topRows(H).array() * a.middleRows(2 * H, H).array();
        tc.array() = c.array().tanh();
        at(hs_, t + 1).array() = a.bottomRows(H).array() * tc.array();
      }
    }, kMinColumns);
    h0_ = hs_.rightCols(B);  // h_{T-1}, the state the next forward starts from
    c0_ = cs_.rightCols(B);
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
    da_.resize(4 * H, TB);
    g_.resize(H, B);
    dh_.setZero(H, B);
    dc_.setZero(H, B);
    norms_.reset(T, B);
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      auto g = g_.middleCols(c0, n), dh = dh_.middleCols(c0, n), dc = dc_.middleCols(c0, n);
      for (int t = T - 1; t >= 0; --t) {
        g = dy.data.middleCols(t * B + c0, n) + dh;
        norms_.record(t, c0, g);
        auto a = at(gates_, t);
        const auto i = a.topRows(H).array(), f = a.middleRows(H, H).array(), gc = a.middleRows(2 * H, H).array(),
                   o = a.bottomRows(H).array();
        auto tc = at(tc_, t).array();
        auto c_prev = at(cs_, t).array();
        auto da = at(da_, t);
        dc.array() += g.array() * o * (1.0f - tc.square());
        da.topRows(H).array() = dc.array() * gc * i * (1.0f - i);
        da.middleRows(H, H).array() = dc.array() * c_prev * f * (1.0f - f);
        da.middleRows(2 * H, H).array() = dc.array() * i * (1.0f - gc.square());
        da.bottomRows(H).array() = g.array() * tc * o * (1.0f - o);
        dc.array() *= f;
        gemm(dh, U_.value, Trans::Yes, da, Trans::No);
      }
    }, kMinColumns);
    gemm(W_.grad, da_, Trans::No, x_, Trans::Yes, 1.0f, 1.0f);
    gemm(U_.grad, da_, Trans::No, hs_.leftCols(TB), Trans::Yes, 1.0f, 1.0f);
    add_row_sums(b_.grad.col(0), da_);
    if (need_dx) {
      dx.resize(input_size(), T, B);
      gemm(dx.data, W_.value, Trans::Yes, da_, Trans::No);
    }
  }

 private:
  int H_;
  float forget_bias_;
  Param W_, U_, b_;
  Matrix h0_, c0_;  // carried state: where the next forward starts
  Matrix hs_, cs_;  // H x (T+1)B: initial state, then the state after each step
  Matrix tc_;       // H x TB: tanh(c_t)
  Matrix gates_;    // 4H x TB: i, f, g, o after their nonlinearities
  Matrix x_;        // input of the last train forward (for dW)
  Matrix da_, g_;   // backward: pre-activation gradients of all steps; total dL/dh_t of the step
  Matrix dh_, dc_;  // recurrent carries; after backward, dL/d(initial state)
  StepGradNorms norms_;  // hidden_grad_norms()
  int T_ = 0, B_ = 0;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("lstm",
           "LSTM layer (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000), no peepholes, gates "
           "i,f,g,o stacked as in PyTorch: c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), output h_t at every step.");
  s.integer("units", "Hidden units H (size of h_t, c_t and of the output).").at_least(1);
  s.real("forget_bias", 1.0,
         "Constant added to the forget-gate pre-activation, so f starts near sigmoid(1) "
         "(Gers et al. 2000; Jozefowicz et al. 2015).");
  s.component("init", "initializer", "{kind: xavier_uniform}",
              "Initializer of W (4H x input, filled as a whole; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}",
              "Initializer of U (4H x H, filled as a whole: orthogonal gives orthonormal columns).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (4H).");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    if (c.input_size < 1)
      throw Error(c.name + ": lstm needs at least one input feature, got " + std::to_string(c.input_size));
    return std::make_unique<Lstm>(o, c);
  }, [](const Options& o, int in) {  // memory estimate: W, U, b; gates, c and tanh(c) per step
    const long long H = o.integer("units");
    return LayerFootprint{static_cast<int>(H), 4.0 * H * (in + H + 1.0), 7 * H};
  });
}
