// An equation cell compiled to a RecurrentLayer: the recorded step (cell_graph.hpp) is planned
// once — which products are hoisted, which run per step, which values the backward keeps — and
// then run forward and backward through time on whole batches.
//
// The plan:
//   level    every node gets the number of per-step products on its longest path from the step's
//            inputs; the step runs level by level: the recurrent products of level k (one gemm
//            per (parameter, operand) group over the stacked rows of its blocks), then the
//            element-wise nodes of level k in ONE pass over cache-sized column blocks.
//   storage  a node's value lives in the state history (a state's new value), in a T-step buffer
//            (values the backward reads: sigmoid/tanh/relu outputs, element-wise product and
//            recurrent product operands), is recomputed in the backward (an affine node such as
//            1 - z whose input is kept), or in a one-step scratch (the rest).
//   gradient reverse-mode over the same levels, last to first: element-wise nodes in reverse
//            order, then each group's operand gradient U^T dP as one gemm. Gradients of hoisted
//            products and of recurrent products are kept for all steps, so dW, dU and dx are one
//            gemm each after the loop; bias gradients add up per sample, then over the batch,
//            so no sum depends on how the batch is split over threads.
#include <algorithm>
#include <map>

#include "cell_graph.hpp"
#include "unroll/error.hpp"
#include "unroll/linalg.hpp"
#include "unroll/recurrent.hpp"

namespace unroll {

namespace {

using ArrayBlock = Eigen::Map<Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
using MatrixBlock = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;

// Where a node's value or gradient lives: column j of step t is at base + (t * step + j) * ld.
// step is B for buffers that keep every step and 0 for one-step scratch (and bias values).
struct Loc {
  float* base = nullptr;
  Eigen::Index ld = 0, step = 0;
  float* at(int t, Eigen::Index j) const { return base + (static_cast<Eigen::Index>(t) * step + j) * ld; }
};

enum class Store { Leaf, History, Steps, Recompute, Scratch };

bool elementwise(CellOp op) { return op >= CellOp::Add; }

// Recurrent products sharing a parameter and an operand: one gemm per step on the stacked rows
// [b0, b1] of their blocks.
struct Group {
  int param = -1, operand = -1, b0 = 0, b1 = 0, level = 0;
  bool keep = false;  // values kept for all steps (the backward reads them)
  Matrix value, grad;
};

// Elements per block of the fused element-wise passes: all nodes of a level on one block stay
// in L1.
constexpr Eigen::Index kChunk = 2048;

class EquationCell final : public RecurrentLayer {
 public:
  explicit EquationCell(const CellDef::Impl& g)
      : RecurrentLayer(g.H, state_names(g)), H_(g.H), layer_(g.layer), nodes_(g.nodes), states_(g.states) {
    make_params(g);
    plan();
  }

  /// Floats per step and sample kept from the forward to the backward (the memory estimate).
  long long kept_per_column() const {
    long long n = static_cast<long long>(states_.size()) * H_;  // the state history
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (live_[k] && store_[k] == Store::Steps) n += H_;
    for (const auto& [p, unused] : xw_) n += params_[static_cast<size_t>(p)].value.rows() * (xw_grad_.count(p) ? 2 : 1);
    for (const Group& gr : groups_) n += (gr.b1 - gr.b0 + 1) * H_ * (gr.keep ? 2 : 1);
    return n;
  }

  std::vector<Param*> params() override {
    std::vector<Param*> out;
    for (Param& p : params_) out.push_back(&p);
    return out;
  }

 protected:
  void forward_steps(const Seq& x, int T, int B) override {
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    for (auto& [p, xw] : xw_) {
      xw.resize(params_[static_cast<size_t>(p)].value.rows(), TB);
      gemm(xw, params_[static_cast<size_t>(p)].value, Trans::No, x.data, Trans::No);  // every step at once
    }
    for (Group& gr : groups_) gr.value.resize((gr.b1 - gr.b0 + 1) * H_, gr.keep ? TB : B);
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!live_[n]) continue;
      if (store_[n] == Store::Steps) own_value_[n].resize(H_, TB);
      if (store_[n] == Store::Scratch || store_[n] == Store::Recompute) own_value_[n].resize(H_, B);
      if (nodes_[n].op == CellOp::Bias) {
        own_value_[n].resize(H_, B);
        own_value_[n].colwise() =
            params_[static_cast<size_t>(nodes_[n].param)].value.col(0).segment(nodes_[n].block * H_, H_);
      }
    }
    locate(B);
    time_loop(B, [&](const StepColumns& cols) {
      const std::vector<PackedMatrix> U = packed_groups(Trans::No, cols.n);  // once, not at every step
      for (int t = 0; t < T; ++t)
        for (int k = 0; k <= max_level_; ++k) {
          for (int gi : groups_at_[static_cast<size_t>(k)])
            product(groups_[static_cast<size_t>(gi)], U[static_cast<size_t>(gi)], t, cols);
          forward_pass(stage_[static_cast<size_t>(k)], t, cols);
        }
    });
  }

