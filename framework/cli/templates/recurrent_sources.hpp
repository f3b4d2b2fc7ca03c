#pragma once
// Source template of `unroll new-plugin layer NAME --recurrent`: one library with the same cell
// written both ways, so the author keeps the route that fits and deletes the other.
//   NAME     hand-written: a RecurrentLayer (<unroll/recurrent.hpp>) with its own backward;
//   NAME_eq  equations: a cell (<unroll/cell.hpp>) whose backward the host derives.
// Placeholders as in plugin_sources.hpp.
namespace unroll::cli::templates {

inline constexpr const char* kRecurrentLayer = R"TPL(// @NAME@: a recurrent cell plugin for unroll (skeleton written by
// `unroll new-plugin layer @NAME@ --recurrent`), the same cell written two ways:
//
//   @NAME@     by hand: a RecurrentLayer with its forward and backward through time;
//   @NAME@_eq  as equations: the host records the step and derives the backward.
//
// As written both are an Elman cell, h_t = tanh(W x_t + U h_{t-1} + b). Start from the equation
// cell (no gradient to derive; docs/writing-cells.md); hand-write a cell when it needs an
// operation the equations lack or a memory or speed trick of its own. `unroll check-plugin
// build/lib@NAME@.so` checks both: gradients through time against finite differences, the state
// carried across calls, set_state/state_at, and one thread against two.
#include <unroll/cell.hpp>
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>
#include <unroll/recurrent.hpp>

namespace {
using namespace unroll;

// ---- By hand -------------------------------------------------------------------------------
// RecurrentLayer owns the state contract (the carried state, reset_state, set_state, state_at,
// initial_state_grad, the grad-lag record) and the per-thread time loop: this class holds only
// the equations. history(0) is h: H x (T+1)B, block 0 the initial state, block t+1 h_t.
class @CLASS@ final : public RecurrentLayer {
 public:
  @CLASS@(const Options& o, const BuildContext& c)
      : RecurrentLayer(o.i("units"), {"h"}), H_(o.i("units")),
        W_(c.name + ".W", H_, c.input_size, c.input_size, H_, o.block("init")),
        U_(c.name + ".U", H_, H_, H_, H_, o.block("recurrent_init")),
        b_(c.name + ".b", H_, 1, c.input_size, H_, o.block("bias_init")) {}

  std::vector<Param*> params() override { return {&W_, &U_, &b_}; }

 protected:
  // Fill history(0) blocks 1..T. W x + b for all steps is one gemm before the time loop.
  void forward_steps(const Seq& x, int T, int B) override {
    Matrix& hs = history(0);
    auto a = hs.rightCols(static_cast<Eigen::Index>(T) * B);
    gemm(a, W_.value, Trans::No, x.data, Trans::No);
    a.colwise() += b_.value.col(0);
    time_loop(B, [&](const StepColumns& cols) {  // each thread: every step, its own samples
      for (int t = 0; t < T; ++t) {
        auto at = cols.at(hs, t + 1);
        gemm(at, U_.value, Trans::No, cols.at(hs, t), Trans::No, 1.0f, 1.0f);
        at.array() = at.array().tanh();
      }
    });
  }

  // Steps T-1..0: g = dL/dh_t (from above plus the carry), da = g * (1 - h^2), carry U^T da.
  // After step 0 the carry, state_grad(0), is dL/dh_{-1}. ACCUMULATE parameter gradients.
  void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) override {
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    Matrix& hs = history(0);
    Matrix& dh = state_grad(0);
    da_.resize(H_, TB);
    g_.resize(H_, B);
    time_loop(B, [&](const StepColumns& cols) {
      auto g = cols.of(g_), carry = cols.of(dh);
      for (int t = T - 1; t >= 0; --t) {
        g = cols.at(dy.data, t) + carry;
        record_grad(t, cols, g);
        cols.at(da_, t).array() = g.array() * (1.0f - cols.at(hs, t + 1).array().square());
        gemm(carry, U_.value, Trans::Yes, cols.at(da_, t), Trans::No);
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
  Matrix da_, g_;  // dL/da for all steps; dL/dh_t of the current step
};

}  // namespace

UNROLL_PLUGIN(registry) {
  // The hand-written cell.
  Schema s("@NAME@", "Elman cell by hand: h_t = tanh(W x_t + U h_{t-1} + b) (replace with your cell).");
  s.integer("units", "Hidden units H.").at_least(1);
  s.component("init", "initializer", "{kind: xavier_uniform}", "Initializer of W (H x input).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}", "Initializer of U (H x H).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b (H).");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    return std::make_unique<@CLASS@>(o, c);
  });

  // The same cell as equations: declare parameters (blocks of H rows, one per gate), write one
  // step. cell_schema() brings units, init, recurrent_init and bias_init.
  registry.add_layer(cell_schema("@NAME@_eq", "Elman cell as equations: h_t = tanh(W x_t + U h_{t-1} + b)."),
                     cell_factory([](CellDef& c, const Options&) {
    auto W = c.input_weights("W", {"h"});
    auto U = c.recurrent_weights("U", {"h"});
    auto b = c.bias("b", {"h"});
    // b.init("h", "{kind: constant, value: 1}");  // a per-gate initializer is one line
    auto h = c.state("h");
    c.next(h, tanh(W["h"] * c.input() + U["h"] * h + b["h"]));
  }));
}
)TPL";

}  // namespace unroll::cli::templates
