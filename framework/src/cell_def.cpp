// Recording a cell's step: the expression graph behind <unroll/cell.hpp>'s operators, and the
// parameter declarations. Compiling and running the graph is cell_layer.cpp.
#include <algorithm>

#include "cell_graph.hpp"
#include "unroll/error.hpp"
#include "unroll/names.hpp"

namespace unroll {

namespace {

CellDef::Impl& impl_of(CellExpr e, const char* what) {
  if (!e.valid())
    throw Error(std::string("cell: ") + what + " of an empty expression (declare it through the CellDef first)");
  return e.def()->impl();
}

CellExpr add_node(CellExpr a, CellNode n) {
  CellDef::Impl& g = impl_of(a, "an operation");
  g.nodes.push_back(n);
  return CellExpr(a.def(), static_cast<int>(g.nodes.size()) - 1);
}

CellExpr binary(CellOp op, CellExpr a, CellExpr b) {
  if (!b.valid() || a.def() != b.def()) throw Error("cell: an operation mixes expressions of two different cells");
  CellNode n;
  n.op = op;
  n.a = a.id();
  n.b = b.id();
  return add_node(a, n);
}

CellExpr unary(CellOp op, CellExpr a, float scale = 1, float shift = 0) {
  CellNode n;
  n.op = op;
  n.a = a.id();
  n.scale = scale;
  n.shift = shift;
  return add_node(a, n);
}

// An affine node of an affine node folds into one: 1 - (0.5 * a) is one node.
CellExpr affine(CellExpr a, float scale, float shift) {
  const CellDef::Impl& g = impl_of(a, "an operation");
  const CellNode& n = g.nodes[static_cast<size_t>(a.id())];
  if (n.op == CellOp::Affine)
    return unary(CellOp::Affine, CellExpr(a.def(), n.a), scale * n.scale, scale * n.shift + shift);
  return unary(CellOp::Affine, a, scale, shift);
}

Node parse_init(const std::string& yaml, const std::string& where) { return parse_yaml(yaml, where); }

}  // namespace

CellExpr operator+(CellExpr a, CellExpr b) { return binary(CellOp::Add, a, b); }
CellExpr operator-(CellExpr a, CellExpr b) { return binary(CellOp::Sub, a, b); }
CellExpr operator*(CellExpr a, CellExpr b) { return binary(CellOp::Mul, a, b); }
CellExpr operator-(CellExpr a) { return affine(a, -1, 0); }
CellExpr operator+(CellExpr a, float s) { return affine(a, 1, s); }
CellExpr operator+(float s, CellExpr a) { return affine(a, 1, s); }
CellExpr operator-(CellExpr a, float s) { return affine(a, 1, -s); }
CellExpr operator-(float s, CellExpr a) { return affine(a, -1, s); }
CellExpr operator*(CellExpr a, float s) { return affine(a, s, 0); }
CellExpr operator*(float s, CellExpr a) { return affine(a, s, 0); }
CellExpr sigmoid(CellExpr a) { return unary(CellOp::Sigmoid, a); }
CellExpr tanh(CellExpr a) { return unary(CellOp::Tanh, a); }
CellExpr relu(CellExpr a) { return unary(CellOp::Relu, a); }

CellExpr operator*(CellBlock w, CellExpr v) {
  CellDef::Impl& g = w.def()->impl();
  if (!v.valid() || v.def() != w.def())
    throw Error("cell: a product of a parameter with an expression of another cell");
  const CellParamRec& p = g.params[static_cast<size_t>(w.param())];
  const bool is_x = g.nodes[static_cast<size_t>(v.id())].op == CellOp::Input;
  if (p.type == CellParamType::Bias)
    throw Error("cell " + g.layer + ": bias '" + p.name +
                "' multiplies a value; write it as a term (b + ...), or "
                "declare the parameter as weights");
  if (p.type == CellParamType::Input && !is_x)
    throw Error("cell " + g.layer + ": input weights '" + p.name +
                "' multiply x only; use recurrent weights for "
                "products with states and expressions");
  if (p.type == CellParamType::Recurrent && is_x)
    throw Error("cell " + g.layer + ": recurrent weights '" + p.name +
                "' multiply states and expressions, not x; "
                "use input weights for x");
  CellNode n;
  n.op = is_x ? CellOp::ProdX : CellOp::ProdH;
  n.a = v.id();
  n.param = w.param();
  n.block = w.block();
  g.nodes.push_back(n);
  return CellExpr(w.def(), static_cast<int>(g.nodes.size()) - 1);
}

CellBlock::operator CellExpr() const {
  CellDef::Impl& g = def_->impl();
  const CellParamRec& p = g.params[static_cast<size_t>(param_)];
  if (p.type != CellParamType::Bias)
    throw Error("cell " + g.layer + ": weights '" + p.name + "' used as a value; multiply them with x or a state (" +
                p.name + "[\"" + p.blocks[static_cast<size_t>(block_)] + "\"] * h)");
  CellNode n;
  n.op = CellOp::Bias;
  n.param = param_;
  n.block = block_;
  g.nodes.push_back(n);
  return CellExpr(def_, static_cast<int>(g.nodes.size()) - 1);
}

CellBlock CellParam::operator[](const std::string& block) const {
  const CellParamRec& p = def_->impl().params[static_cast<size_t>(param_)];
  auto it = std::find(p.blocks.begin(), p.blocks.end(), block);
  if (it == p.blocks.end()) {
    const std::string hint = nearest(block, p.blocks);
    std::string list;
    for (const auto& b : p.blocks) list += (list.empty() ? "" : ", ") + b;
    throw Error("cell " + def_->impl().layer + ": parameter '" + p.name + "' has no block '" + block + "'" +
                (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; its blocks: " + list);
  }
  return CellBlock(def_, param_, static_cast<int>(it - p.blocks.begin()));
}

CellParam& CellParam::init(const std::string& yaml) {
  return init(parse_init(yaml, "init of " + def_->impl().params[static_cast<size_t>(param_)].name));
}
CellParam& CellParam::init(const Node& n) {
  CellParamRec& p = def_->impl().params[static_cast<size_t>(param_)];
  p.init = n;
  p.default_block_init = false;  // a whole-parameter init replaces the per-block default
  return *this;
}
CellParam& CellParam::init(const std::string& block, const std::string& yaml) {
  return init(block,
              parse_init(yaml, "init of " + def_->impl().params[static_cast<size_t>(param_)].name + "[" + block + "]"));
}
CellParam& CellParam::init(const std::string& block, const Node& n) {
  (void)(*this)[block];  // an unknown block is an error naming the nearest one
  CellParamRec& p = def_->impl().params[static_cast<size_t>(param_)];
  p.block_inits.emplace_back(block, n);
  return *this;
}

CellDef::CellDef(std::string layer_name, int units, int input_size, const Options& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->layer = std::move(layer_name);
  impl_->H = units;
  impl_->I = input_size;
  impl_->options = options;
}
CellDef::~CellDef() = default;

int CellDef::units() const { return impl_->H; }
int CellDef::input_size() const { return impl_->I; }
const std::string& CellDef::layer_name() const { return impl_->layer; }

CellExpr CellDef::input() {
  if (impl_->input_node < 0) {
    CellNode n;
    n.op = CellOp::Input;
    impl_->nodes.push_back(n);
    impl_->input_node = static_cast<int>(impl_->nodes.size()) - 1;
  }
  return CellExpr(this, impl_->input_node);
}

CellExpr CellDef::state(const std::string& name) {
  auto& s = impl_->states;
  for (size_t k = 0; k < s.size(); ++k)
    if (s[k].name == name) return CellExpr(this, s[k].prev);
  CellNode n;
  n.op = CellOp::State;
  n.state = static_cast<int>(s.size());
  impl_->nodes.push_back(n);
  s.push_back({name, static_cast<int>(impl_->nodes.size()) - 1, -1});
  return CellExpr(this, s.back().prev);
}

void CellDef::next(CellExpr state, CellExpr value) {
  if (!state.valid() || state.def() != this || impl_->nodes[static_cast<size_t>(state.id())].op != CellOp::State)
    throw Error("cell " + impl_->layer + ": next() takes a state from state(\"name\") as its first argument");
  next(impl_->states[static_cast<size_t>(impl_->nodes[static_cast<size_t>(state.id())].state)].name, value);
}

void CellDef::next(const std::string& name, CellExpr value) {
  if (!value.valid() || value.def() != this)
    throw Error("cell " + impl_->layer + ": next('" + name + "') of an expression of another cell");
  for (auto& s : impl_->states)
    if (s.name == name) {
      if (s.next >= 0) throw Error("cell " + impl_->layer + ": state '" + name + "' is given a new value twice");
      s.next = value.id();
      return;
    }
  throw Error("cell " + impl_->layer + ": next('" + name + "') of an undeclared state; declare it with state(\"" +
              name + "\")");
}

namespace {
CellParam declare(CellDef& d, CellDef::Impl& g, const std::string& name, const std::vector<std::string>& blocks,
                  CellParamType type) {
  for (const auto& p : g.params)
    if (p.name == name) throw Error("cell " + g.layer + ": parameter '" + name + "' declared twice");
  if (blocks.empty()) throw Error("cell " + g.layer + ": parameter '" + name + "' needs at least one block");
  CellParamRec p;
  p.name = name;
  p.type = type;
  p.blocks = blocks;
  switch (type) {
    case CellParamType::Input: p.init = g.options.block("init"); break;
    case CellParamType::Recurrent:
      p.init = g.options.block("recurrent_init");
      p.default_block_init = true;
      break;
    case CellParamType::Bias: p.init = g.options.block("bias_init"); break;
  }
  g.params.push_back(std::move(p));
  return CellParam(&d, static_cast<int>(g.params.size()) - 1);
}
}  // namespace

CellParam CellDef::input_weights(const std::string& name, const std::vector<std::string>& blocks) {
  return declare(*this, *impl_, name, blocks, CellParamType::Input);
}
CellParam CellDef::recurrent_weights(const std::string& name, const std::vector<std::string>& blocks) {
  return declare(*this, *impl_, name, blocks, CellParamType::Recurrent);
}
CellParam CellDef::bias(const std::string& name, const std::vector<std::string>& blocks) {
  return declare(*this, *impl_, name, blocks, CellParamType::Bias);
}

Schema cell_schema(const std::string& name, const std::string& summary) {
  Schema s(name, summary);
  s.integer("units", "Hidden units H (rows of every state and of the output).").at_least(1);
  s.component("init", "initializer", "{kind: xavier_uniform}",
              "Initializer of each input-weight matrix (blocks x H rows by input; fan_in = input, fan_out = H).");
  s.component("recurrent_init", "initializer", "{kind: orthogonal}",
              "Initializer of EACH H x H block of each recurrent-weight matrix (a gate's matrix is orthogonal).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of each bias.");
  return s;
}

Factory<Layer> cell_factory(std::function<void(CellDef&, const Options&)> define) {
  return [define = std::move(define)](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    if (c.input_size < 1)
      throw Error(c.name + ": a recurrent cell needs at least one input feature, got " + std::to_string(c.input_size));
    CellDef def(c.name, o.i("units"), c.input_size, o);
    define(def, o);
    return def.build();
  };
}

}  // namespace unroll
