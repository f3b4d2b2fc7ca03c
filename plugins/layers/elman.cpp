// elman: the simple recurrent layer, h_t = f(W x_t + U h_{t-1} + b), f = tanh or relu
// (Elman 1990). The output is h_t at every step (H x T*B); a last-step loss picks the last step.
//
// The state handling and the per-thread time loop come from RecurrentLayer (recurrent.hpp);
// this file holds the equations:
//   forward, step t:  history block t+1 holds h_t. f'(a_t) is recovered from h_t (tanh: 1 - h^2,
//                     relu: [h > 0]), so nothing else is stored per step.
//   backward, step t: takes g_t = dy_t + dh (from above plus the carry from step t+1), stores
//                     da_t = g_t * f'(a_t) and leaves dh = U^T da_t = dL/dh_{t-1} for step t-1.
//                     After step 0, dh is dL/dh_{-1} (initial_state_grad()); it goes no further.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it, over the stored da and h blocks. Only U h_{t-1} and U^T da_t run per step, with U
// packed once per pass (PackedMatrix) rather than by every step's product.
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>
#include <unroll/recurrent.hpp>

namespace {
using namespace unroll;

class Elman final : public RecurrentLayer {
 public:
  Elman(const Options& o, const BuildContext& c)
      : RecurrentLayer(o.i("units"), {"h"}),
        H_(o.i("units")),
        relu_(o.string("activation") == "relu"),
        W_(c.name + ".W", H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", H_, 1, c.input_size, H_, o.block("bias_init")) {}

  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

 protected:
  void forward_steps(const Seq& x, int T, int B) override {
    Matrix& hs = history(0);
    // Pre-activations of all steps in place in hs; step t then adds U h_{t-1} and applies f.
    auto a = hs.rightCols(static_cast<Eigen::Index>(T) * B);
    fill_columns(a, b_.value.col(0));  // b first, then W x added by the gemm: one pass fewer
    gemm(a, W_.value, Trans::No, x.data, Trans::No, 1.0f, 1.0f);
    time_loop(B, [&](const StepColumns& cols) {
      const PackedMatrix U(U_.value, Trans::No, cols.n);  // packed once, not at every step
      for (int t = 0; t < T; ++t) {
        auto a = cols.at(hs, t + 1);
        gemm(a, U, cols.at(hs, t), Trans::No, 1.0f, 1.0f);
        if (relu_)
          a = a.cwiseMax(0.0f);
        else
          a.array() = a.array().tanh();
      }
    });
  }

  void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) override {
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix& hs = history(0);
    Matrix& dh_all = state_grad(0);
    da_.resize(H_, TB);
    g_.resize(H_, B);
    time_loop(B, [&](const StepColumns& cols) {
      auto g = cols.of(g_), dh = cols.of(dh_all);
      const PackedMatrix Ut(U_.value, Trans::Yes, cols.n);
      for (int t = T - 1; t >= 0; --t) {
        g = cols.at(dy.data, t) + dh;
        record_grad(t, cols, g);
        auto h = cols.at(hs, t + 1);
        auto da = cols.at(da_, t);
        if (relu_)
          da.array() = (h.array() > 0.0f).select(g.array(), 0.0f);
        else
          da.array() = g.array() * (1.0f - h.array().square());
        gemm(dh, Ut, da, Trans::No);
      }
    });
    gemm(W_.grad, da_, Trans::No, input(), Trans::Yes, 1.0f, 1.0f);
    gemm(U_.grad, da_, Trans::No, hs.leftCols(TB), Trans::Yes, 1.0f, 1.0f);
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
  Matrix da_, g_;  // backward: dL/da for all steps; total dL/dh_t of the current step
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("elman", "Elman recurrent layer: h_t = f(W x_t + U h_{t-1} + b), output h_t at every step (Elman 1990).");
  s.integer("units", "Hidden units H (size of h_t and of the output).").at_least(1);
  s.choice("activation", "tanh", {"tanh", "relu"}, "f: tanh, or relu (Le et al. 2015, with an identity U).");
  s.component("init", "initializer", "{kind: xavier_uniform}",
              "Initializer of W (H x input; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}", "Initializer of U (H x H).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (H).");
  registry.add_layer(
      std::move(s),
      [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
        if (c.input_size < 1)
          throw Error(c.name + ": elman needs at least one input feature, got " + std::to_string(c.input_size));
        return std::make_unique<Elman>(o, c);
      },
      [](const Options& o, int in) {  // memory estimate: W, U, b; pre-activations and h per step
        const long long H = o.integer("units");
        return LayerFootprint{static_cast<int>(H), H * (in + H + 1.0), 2 * H, /*state_floats=*/H};
      });
}
