// elman: the simple recurrent layer, h_t = f(W x_t + U h_{t-1} + b), f = tanh or relu
// (Elman 1990). The output is h_t at every step (H x T*B); a last-step loss picks the last step.
//
// Per-step state contract (layer.hpp):
//   forward, step t:  hs_ block t+1 holds h_t (block 0 holds the initial state h_{-1}). f'(a_t)
//                     is recovered from h_t (tanh: 1 - h^2, relu: [h > 0]), so nothing else is
//                     stored per step. After step T-1 the carried state h0_ becomes h_{T-1}.
//   backward, step t: takes g_t = dy_t + dh_ (from above plus the carry from step t+1), stores
//                     da_t = g_t * f'(a_t) and leaves dh_ = U^T da_t = dL/dh_{t-1} for step t-1.
//                     After step 0, dh_ is dL/dh_{-1} (initial_state_grad()); it goes no further.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it, over the stored da and h blocks. Only U h_{t-1} and U^T da_t run per step.
#include <unroll/linalg.hpp>
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

// Fewest batch columns worth a thread of their own in the time loops.
constexpr Eigen::Index kMinColumns = 16;

class Elman final : public Layer {
 public:
  Elman(const Options& o, const BuildContext& c)
      : H_(o.i("units")), relu_(o.string("activation") == "relu"),
        W_(c.name + ".W", H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", H_, 1, c.input_size, H_, o.block("bias_init")) {}

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
    const int T = x.steps, B = x.batch;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    if (h0_.cols() != B) reset_state(B);
    T_ = T;
    B_ = B;
    hs_.resize(H_, TB + B);
    hs_.leftCols(B) = h0_;
    // Pre-activations of all steps in place in hs_; step t then adds U h_{t-1} and applies f.
    auto a = hs_.rightCols(TB);
    gemm(a, W_.value, Trans::No, x.data, Trans::No);
    a.colwise() += b_.value.col(0);
    // Samples are independent through time, so each thread runs the whole time loop on its own
    // columns of the batch: no synchronization between steps, and a sample's numbers do not
    // depend on how the batch is split.
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      for (int t = 0; t < T; ++t) {
        auto a = at(hs_, t + 1);
        gemm(a, U_.value, Trans::No, at(hs_, t), Trans::No, 1.0f, 1.0f);
        if (relu_) a = a.cwiseMax(0.0f);
        else a.array() = a.array().tanh();
      }
    }, kMinColumns);
    h0_ = hs_.rightCols(B);  // h_{T-1}, the state the next forward starts from
    y.resize(H_, T, B);
    y.data = hs_.rightCols(TB);
    if (mode == Mode::Train) x_ = x.data;
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    const int T = T_, B = B_;
    if (dy.steps != T || dy.batch != B)
      throw Error(name() + ": backward got " + std::to_string(dy.steps) + " steps x " + std::to_string(dy.batch) +
                  " samples, the forward had " + std::to_string(T) + " x " + std::to_string(B));
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    da_.resize(H_, TB);
    g_.resize(H_, B);
    dh_.setZero(H_, B);
    norms_.reset(T, B);
    parallel_for(B, [&](Eigen::Index c0, Eigen::Index c1) {
      const Eigen::Index n = c1 - c0;
      auto at = [&](Matrix& m, int k) { return m.middleCols(k * B + c0, n); };  // step k, our columns
      auto g = g_.middleCols(c0, n), dh = dh_.middleCols(c0, n);
      for (int t = T - 1; t >= 0; --t) {
        g = dy.data.middleCols(t * B + c0, n) + dh;
        norms_.record(t, c0, g);
        auto h = at(hs_, t + 1);
        auto da = at(da_, t);
        if (relu_) da.array() = (h.array() > 0.0f).select(g.array(), 0.0f);
        else da.array() = g.array() * (1.0f - h.array().square());
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
  bool relu_;
  Param W_, U_, b_;
  Matrix h0_;      // carried state: where the next forward starts
  Matrix hs_;      // H x (T+1)B: h_{-1}, h_0, ..., h_{T-1}
  Matrix x_;       // input of the last train forward (for dW)
  Matrix da_, g_;  // backward: dL/da for all steps; total dL/dh_t of the current step
  Matrix dh_;      // recurrent carry; after backward, dL/dh_{-1}
  StepGradNorms norms_;  // hidden_grad_norms()
  int T_ = 0, B_ = 0;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("elman",
           "Elman recurrent layer: h_t = f(W x_t + U h_{t-1} + b), output h_t at every step (Elman 1990).");
  s.integer("units", "Hidden units H (size of h_t and of the output).").at_least(1);
  s.choice("activation", "tanh", {"tanh", "relu"}, "f: tanh, or relu (Le et al. 2015, with an identity U).");
  s.component("init", "initializer", "{kind: xavier_uniform}", "Initializer of W (H x input; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}", "Initializer of U (H x H).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (H).");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    if (c.input_size < 1)
      throw Error(c.name + ": elman needs at least one input feature, got " + std::to_string(c.input_size));
    return std::make_unique<Elman>(o, c);
  }, [](const Options& o, int in) {  // memory estimate: W, U, b; pre-activations and h per step
    const long long H = o.integer("units");
    return LayerFootprint{static_cast<int>(H), H * (in + H + 1.0), 2 * H};
  });
}