  void backward_steps(const Seq& dy, Seq& dx, bool need_dx, int T, int B) override {
    const Eigen::Index TB = static_cast<Eigen::Index>(T) * B;
    for (auto& [p, g] : xw_grad_) g.resize(params_[static_cast<size_t>(p)].value.rows(), TB);
    for (Group& gr : groups_) gr.grad.resize((gr.b1 - gr.b0 + 1) * H_, TB);
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!live_[n]) continue;
      if (elementwise(nodes_[n].op)) own_grad_[n].resize(H_, B);
      if (nodes_[n].op == CellOp::Bias) own_grad_[n].setZero(H_, B);  // summed over steps, per sample
    }
    locate(B);
    std::vector<int> next_of(states_.size());
    for (size_t s = 0; s < states_.size(); ++s) next_of[s] = states_[s].next;
    time_loop(B, [&](const StepColumns& cols) {
      const Eigen::Index c0 = cols.c0, n = cols.n;
      const std::vector<PackedMatrix> Ut = packed_groups(Trans::Yes, n);
      for (int t = T - 1; t >= 0; --t) {
        for (size_t k = 0; k < nodes_.size(); ++k)
          if (live_[k] && elementwise(nodes_[k].op)) block(grad_[k], t, c0, n).setZero();
        for (auto& [p, xw] : xw_) {  // every row, blocks nobody reads included: dW reads them all
          Matrix& g = xw_grad_.count(p) ? xw_grad_.at(p) : xw;
          g.middleCols(static_cast<Eigen::Index>(t) * B + c0, n).setZero();
        }
        for (Group& gr : groups_) gr.grad.middleCols(static_cast<Eigen::Index>(t) * B + c0, n).setZero();
        // The new states' gradients: from above (the output state) plus the carry from step t+1.
        for (size_t s = 0; s < states_.size(); ++s) {
          auto carry = cols.of(state_grad(s));
          auto g = block(grad_[static_cast<size_t>(next_of[s])], t, c0, n);
          if (s == 0) {
            g = cols.at(dy.data, t) + carry;
            record_grad(t, cols, g);
          } else {
            g = carry;
          }
          carry.setZero();
        }
        forward_pass(recompute_, t, cols);
        for (int k = max_level_; k >= 0; --k) {
          backward_pass(stage_[static_cast<size_t>(k)], t, cols);
          for (int gi : groups_at_[static_cast<size_t>(k)]) {
            Group& gr = groups_[static_cast<size_t>(gi)];
            gemm(block(grad_[static_cast<size_t>(gr.operand)], t, c0, n), Ut[static_cast<size_t>(gi)],
                 gr.grad.middleCols(static_cast<Eigen::Index>(t) * B + c0, n), Trans::No, 1.0f, 1.0f);
          }
        }
      }
    });
    // Parameter gradients and dx: one gemm each over all steps.
    bool first_dx = true;
    if (need_dx) dx.resize(input_size(), T, B);
    for (const auto& [p, xw] : xw_) {
      Param& W = params_[static_cast<size_t>(p)];
      const Matrix& dxw = xw_grad_.count(p) ? xw_grad_.at(p) : xw;  // xw holds d(W x) unless kept apart
      gemm(W.grad, dxw, Trans::No, input(), Trans::Yes, 1.0f, 1.0f);
      if (need_dx) gemm(dx.data, W.value, Trans::Yes, dxw, Trans::No, 1.0f, first_dx ? 0.0f : 1.0f);
      first_dx = false;
    }
    if (need_dx && first_dx) dx.data.setZero();
    for (const Group& gr : groups_) {
      Param& U = params_[static_cast<size_t>(gr.param)];
      const Loc& o = value_[static_cast<size_t>(gr.operand)];
      gemm(U.grad.middleRows(gr.b0 * H_, (gr.b1 - gr.b0 + 1) * H_), gr.grad, Trans::No,
           MatrixBlock(o.base, H_, TB, Eigen::OuterStride<>(o.ld)), Trans::Yes, 1.0f, 1.0f);
    }
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (live_[k] && nodes_[k].op == CellOp::Bias)
        add_row_sums(params_[static_cast<size_t>(nodes_[k].param)].grad.col(0).segment(nodes_[k].block * H_, H_),
                     own_grad_[k]);
  }

 private:
  static std::vector<std::string> state_names(const CellDef::Impl& g) {
    std::vector<std::string> out;
    for (const auto& s : g.states) out.push_back(s.name);
    if (out.empty()) throw Error("cell " + g.layer + ": the step declares no state (c.state(\"h\"))");
    return out;
  }

  void make_params(const CellDef::Impl& g) {
    params_.reserve(g.params.size());  // Param* handed out stay valid
    const int I = g.I;
    for (const CellParamRec& r : g.params) {
      const int nb = static_cast<int>(r.blocks.size());
      const int cols = r.type == CellParamType::Input ? I : r.type == CellParamType::Recurrent ? H_ : 1;
      const int fan_in = r.type == CellParamType::Recurrent ? H_ : I;
      params_.emplace_back(g.layer + "." + r.name, nb * H_, cols, fan_in, H_, r.default_block_init ? Node() : r.init);
      Param& p = params_.back();
      if (r.default_block_init)
        for (int b = 0; b < nb; ++b)
          p.blocks.push_back({r.blocks[static_cast<size_t>(b)], b * H_, H_, fan_in, H_, r.init});
      for (const auto& block_init : r.block_inits) {
        // A named reference, not a structured binding: clang 14 (the fuzz build) cannot capture those.
        const std::string& name = block_init.first;
        const int b = static_cast<int>(std::find(r.blocks.begin(), r.blocks.end(), name) - r.blocks.begin());
        std::erase_if(p.blocks, [&](const InitBlock& ib) { return ib.block == name; });
        p.blocks.push_back({name, b * H_, H_, fan_in, H_, block_init.second});
      }
    }
  }

  // Decides levels, groups, storage and the passes (see the file comment).
  void plan() {
    // Each state's new value must be a node of its own (its storage is the state history).
    std::vector<bool> taken(nodes_.size(), false);
    for (auto& s : states_) {
      if (s.next < 0) throw Error(name_hint() + "state '" + s.name + "' is never given a new value (next)");
      const CellOp op = nodes_[static_cast<size_t>(s.next)].op;
      if (op == CellOp::Input) throw Error(name_hint() + "state '" + s.name + "' cannot be x itself");
      if (!elementwise(op) || taken[static_cast<size_t>(s.next)]) {
        CellNode c;
        c.op = CellOp::Copy;
        c.a = s.next;
        nodes_.push_back(c);
        taken.push_back(false);
        s.next = static_cast<int>(nodes_.size()) - 1;
      }
      taken[static_cast<size_t>(s.next)] = true;
    }
    const size_t N = nodes_.size();
    live_.assign(N, false);
    for (const auto& s : states_) live_[static_cast<size_t>(s.next)] = true;
    for (size_t n = N; n-- > 0;)
      if (live_[n]) {
        if (nodes_[n].a >= 0) live_[static_cast<size_t>(nodes_[n].a)] = true;
        if (nodes_[n].b >= 0) live_[static_cast<size_t>(nodes_[n].b)] = true;
      }
    for (size_t n = 0; n < N; ++n) {
      const CellNode& c = nodes_[n];
      if (!live_[n] || !(elementwise(c.op) || c.op == CellOp::ProdH)) continue;
      for (int in : {c.a, c.b})
        if (in >= 0 && nodes_[static_cast<size_t>(in)].op == CellOp::Input)
          throw Error(name_hint() + "x appears outside a product with input weights; write W x (W[\"b\"] * x)");
      if (c.op == CellOp::ProdH && nodes_[static_cast<size_t>(c.a)].op == CellOp::Bias)
        throw Error(name_hint() + "a recurrent product of a bias; multiply a state or an expression");
    }
    // Levels.
    std::vector<int> level(N, 0);
    for (size_t n = 0; n < N; ++n) {
      const CellNode& c = nodes_[n];
      if (c.op == CellOp::ProdH)
        level[n] = level[static_cast<size_t>(c.a)] + 1;
      else if (elementwise(c.op))
        level[n] = std::max(level[static_cast<size_t>(c.a)], c.b >= 0 ? level[static_cast<size_t>(c.b)] : 0);
    }
    max_level_ = 0;
    for (size_t n = 0; n < N; ++n)
      if (live_[n]) max_level_ = std::max(max_level_, level[n]);
    // Values the backward reads.
    std::vector<bool> need(N, false), need_all(N, false);
    for (size_t n = 0; n < N; ++n) {
      const CellNode& c = nodes_[n];
      if (!live_[n]) continue;
      if (c.op == CellOp::Mul) need[static_cast<size_t>(c.a)] = need[static_cast<size_t>(c.b)] = true;
      if (c.op == CellOp::Sigmoid || c.op == CellOp::Tanh || c.op == CellOp::Relu) need[n] = true;
      if (c.op == CellOp::ProdH) need_all[static_cast<size_t>(c.a)] = true;
    }
    store_.assign(N, Store::Leaf);
    std::vector<int> next_state(N, -1);
    for (size_t s = 0; s < states_.size(); ++s) next_state[static_cast<size_t>(states_[s].next)] = static_cast<int>(s);
    for (size_t n = N; n-- > 0;) {
      const CellNode& c = nodes_[n];
      if (!live_[n] || !elementwise(c.op)) continue;
      if (next_state[n] >= 0)
        store_[n] = Store::History;
      else if (need_all[n])
        store_[n] = Store::Steps;
      else if (need[n] && (c.op == CellOp::Affine || c.op == CellOp::Copy)) {
        store_[n] = Store::Recompute;
        need[static_cast<size_t>(c.a)] = true;
      } else if (need[n])
        store_[n] = Store::Steps;
      else
        store_[n] = Store::Scratch;
    }
    // Hoisted products: one buffer per input-weight parameter; kept apart from its gradient when
    // the backward reads the product's value.
    std::map<std::pair<int, int>, int> group_of;
    for (size_t n = 0; n < N; ++n) {
      const CellNode& c = nodes_[n];
      if (!live_[n]) continue;
      if (c.op == CellOp::ProdX) {
        xw_[c.param];
        if (need[n] || need_all[n]) xw_grad_[c.param];
      }
      if (c.op == CellOp::ProdH) {
        auto [it, fresh] = group_of.emplace(std::make_pair(c.param, c.a), static_cast<int>(groups_.size()));
        if (fresh) {
          Group gr;
          gr.param = c.param;
          gr.operand = c.a;
          gr.b0 = gr.b1 = c.block;
          gr.level = level[n];
          groups_.push_back(gr);
        }
        Group& gr = groups_[static_cast<size_t>(it->second)];
        gr.b0 = std::min(gr.b0, c.block);
        gr.b1 = std::max(gr.b1, c.block);
        gr.keep = gr.keep || need[n] || need_all[n];
        group_index_[n] = it->second;
      }
    }
    stage_.assign(static_cast<size_t>(max_level_) + 1, {});
    groups_at_.assign(static_cast<size_t>(max_level_) + 1, {});
    for (size_t n = 0; n < N; ++n) {
      if (!live_[n]) continue;
      if (elementwise(nodes_[n].op)) stage_[static_cast<size_t>(level[n])].push_back(static_cast<int>(n));
      if (store_[n] == Store::Recompute) recompute_.push_back(static_cast<int>(n));
    }
    for (size_t gi = 0; gi < groups_.size(); ++gi)
      groups_at_[static_cast<size_t>(groups_[gi].level)].push_back(static_cast<int>(gi));
    own_value_.resize(N);
    own_grad_.resize(N);
    value_.resize(N);
    grad_.resize(N);
  }

  std::string name_hint() const { return "cell " + layer_ + ": "; }

  // base + off, or null for a buffer this pass has not sized (the gradients during a forward):
  // offsetting a null pointer is undefined behaviour even when the result is never read.
  static float* at(float* base, Eigen::Index off) { return base ? base + off : nullptr; }

  // Value and gradient locations of every node for batches of B columns (buffers sized).
  void locate(int B) {
    const Eigen::Index H = H_;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!live_[n]) continue;
      const CellNode& c = nodes_[n];
      Loc v, g;
      switch (c.op) {
        case CellOp::Input: break;
        case CellOp::State:
          v = {history(static_cast<size_t>(c.state)).data(), H, B};
          g = {state_grad(static_cast<size_t>(c.state)).data(), H, 0};
          break;
        case CellOp::Bias:
          v = {own_value_[n].data(), H, 0};
          g = {own_grad_[n].data(), H, 0};
          break;
        case CellOp::ProdX: {
          Matrix& xw = xw_.at(c.param);
          Matrix& gw = xw_grad_.count(c.param) ? xw_grad_.at(c.param) : xw;
          v = {at(xw.data(), c.block * H), xw.rows(), B};
          g = {at(gw.data(), c.block * H), gw.rows(), B};
          break;
        }
        case CellOp::ProdH: {
          Group& gr = groups_[static_cast<size_t>(group_index_.at(n))];
          const Eigen::Index off = (c.block - gr.b0) * H;
          v = {at(gr.value.data(), off), gr.value.rows(), gr.keep ? B : 0};
          g = {at(gr.grad.data(), off), gr.grad.rows(), B};
          break;
        }
        default:
          if (store_[n] == Store::History) {
            const size_t s = static_cast<size_t>(state_of_next(static_cast<int>(n)));
            v = {at(history(s).data(), static_cast<Eigen::Index>(B) * H), H, B};
          } else {
            v = {own_value_[n].data(), H, store_[n] == Store::Steps ? B : 0};
          }
          g = {own_grad_[n].data(), H, 0};
      }
      value_[n] = v;
      grad_[n] = g;
    }
  }

  int state_of_next(int n) const {
    for (size_t s = 0; s < states_.size(); ++s)
      if (states_[s].next == n) return static_cast<int>(s);
    return -1;
  }

  static MatrixBlock block(const Loc& l, int t, Eigen::Index j, Eigen::Index cols, Eigen::Index rows) {
    return MatrixBlock(l.at(t, j), rows, cols, Eigen::OuterStride<>(l.ld));
  }
  MatrixBlock block(const Loc& l, int t, Eigen::Index j, Eigen::Index cols) const { return block(l, t, j, cols, H_); }
  ArrayBlock array(const Loc& l, int t, Eigen::Index j, Eigen::Index cols) const {
    return ArrayBlock(l.at(t, j), H_, cols, Eigen::OuterStride<>(l.ld));
  }

  // Each group's rows U[b0..b1] of its parameter, op() applied, packed for products with `cols`
  // columns (one time loop thread's), in the order of groups_.
  std::vector<PackedMatrix> packed_groups(Trans op, Eigen::Index cols) const {
    std::vector<PackedMatrix> out;
    out.reserve(groups_.size());
    for (const Group& gr : groups_)
      out.emplace_back(params_[static_cast<size_t>(gr.param)].value.middleRows(gr.b0 * H_, (gr.b1 - gr.b0 + 1) * H_),
                       op, cols);
    return out;
  }

  // A group's recurrent product for step t: P = U[b0..b1] * operand, one gemm (U: the group's
  // packed rows).
  void product(Group& gr, const PackedMatrix& U, int t, const StepColumns& cols) {
    const Eigen::Index rows = (gr.b1 - gr.b0 + 1) * H_;
    const Loc out{gr.value.data(), rows, gr.keep ? cols.B : 0};
    gemm(block(out, t, cols.c0, cols.n, rows), U, block(value_[static_cast<size_t>(gr.operand)], t, cols.c0, cols.n),
         Trans::No);
  }

  // The element-wise nodes `order` of step t, one column block at a time.
  void forward_pass(const std::vector<int>& order, int t, const StepColumns& cols) {
    if (order.empty()) return;
    const Eigen::Index step = std::max<Eigen::Index>(1, kChunk / H_);
    for (Eigen::Index j = cols.c0; j < cols.c0 + cols.n; j += step) {
      const Eigen::Index m = std::min(step, cols.c0 + cols.n - j);
      for (int id : order) {
        const CellNode& c = nodes_[static_cast<size_t>(id)];
        ArrayBlock y = array(value_[static_cast<size_t>(id)], t, j, m);
        ArrayBlock a = array(value_[static_cast<size_t>(c.a)], t, j, m);
        switch (c.op) {
          case CellOp::Add: y = a + array(value_[static_cast<size_t>(c.b)], t, j, m); break;
          case CellOp::Sub: y = a - array(value_[static_cast<size_t>(c.b)], t, j, m); break;
          case CellOp::Mul: y = a * array(value_[static_cast<size_t>(c.b)], t, j, m); break;
          case CellOp::Affine: y = a * c.scale + c.shift; break;
          case CellOp::Sigmoid: y = (1.0f + (-a).exp()).inverse(); break;
          case CellOp::Tanh: y = a.tanh(); break;
          case CellOp::Relu: y = a.max(0.0f); break;
          case CellOp::Copy: y = a; break;
          default: break;
        }
      }
    }
  }

  // Reverse of forward_pass: each node's gradient, complete by now, goes to its inputs.
  void backward_pass(const std::vector<int>& order, int t, const StepColumns& cols) {
    if (order.empty()) return;
    const Eigen::Index step = std::max<Eigen::Index>(1, kChunk / H_);
    for (Eigen::Index j = cols.c0; j < cols.c0 + cols.n; j += step) {
      const Eigen::Index m = std::min(step, cols.c0 + cols.n - j);
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const size_t id = static_cast<size_t>(*it);
        const CellNode& c = nodes_[id];
        ArrayBlock g = array(grad_[id], t, j, m);
        ArrayBlock ga = array(grad_[static_cast<size_t>(c.a)], t, j, m);
        switch (c.op) {
          case CellOp::Add:
            ga += g;
            array(grad_[static_cast<size_t>(c.b)], t, j, m) += g;
            break;
          case CellOp::Sub:
            ga += g;
            array(grad_[static_cast<size_t>(c.b)], t, j, m) -= g;
            break;
          case CellOp::Mul: {
            ArrayBlock gb = array(grad_[static_cast<size_t>(c.b)], t, j, m);
            ArrayBlock va = array(value_[static_cast<size_t>(c.a)], t, j, m);
            ArrayBlock vb = array(value_[static_cast<size_t>(c.b)], t, j, m);
            ga += g * vb;
            gb += g * va;
            break;
          }
          case CellOp::Affine: ga += g * c.scale; break;
          case CellOp::Sigmoid: {
            ArrayBlock y = array(value_[id], t, j, m);
            ga += g * y * (1.0f - y);
            break;
          }
          case CellOp::Tanh: {
            ArrayBlock y = array(value_[id], t, j, m);
            ga += g * (1.0f - y.square());
            break;
          }
          case CellOp::Relu: ga += (array(value_[id], t, j, m) > 0.0f).select(g, 0.0f); break;
          case CellOp::Copy: ga += g; break;
          default: break;
        }
      }
    }
  }

  int H_;
  std::string layer_;  // the layer's name, for messages before bind()
  std::vector<CellNode> nodes_;
  std::vector<CellStateRec> states_;
  std::vector<Param> params_;
  std::vector<bool> live_;
  std::vector<Store> store_;
  int max_level_ = 0;
  std::vector<std::vector<int>> stage_;      // element-wise nodes per level, in order
  std::vector<std::vector<int>> groups_at_;  // recurrent-product groups per level
  std::vector<int> recompute_;               // nodes recomputed at the start of each backward step
  std::vector<Group> groups_;
  std::map<size_t, int> group_index_;         // ProdH node -> its group
  std::map<int, Matrix> xw_;                  // input-weight parameter -> W x for all steps (then dL/d(W x))
  std::map<int, Matrix> xw_grad_;             // ... dL/d(W x) apart, when the backward reads W x
  std::vector<Matrix> own_value_, own_grad_;  // per node: T-step or one-step buffers
  std::vector<Loc> value_, grad_;
};

}  // namespace

std::unique_ptr<Layer> CellDef::build() { return std::make_unique<EquationCell>(*impl_); }

FootprintFn cell_footprint(std::function<void(CellDef&, const Options&)> define) {
  return [define = std::move(define)](const Options& o, int input_size) {
    const int H = o.i("units");
    // Planned for one input feature (the plan does not depend on it, and a mistyped huge input
    // must not be allocated here); the parameter count uses the real one.
    CellDef def("footprint", H, 1, o);
    define(def, o);
    double params = 0;
    for (const CellParamRec& p : def.impl().params) {
      const double cols = p.type == CellParamType::Input ? input_size : p.type == CellParamType::Recurrent ? H : 1;
      params += static_cast<double>(p.blocks.size()) * H * cols;
    }
    const EquationCell cell(def.impl());
    return LayerFootprint{H, params, cell.kept_per_column(), static_cast<long long>(def.impl().states.size()) * H};
  };
}

}  // namespace unroll
