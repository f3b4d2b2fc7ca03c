// bench_elman: an Elman cell, h_t = tanh(W x_t + U h_{t-1} + b) from h_{-1} = 0, written as an
// out-of-tree plugin the way a researcher would (tools/bench compares it with the same cell
// written as a Python loop in PyTorch). It has no carried state, so it is a plain layer mapping
// the whole sequence; the built-in `elman` adds truncated-BPTT state handling on top.
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class BenchElman final : public Layer {
 public:
  BenchElman(const Options& o, const BuildContext& c)
      : H_(o.i("units")),
        W_(c.name + ".W", H_, c.input_size, c.input_size, H_, o.block("init")),
        U_(c.name + ".U", H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", H_, 1, c.input_size, H_, o.block("bias_init")) {}
  int output_size() const override { return H_; }
  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

 protected:
  // hs_ holds h_{-1} = 0 then h_0 .. h_{T-1}; W x + b for all steps is one GEMM.
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    const int T = x.steps, B = x.batch;
    hs_.resize(H_, static_cast<Eigen::Index>(T + 1) * B);
    hs_.leftCols(B).setZero();
    auto a = hs_.rightCols(static_cast<Eigen::Index>(T) * B);
    gemm(a, W_.value, Trans::No, x.data, Trans::No);
    a.colwise() += b_.value.col(0);
    for (int t = 0; t < T; ++t) {
      auto at = hs_.middleCols(static_cast<Eigen::Index>(t + 1) * B, B);
      gemm(at, U_.value, Trans::No, hs_.middleCols(static_cast<Eigen::Index>(t) * B, B), Trans::No, 1.0f, 1.0f);
      at.array() = at.array().tanh();
    }
    y.resize(H_, T, B);
    y.data = a;
    if (mode == Mode::Train) x_ = &x.data;  // alive until backward (layer.hpp)
  }

  // da_t = (dy_t + U^T da_{t+1}) * (1 - h_t^2); then dW, dU, db, dx are one GEMM each.
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    const int T = dy.steps, B = dy.batch;
    da_.resize(H_, static_cast<Eigen::Index>(T) * B);
    dh_.setZero(H_, B);
    for (int t = T - 1; t >= 0; --t) {
      auto h = hs_.middleCols(static_cast<Eigen::Index>(t + 1) * B, B);
      auto da = da_.middleCols(static_cast<Eigen::Index>(t) * B, B);
      da.array() = (dy.step(t) + dh_).array() * (1.0f - h.array().square());
      if (t > 0) gemm(dh_, U_.value, Trans::Yes, da, Trans::No);
    }
    gemm(W_.grad, da_, Trans::No, *x_, Trans::Yes, 1.0f, 1.0f);
    gemm(U_.grad, da_, Trans::No, hs_.leftCols(da_.cols()), Trans::Yes, 1.0f, 1.0f);
    add_row_sums(b_.grad.col(0), da_);
    if (need_dx) {
      dx.resize(input_size(), T, B);
      gemm(dx.data, W_.value, Trans::Yes, da_, Trans::No);
    }
  }

 private:
  int H_;
  Param W_, U_, b_;
  Matrix hs_, da_, dh_;
  const Matrix* x_ = nullptr;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("bench_elman", "Elman cell h_t = tanh(W x_t + U h_{t-1} + b) from h = 0 (out-of-tree benchmark plugin).");
  s.integer("units", "Hidden units H.").at_least(1);
  s.component("init", "initializer", "{kind: xavier_uniform}", "Initializer of W (H x input).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}", "Initializer of U (H x H).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b.");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    return std::make_unique<BenchElman>(o, c);
  });
}
