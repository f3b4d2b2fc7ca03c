// mgu: the minimal gated unit (Zhou et al. 2016), one gate doing the work of the GRU's two,
// written as equations: the host derives the backward pass through time (<unroll/cell.hpp>).
// This file is the model for a new cell: parameters with their per-gate initializers, then
// one step. docs/writing-cells.md explains what the host makes of it.
//   f   = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
//   h_t = (1 - f) * h_{t-1} + f * tanh(W_h x_t + U_h (f * h_{t-1}) + b_h)
#include <unroll/cell.hpp>
#include <unroll/plugin.hpp>

UNROLL_PLUGIN(registry) {
  using namespace unroll;
  Schema s = cell_schema("mgu",
                         "Minimal gated unit (Zhou et al. 2016): f = sigmoid(W_f x + U_f h + b_f), "
                         "h_t = (1-f)*h + f*tanh(W_h x + U_h (f*h) + b_h); output h_t at every step.");
  s.real("gate_bias", 1.0, "Initial b_f: a positive value starts f open, so early gradients pass through time.");
  auto mgu = [](CellDef& c, const Options& o) {
    auto W = c.input_weights("W", {"f", "h"});      // 2H x input
    auto U = c.recurrent_weights("U", {"f", "h"});  // 2H x H, each gate's block orthogonal
    auto b = c.bias("b", {"f", "h"});               // 2H
    b.init("f", "{kind: constant, value: " + std::to_string(o.real("gate_bias")) + "}");
    auto x = c.input();
    auto h = c.state("h");
    auto f = sigmoid(W["f"] * x + U["f"] * h + b["f"]);
    c.next(h, (1 - f) * h + f * tanh(W["h"] * x + U["h"] * (f * h) + b["h"]));
  };
  // The factory records the step once per layer; the footprint feeds the host's memory estimate.
  registry.add_layer(std::move(s), cell_factory(mgu), cell_footprint(mgu));
}
