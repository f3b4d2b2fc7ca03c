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
// The state handling and the per-thread time loop come from RecurrentLayer (recurrent.hpp);
// this file holds the equations:
//   forward, step t:  gates_ block t holds r, z, n; hn_ block t holds U_n h_{t-1} + b_hn; history
//                     block t+1 holds h_t.
//   backward, step t: takes g = dy_t + dh (from above plus the carry from step t+1), stores
//                     da_t (gradient w.r.t. W x_t + b) and dp_t (w.r.t. U h_{t-1} + [0; 0; b_hn]),
//                     and leaves dh = U^T dp_t + z * g = dL/dh_{t-1} for step t-1. After step 0
//                     that is initial_state_grad(); nothing goes further back.
// W x + b for all T steps is ONE gemm before the time loop; dW, dU, db and dx are one gemm each
// after it. Only U h_{t-1} and U^T dp_t run per step, with U packed once per pass (PackedMatrix).
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>
#include <unroll/recurrent.hpp>

namespace {
using namespace unroll;

// Floats per step, sample and unit that backward needs: h, U_n h + b_hn, the three gates, and the
// gradients w.r.t. W x + b (3H) and U h + b_hn (3H). Both the segment sizing (stored_floats_per_step)
// and the memory estimate (the footprint) read it, so they cannot disagree.
constexpr int kStoredPerUnit = 11;

template <class Block>
void sigmoid(Block&& a) {
  a.array() = (1.0f + (-a.array()).exp()).inverse();
}

class Gru final : public RecurrentLayer {
 public:
  Gru(const Options& o, const BuildContext& c)
      : RecurrentLayer(o.i("units"), {"h"}),
        H_(o.i("units")),
        W_(c.name + ".W", 3 * H_, c.input_size, /*fan_in=*/c.input_size, /*fan_out=*/H_, o.block("init")),
        U_(c.name + ".U", 3 * H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", 4 * H_, 1, c.input_size, H_, o.block("bias_init")) {}

  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

 protected:
  double stored_floats_per_step() const override { return double{kStoredPerUnit} * H_; }

  void forward_steps(const Seq& x, int T, int B) override {
    const int H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix& hs = history(0);
    hn_.resize(H, TB);
    gates_.resize(3 * H, TB);
    p_.resize(3 * H, B);
    fill_columns(gates_, b_.value.col(0).head(3 * H));  // b first, then W x added by the gemm: one pass fewer
    gemm(gates_, W_.value, Trans::No, x.data, Trans::No, 1.0f, 1.0f);
    const auto b_hn = b_.value.col(0).tail(H);
    time_loop(B, [&](const StepColumns& cols) {
      auto p = cols.of(p_);
      const PackedMatrix U(U_.value, Trans::No, cols.n);  // packed once, not at every step
      for (int t = 0; t < T; ++t) {
        gemm(p, U, cols.at(hs, t), Trans::No);
        cols.in_slices(slice_width(), [&](const StepColumns& s) {
          auto a = s.at(gates_, t), hn = s.at(hn_, t), h_prev = s.at(hs, t), ps = s.of(p_);
          a.topRows(2 * H) += ps.topRows(2 * H);
          sigmoid(a.topRows(2 * H));  // r, z
          hn = ps.bottomRows(H);
          hn.colwise() += b_hn;
          auto nt = a.bottomRows(H);
          nt.array() = (nt.array() + a.topRows(H).array() * hn.array()).tanh();
          s.at(hs, t + 1).array() = nt.array() + a.middleRows(H, H).array() * (h_prev.array() - nt.array());
        });
      }
    });
  }

  void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) override {
    const int H = H_;
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix& hs = history(0);
    Matrix& dh_all = state_grad(0);
    da_.resize(3 * H, TB);
    dp_.resize(3 * H, TB);
    g_.resize(H, B);
    time_loop(B, [&](const StepColumns& cols) {
      auto g = cols.of(g_), dh = cols.of(dh_all);
      const PackedMatrix Ut(U_.value, Trans::Yes, cols.n);
      for (int t = T - 1; t >= 0; --t) {
        g = cols.at(dy.data, t) + dh;
        record_grad(t, cols, g);
        cols.in_slices(slice_width(), [&](const StepColumns& s) {
          auto a = s.at(gates_, t);
          const auto r = a.topRows(H).array(), z = a.middleRows(H, H).array(), nt = a.bottomRows(H).array();
          auto hn = s.at(hn_, t).array(), h_prev = s.at(hs, t).array(), gs = s.of(g_).array();
          auto da = s.at(da_, t), dp = s.at(dp_, t);
          da.bottomRows(H).array() = gs * (1.0f - z) * (1.0f - nt.square());
          da.middleRows(H, H).array() = gs * (h_prev - nt) * z * (1.0f - z);
          da.topRows(H).array() = da.bottomRows(H).array() * hn * r * (1.0f - r);
          dp.topRows(2 * H) = da.topRows(2 * H);
          dp.bottomRows(H).array() = da.bottomRows(H).array() * r;
        });
        gemm(dh, Ut, cols.at(dp_, t), Trans::No);
        dh.array() += g.array() * cols.at(gates_, t).middleRows(H, H).array();
      }
    });
    gemm(W_.grad, da_, Trans::No, input(), Trans::Yes, 1.0f, 1.0f);
    gemm(U_.grad, dp_, Trans::No, hs.leftCols(TB), Trans::Yes, 1.0f, 1.0f);
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
  Matrix hn_;           // H x TB: U_n h_{t-1} + b_hn
  Matrix gates_;        // 3H x TB: r, z, n after their nonlinearities
  Matrix p_;            // 3H x B: U h_{t-1} of the current step
  Matrix da_, dp_, g_;  // backward: gradients w.r.t. W x + b and U h + b_hn; total dL/dh_t
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
  registry.add_layer(
      std::move(s),
      [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
        if (c.input_size < 1)
          throw Error(c.name + ": gru needs at least one input feature, got " + std::to_string(c.input_size));
        return std::make_unique<Gru>(o, c);
      },
      [](const Options& o, int in) {  // memory estimate: W, U, b; per step what backward holds (kStoredPerUnit H)
        const long long H = o.integer("units");
        return LayerFootprint{static_cast<int>(H), 3.0 * H * (in + H) + 4.0 * H, kStoredPerUnit * H,
                              /*state_floats=*/H};
      });
}
