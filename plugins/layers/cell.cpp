// cell: a recurrent cell written as equations in the experiment file, with its backward pass
// derived by the host (<unroll/cell.hpp>, docs/writing-cells.md). A minimal gated unit:
//
//   - kind: cell
//     units: 64
//     params: {W: , U: , b: {blocks: {f: {kind: constant, value: 1}}}}
//     step:
//       f: "sigmoid(W_f x + U_f h + b_f)"
//       h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"
//
// The defaults make an Elman cell, h = tanh(W x + U h + b).
#include <unroll/cell.hpp>
#include <unroll/plugin.hpp>

UNROLL_PLUGIN(registry) {
  using namespace unroll;
  Schema s = cell_schema("cell",
                         "Recurrent cell from equations: `step` maps names to equations run in order (a name read "
                         "before its own equation is a state; the output is h, else the first state), `params` "
                         "lists the parameters (W_f = block f of W) with optional {init, blocks: {f: init}}.");
  s.mapping("params", "{W: , U: , b: }",
            "Parameters by name: nothing, or {init: INITIALIZER, blocks: {BLOCK: INITIALIZER}}. Their kind comes from "
            "use: W x is an input weight, U h (or U of any expression) a recurrent weight, a lone term a bias.");
  s.mapping("step", "{h: \"tanh(W x + U h + b)\"}",
            "Equations by name, in order; + - * ( ), numbers, sigmoid, tanh, relu, products P v and P_block v.");
  auto from_text = [](CellDef& c, const Options& o) {
    define_cell_from_text(c, o.node().at("params"), o.node().at("step"));
  };
  registry.add_layer(std::move(s), cell_factory(from_text), cell_footprint(from_text));
}
