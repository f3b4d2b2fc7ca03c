#pragma once
// Recurrent cells from their equations. A cell plugin declares its parameters and writes ONE
// step: the new state from x_t and the previous state. The host records that step once as a
// small expression graph, derives its backward pass by reverse-mode differentiation of the
// graph, and runs forward and backward through time on whole batches, as a RecurrentLayer
// (recurrent.hpp) with the full state contract: truncated BPTT, carried state, state_at,
// initial_state_grad, grad-lag norms, any thread count with the same numbers.
//
//   UNROLL_PLUGIN(registry) {
//     registry.add_layer(cell_schema("mgu", "Minimal gated unit (Zhou et al. 2016)."),
//                        cell_factory([](CellDef& c, const Options&) {
//       auto W = c.input_weights("W", {"f", "h"});      // 2H x input, a block per gate
//       auto U = c.recurrent_weights("U", {"f", "h"});  // 2H x H
//       auto b = c.bias("b", {"f", "h"});               // 2H
//       b.init("f", "{kind: constant, value: 1}");      // per-gate init: one line
//       auto x = c.input();
//       auto h = c.state("h");                          // the first state is the output
//       auto f = sigmoid(W["f"] * x + U["f"] * h + b["f"]);
//       c.next(h, (1 - f) * h + f * tanh(W["h"] * x + U["h"] * (f * h) + b["h"]));
//     }));
//   }
//
// What the host makes of it (docs/writing-cells.md has the details and the costs):
//   - every product of an input weight with x_t is ONE gemm over all T steps before the loop;
//   - products of a recurrent weight with the same operand run as one gemm per step on the
//     stacked rows of their blocks (U_r h, U_z h, U_n h: one 3H x H gemm);
//   - element-wise nodes between two products run as one pass over cache-sized column blocks;
//   - the backward keeps only what it needs: the outputs of sigmoid/tanh/relu, the operands of
//     element-wise products and of recurrent products; 1 - a and other affine nodes are
//     recomputed from their input when a product needs them.
// Every value is `units` rows by batch columns; x_t appears only inside `W * x`.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "unroll/registry.hpp"

namespace unroll {

class CellDef;

/// A value of the step (units x batch): a state, a product, or an element-wise expression.
class CellExpr {
 public:
  CellExpr() = default;
  CellExpr(CellDef* def, int id) : def_(def), id_(id) {}
  CellDef* def() const { return def_; }
  int id() const { return id_; }
  bool valid() const { return def_ != nullptr; }

 private:
  CellDef* def_ = nullptr;
  int id_ = -1;
};

/// One block (gate) of a declared parameter: `W["f"] * x` is a product, `b["f"]` a bias term.
class CellBlock {
 public:
  CellBlock(CellDef* def, int param, int block) : def_(def), param_(param), block_(block) {}
  /// The bias block as a term of an expression (bias parameters only).
  operator CellExpr() const;  // NOLINT: b["f"] reads as a value in the equations
  CellDef* def() const { return def_; }
  int param() const { return param_; }
  int block() const { return block_; }

 private:
  CellDef* def_;
  int param_, block_;
};

/// A declared parameter: blocks of `units` rows stacked in the order declared.
class CellParam {
 public:
  CellParam(CellDef* def, int param) : def_(def), param_(param) {}
  /// The block named `block` (throws naming the nearest block for an unknown name).
  CellBlock operator[](const std::string& block) const;
  /// Initializer of the whole parameter, as a YAML flow mapping ("{kind: orthogonal}").
  CellParam& init(const std::string& yaml);
  /// Initializer of one block, run after the whole parameter's: "{kind: constant, value: 1}".
  CellParam& init(const std::string& block, const std::string& yaml);
  /// The same, from an already parsed (and located) config node.
  CellParam& init(const std::string& block, const Node& init);
  CellParam& init(const Node& init);

 private:
  CellDef* def_;
  int param_;
};

// The operations a step is written with. Scalars combine with a value: 1 - f, 0.5 * h, h + 1.
CellExpr operator+(CellExpr a, CellExpr b);
CellExpr operator-(CellExpr a, CellExpr b);
CellExpr operator*(CellExpr a, CellExpr b);  // element-wise
CellExpr operator-(CellExpr a);
CellExpr operator+(CellExpr a, float s);
CellExpr operator+(float s, CellExpr a);
CellExpr operator-(CellExpr a, float s);
CellExpr operator-(float s, CellExpr a);
CellExpr operator*(CellExpr a, float s);
CellExpr operator*(float s, CellExpr a);
/// A parameter block times a value: W["f"] * x (hoisted over all steps) or U["f"] * h (per step).
CellExpr operator*(CellBlock w, CellExpr v);
CellExpr sigmoid(CellExpr a);
CellExpr tanh(CellExpr a);
CellExpr relu(CellExpr a);

/// The definition of one cell: its parameters, states and step, recorded once per layer.
class CellDef {
 public:
  CellDef(std::string layer_name, int units, int input_size, const Options& options);
  ~CellDef();
  CellDef(const CellDef&) = delete;
  CellDef& operator=(const CellDef&) = delete;

  int units() const;
  int input_size() const;
  const std::string& layer_name() const;

  /// x_t (input_size x batch); usable only as the right operand of an input-weight product.
  CellExpr input();
  /// The previous value of a state variable, declared on first use; the first declared state
  /// is the layer's output.
  CellExpr state(const std::string& name);
  /// The new value of a state variable (once per state).
  void next(CellExpr state, CellExpr value);
  void next(const std::string& state, CellExpr value);

  /// units*blocks x input_size, named LAYER.NAME; whole init: the `init` option (default
  /// xavier_uniform with fan_in = input, fan_out = units).
  CellParam input_weights(const std::string& name, const std::vector<std::string>& blocks);
  /// units*blocks x units; init: `recurrent_init` (default orthogonal) applied to EACH block,
  /// so every gate's matrix is orthogonal.
  CellParam recurrent_weights(const std::string& name, const std::vector<std::string>& blocks);
  /// units*blocks x 1; init: `bias_init` (default constant 0).
  CellParam bias(const std::string& name, const std::vector<std::string>& blocks);

  /// The compiled layer (called by cell_factory after the definition function).
  std::unique_ptr<Layer> build();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

/// A schema with the options every equation cell takes: units, init, recurrent_init, bias_init.
/// Add the cell's own options to it.
Schema cell_schema(const std::string& name, const std::string& summary);

/// A layer factory that records `define` once per layer and compiles it.
Factory<Layer> cell_factory(std::function<void(CellDef&, const Options&)> define);

/// The memory estimate of the cell `define` makes (registry.hpp, LayerFootprint): its
/// parameters, and the floats per step and sample its forward keeps for the backward (states,
/// hoisted products, kept values, product gradients). Pass it beside cell_factory(define).
FootprintFn cell_footprint(std::function<void(CellDef&, const Options&)> define);

/// Define a cell from text equations (the `cell` layer of experiment files): `params` maps each
/// parameter name to {type: input|recurrent|bias, init: ..., blocks: {f: {init: ...}}} (blocks
/// also come from use: W_f means block f of W), `step` maps each state to its equation. Errors
/// name the file:line:column of the equation and the position in it.
void define_cell_from_text(CellDef& c, const Node& params, const Node& step);

}  // namespace unroll
