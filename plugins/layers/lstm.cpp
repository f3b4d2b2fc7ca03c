// lstm: long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
// 2000; no peepholes). Gates are stacked in PyTorch's order i, f, g, o in one W (4H x input), one U
// (4H x H) and one b (4H):
//   [a_i; a_f; a_g; a_o] = W x_t + U h_{t-1} + b
//   i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
//   c_t = f * c_{t-1} + i * g        h_t = o * tanh(c_t)
// The output is h_t at every step (H x T*B). The forget bias is part of b: `forget_bias` is the
// initializer of b's f block (rows H..2H), so it is learned and checkpointed like any bias and
// the forward adds nothing.
//
// The state handling and the per-thread time loop come from RecurrentLayer (recurrent.hpp);
// this file holds the equations:
//   forward, step t:  gates_ block t holds the activated gates (i, f, g, o), history(1) block t+1
//                     holds c_t and tc_ block t tanh(c_t), history(0) block t+1 holds h_t.
//   backward, step t: takes g = dy_t + dh and dc (the carries from step t+1), stores the
//                     pre-activation gradient da_t, and leaves dh = U^T da_t = dL/dh_{t-1} and
//                     dc = dc * f = dL/dc_{t-1} for step t-1. After step 0 they are
//                     initial_state_grad() = {dL/dh_{-1}, dL/dc_{-1}}; nothing goes further.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it. Only U h_{t-1} and U^T da_t run per step, with U packed once per pass (PackedMatrix).
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>
#include <unroll/recurrent.hpp>

namespace {
using namespace unroll;

// Floats per step, sample and unit that backward needs: h, c, tanh(c), the four gates and their four
// pre-activation gradients. Both the segment sizing (stored_floats_per_step) and the memory estimate
// (the footprint) read it, so they cannot disagree.
constexpr int kStoredPerUnit = 11;

template <class Block>
void sigmoid(Block&& a) {
  a.array() = (1.0f + (-a.array()).exp()).inverse();
}

class Lstm final : public RecurrentLayer {
 public:
  Lstm(const Options& o, const BuildContext& c)
      : RecurrentLayer(o.i("units"), {"h", "c"}),
        H_(o.i("units")),
        W_(c.name + ".W", 4 * H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", 4 * H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", 4 * H_, 1, c.input_size, H_, o.block("bias_init")) {
    // The f block of b starts at forget_bias (after bias_init fills all of b); 0 leaves it to bias_init.
    if (o.real("forget_bias") != 0) {
      const Node& fb = o.node().at("forget_bias");
      Node init = Node::map(fb.loc());
      init.set("kind", Node::scalar("constant", fb.loc()));
      init.set("value", fb);
      b_.blocks.push_back(InitBlock{"f", H_, H_, c.input_size, H_, init});
    }
  }

  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

 protected:
  double stored_floats_per_step() const override { return double{kStoredPerUnit} * H_; }

  void forward_steps(const Seq& x, int T, int B) override {
    const int H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix &hs = history(0), &cs = history(1);
    tc_.resize(H, TB);
    gates_.resize(4 * H, TB);
    fill_columns(gates_, b_.value.col(0));  // b first, then W x added by the gemm: one pass fewer
    gemm(gates_, W_.value, Trans::No, x.data, Trans::No, 1.0f, 1.0f);
    time_loop(B, [&](const StepColumns& cols) {
      const PackedMatrix U(U_.value, Trans::No, cols.n);  // packed once, not at every step
      for (int t = 0; t < T; ++t) {
        gemm(cols.at(gates_, t), U, cols.at(hs, t), Trans::No, 1.0f, 1.0f);
        cols.in_slices(slice_width(), [&](const StepColumns& s) {
          auto a = s.at(gates_, t);
          sigmoid(a.topRows(2 * H));  // i, f
          a.middleRows(2 * H, H).array() = a.middleRows(2 * H, H).array().tanh();
          sigmoid(a.bottomRows(H));  // o
          auto c = s.at(cs, t + 1), tc = s.at(tc_, t);
          c.array() =
              a.middleRows(H, H).array() * s.at(cs, t).array() + a.topRows(H).array() * a.middleRows(2 * H, H).array();
          tc.array() = c.array().tanh();
          s.at(hs, t + 1).array() = a.bottomRows(H).array() * tc.array();
        });
      }
    });
  }

  void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) override {
    const int H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix &hs = history(0), &cs = history(1);
    Matrix &dh_all = state_grad(0), &dc_all = state_grad(1);
    da_.resize(4 * H, TB);
    g_.resize(H, B);
    time_loop(B, [&](const StepColumns& cols) {
      const PackedMatrix Ut(U_.value, Trans::Yes, cols.n);
      for (int t = T - 1; t >= 0; --t) {
        auto g = cols.of(g_);
        g = cols.at(dy.data, t) + cols.of(dh_all);
        record_grad(t, cols, g);
        cols.in_slices(slice_width(), [&](const StepColumns& s) {
          auto a = s.at(gates_, t);
          const auto i = a.topRows(H).array(), f = a.middleRows(H, H).array(), gc = a.middleRows(2 * H, H).array(),
                     o = a.bottomRows(H).array();
          auto tc = s.at(tc_, t).array(), c_prev = s.at(cs, t).array(), gs = s.of(g_).array();
          auto dc = s.of(dc_all).array();
          auto da = s.at(da_, t);
          dc += gs * o * (1.0f - tc.square());
          da.topRows(H).array() = dc * gc * i * (1.0f - i);
          da.middleRows(H, H).array() = dc * c_prev * f * (1.0f - f);
          da.middleRows(2 * H, H).array() = dc * i * (1.0f - gc.square());
          da.bottomRows(H).array() = gs * tc * o * (1.0f - o);
          dc *= f;
        });
        gemm(cols.of(dh_all), Ut, cols.at(da_, t), Trans::No);
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
  Param W_, U_, b_;
  Matrix tc_;      // H x TB: tanh(c_t)
  Matrix gates_;   // 4H x TB: i, f, g, o after their nonlinearities
  Matrix da_, g_;  // backward: pre-activation gradients of all steps; total dL/dh_t of the step
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("lstm",
           "LSTM layer (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000), no peepholes, gates "
           "i,f,g,o stacked as in PyTorch: c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), output h_t at every step.");
  s.integer("units", "Hidden units H (size of h_t, c_t and of the output).").at_least(1);
  s.real("forget_bias", 1.0,
         "Initial value of b's forget-gate block (rows H..2H, after bias_init), so f starts near sigmoid(1) "
         "(Gers et al. 2000; Jozefowicz et al. 2015); 0 leaves the block to bias_init.");
  s.component("init", "initializer", "{kind: xavier_uniform}",
              "Initializer of W (4H x input, filled as a whole; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}",
              "Initializer of U (4H x H, filled as a whole: orthogonal gives orthonormal columns).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (4H).");
  registry.add_layer(
      std::move(s),
      [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
        if (c.input_size < 1)
          throw Error(c.name + ": lstm needs at least one input feature, got " + std::to_string(c.input_size));
        return std::make_unique<Lstm>(o, c);
      },
      [](const Options& o, int in) {  // memory estimate: W, U, b; per step what backward holds (kStoredPerUnit H)
        const long long H = o.integer("units");
        return LayerFootprint{static_cast<int>(H), 4.0 * H * (in + H + 1.0), kStoredPerUnit * H,
                              /*state_floats=*/2 * H};
      });
}
