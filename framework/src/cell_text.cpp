// Cells from text equations (the `cell` layer of experiment files):
//
//   step:
//     f: "sigmoid(W_f x + U_f h + b_f)"
//     h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"
//
// Grammar (usual precedence, * binds tighter than + and -):
//   sum     := product (('+' | '-') product)*
//   product := unary ('*' unary)*
//   unary   := '-' unary | primary
//   primary := NUMBER | '(' sum ')' | FUNC '(' sum ')' | PARAM primary | PARAM | NAME
// FUNC is sigmoid, tanh or relu. PARAM is a name listed under `params`, with an optional block
// suffix after the first underscore (W_f: block f of W). A parameter followed by a value is a
// matrix product (W_f x, U_h (f * h)); with x it is an input weight, with anything else a
// recurrent weight; alone it is a bias. NAME is x or a step name. Equations run in the order
// written: a step name already computed in this step means its new value, otherwise the
// previous value of a state — so every step name read before its own equation is a state.
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "cell_graph.hpp"
#include "unroll/error.hpp"
#include "unroll/names.hpp"

namespace unroll {

namespace {

const std::vector<std::string> kFunctions = {"sigmoid", "tanh", "relu"};

struct Ast {
  enum Kind { Num, Name, Bias, Prod, Neg, Add, Sub, Mul, Call } kind = Num;
  double num = 0;
  std::string name;           // Name: the name; Bias/Prod: the parameter; Call: the function
  std::string block;          // Bias/Prod
  std::unique_ptr<Ast> l, r;  // Prod: r is the operand; Neg/Call: l
  size_t pos = 0;
};

// One equation: its text, where it was written, and errors pointing into it.
struct Equation {
  std::string key, text;
  SourceLoc loc;
  [[noreturn]] void fail(size_t pos, const std::string& msg) const {
    std::ostringstream s;
    s << loc.str() << ": in step '" << key << "', character " << pos + 1 << ": " << msg << "\n    " << text << "\n    "
      << std::string(pos, ' ') << "^";
    throw Error(s.str());
  }
};

struct Token {
  enum Kind { Ident, Number, Op, End } kind = End;
  std::string text;
  double num = 0;
  size_t pos = 0;
};

std::vector<Token> tokenize(const Equation& eq) {
  std::vector<Token> out;
  const std::string& s = eq.text;
  size_t i = 0;
  while (i < s.size()) {
    const char ch = s[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(ch)) || ch == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Ident, s.substr(i, j - i), 0, i});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(ch)) || ch == '.') {
      char* end = nullptr;
      const double v = std::strtod(s.c_str() + i, &end);
      const size_t j = static_cast<size_t>(end - s.c_str());
      if (j == i) eq.fail(i, "a number expected");
      out.push_back({Token::Number, s.substr(i, j - i), v, i});
      i = j;
    } else if (ch == '+' || ch == '-' || ch == '*' || ch == '(' || ch == ')') {
      out.push_back({Token::Op, std::string(1, ch), 0, i});
      ++i;
    } else {
      eq.fail(i, std::string("unexpected character '") + ch + "'; equations use + - * ( ), numbers, names and " +
                     "sigmoid/tanh/relu");
    }
  }
  out.push_back({Token::End, "", 0, s.size()});
  return out;
}

class Parser {
 public:
  Parser(const Equation& eq, const std::set<std::string>& params, const std::vector<std::string>& known)
      : eq_(eq), toks_(tokenize(eq)), params_(params), known_(known) {}

  std::unique_ptr<Ast> parse() {
    auto e = sum();
    if (peek().kind != Token::End) eq_.fail(peek().pos, "unexpected '" + peek().text + "' (an operator missing?)");
    return e;
  }

 private:
  const Token& peek() const { return toks_[i_]; }
  bool is_op(const char* op) const { return peek().kind == Token::Op && peek().text == op; }
  Token take() { return toks_[i_++]; }

  static std::unique_ptr<Ast> node(Ast::Kind k, size_t pos) {
    auto a = std::make_unique<Ast>();
    a->kind = k;
    a->pos = pos;
    return a;
  }

  std::unique_ptr<Ast> sum() {
    auto l = product();
    while (is_op("+") || is_op("-")) {
      const Token op = take();
      auto n = node(op.text == "+" ? Ast::Add : Ast::Sub, op.pos);
      n->l = std::move(l);
      n->r = product();
      l = std::move(n);
    }
    return l;
  }
  std::unique_ptr<Ast> product() {
    auto l = unary();
    while (is_op("*")) {
      const Token op = take();
      auto n = node(Ast::Mul, op.pos);
      n->l = std::move(l);
      n->r = unary();
      l = std::move(n);
    }
    return l;
  }
  std::unique_ptr<Ast> unary() {
    if (is_op("-")) {
      const Token op = take();
      auto n = node(Ast::Neg, op.pos);
      n->l = unary();
      return n;
    }
    return primary();
  }
  bool starts_value() const { return peek().kind == Token::Ident || is_op("("); }

  std::unique_ptr<Ast> primary() {
    const Token t = take();
    if (t.kind == Token::Number) {
      auto n = node(Ast::Num, t.pos);
      n->num = t.num;
      return n;
    }
    if (t.kind == Token::Op && t.text == "(") {
      auto e = sum();
      if (!is_op(")")) eq_.fail(peek().pos, "')' expected to close the '(' at character " + std::to_string(t.pos + 1));
      take();
      return e;
    }
    if (t.kind != Token::Ident)
      eq_.fail(t.pos, t.kind == Token::End ? "the equation ends where a value is expected"
                                           : "a value expected, got '" + t.text + "'");
    if (std::find(kFunctions.begin(), kFunctions.end(), t.text) != kFunctions.end()) {
      if (!is_op("(")) eq_.fail(peek().pos, "'(' expected after " + t.text);
      take();
      auto n = node(Ast::Call, t.pos);
      n->name = t.text;
      n->l = sum();
      if (!is_op(")")) eq_.fail(peek().pos, "')' expected to close " + t.text + "(");
      take();
      return n;
    }
    // A parameter: the whole name, or the part before the first underscore with a block after it.
    std::string param, block;
    if (params_.count(t.text)) {
      param = t.text;
    } else if (auto u = t.text.find('_'); u != std::string::npos && params_.count(t.text.substr(0, u))) {
      param = t.text.substr(0, u);
      block = t.text.substr(u + 1);
    }
    if (!param.empty()) {
      auto n = node(starts_value() ? Ast::Prod : Ast::Bias, t.pos);
      n->name = param;
      n->block = block;
      if (n->kind == Ast::Prod) n->r = primary();
      return n;
    }
    if (std::find(known_.begin(), known_.end(), t.text) == known_.end()) {
      std::vector<std::string> candidates = known_;
      candidates.insert(candidates.end(), kFunctions.begin(), kFunctions.end());
      for (const auto& p : params_) candidates.push_back(p);
      const std::string hint = nearest(t.text, candidates);
      eq_.fail(t.pos, "unknown name '" + t.text + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                          "; names are x, the step names and the parameters listed under params");
    }
    auto n = node(Ast::Name, t.pos);
    n->name = t.text;
    return n;
  }

  const Equation& eq_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  const std::set<std::string>& params_;
  const std::vector<std::string>& known_;
};

enum class Use { None, Input, Recurrent, Bias };

struct ParamUse {
  Use use = Use::None;
  std::vector<std::string> blocks;  // in order of first use
  const Equation* eq = nullptr;
  size_t pos = 0;
};

const char* use_name(Use u) {
  switch (u) {
    case Use::Input: return "input weights (W x)";
    case Use::Recurrent: return "recurrent weights (U h)";
    case Use::Bias: return "a bias (a term on its own)";
    default: return "unused";
  }
}

// Pass 1: which step names are states, and how each parameter is used.
void scan(const Ast& a, const Equation& eq, const std::set<std::string>& assigned, const std::set<std::string>& keys,
          std::vector<std::string>& states, std::map<std::string, ParamUse>& uses) {
  if (a.kind == Ast::Name && keys.count(a.name) && !assigned.count(a.name) &&
      std::find(states.begin(), states.end(), a.name) == states.end())
    states.push_back(a.name);
  if (a.kind == Ast::Bias || a.kind == Ast::Prod) {
    const Use u = a.kind == Ast::Bias                            ? Use::Bias
                  : (a.r->kind == Ast::Name && a.r->name == "x") ? Use::Input
                                                                 : Use::Recurrent;
    ParamUse& p = uses[a.name];
    if (p.use != Use::None && p.use != u)
      eq.fail(a.pos, "'" + a.name + "' is used as " + use_name(u) + " here but as " + use_name(p.use) +
                         " at character " + std::to_string(p.pos + 1) + " of step '" + p.eq->key + "'");
    if (p.use == Use::None) {
      p.use = u;
      p.eq = &eq;
      p.pos = a.pos;
    }
    if (std::find(p.blocks.begin(), p.blocks.end(), a.block) == p.blocks.end()) p.blocks.push_back(a.block);
  }
  if (a.l) scan(*a.l, eq, assigned, keys, states, uses);
  if (a.r) scan(*a.r, eq, assigned, keys, states, uses);
}

// A value while building: a constant (folded) or an expression of the cell.
struct Value {
  bool constant = false;
  double c = 0;
  CellExpr e;
};

class Builder {
 public:
  Builder(CellDef& def, std::map<std::string, CellParam>& params, std::map<std::string, CellExpr>& names)
      : def_(def), params_(params), names_(names) {}

  CellExpr equation(const Ast& a, const Equation& eq) {
    Value v = eval(a, eq);
    if (v.constant) eq.fail(a.pos, "the equation is a constant; a step must depend on x or a state");
    return v.e;
  }

 private:
  Value eval(const Ast& a, const Equation& eq) {
    switch (a.kind) {
      case Ast::Num: return {true, a.num, {}};
      case Ast::Name: {
        if (a.name == "x") eq.fail(a.pos, "x may appear only in a product with input weights (W x)");
        return {false, 0, names_.at(a.name)};
      }
      case Ast::Bias: return {false, 0, params_.at(a.name)[a.block]};
      case Ast::Prod: {
        const CellBlock w = params_.at(a.name)[a.block];
        if (a.r->kind == Ast::Name && a.r->name == "x") return {false, 0, w * def_.input()};
        Value v = eval(*a.r, eq);
        if (v.constant) eq.fail(a.r->pos, "a parameter times a constant; multiply a state or an expression");
        return {false, 0, w * v.e};
      }
      case Ast::Neg: {
        Value v = eval(*a.l, eq);
        return v.constant ? Value{true, -v.c, {}} : Value{false, 0, -v.e};
      }
      case Ast::Call: {
        Value v = eval(*a.l, eq);
        if (v.constant) eq.fail(a.pos, a.name + " of a constant; write the number instead");
        if (a.name == "sigmoid") return {false, 0, sigmoid(v.e)};
        if (a.name == "tanh") return {false, 0, tanh(v.e)};
        return {false, 0, relu(v.e)};
      }
      default: break;
    }
    Value l = eval(*a.l, eq), r = eval(*a.r, eq);
    const float lc = static_cast<float>(l.c), rc = static_cast<float>(r.c);
    switch (a.kind) {
      case Ast::Add:
        if (l.constant && r.constant) return {true, l.c + r.c, {}};
        return {false, 0, l.constant ? lc + r.e : r.constant ? l.e + rc : l.e + r.e};
      case Ast::Sub:
        if (l.constant && r.constant) return {true, l.c - r.c, {}};
        return {false, 0, l.constant ? lc - r.e : r.constant ? l.e - rc : l.e - r.e};
      default:  // Mul
        if (l.constant && r.constant) return {true, l.c * r.c, {}};
        return {false, 0, l.constant ? lc * r.e : r.constant ? l.e * rc : l.e * r.e};
    }
  }

  CellDef& def_;
  std::map<std::string, CellParam>& params_;
  std::map<std::string, CellExpr>& names_;
};

std::string block_label(const std::string& param, const std::string& block) {
  return block.empty() ? param : param + "_" + block;
}

}  // namespace

void define_cell_from_text(CellDef& c, const Node& params, const Node& step) {
  if (!step.is_map() || step.entries().empty())
    throw Error(step.loc().str() + ": 'step' of cell " + c.layer_name() +
                " expects a mapping of names to equations, e.g. {h: \"tanh(W x + U h + b)\"}");
  if (!params.is_map()) throw Error(params.loc().str() + ": 'params' of cell " + c.layer_name() + " expects a mapping");
  std::set<std::string> param_names;
  for (const auto& [name, spec] : params.entries()) {
    if (name.empty() || name.find('_') != std::string::npos || !std::isalpha(static_cast<unsigned char>(name[0])))
      throw Error(spec.key_loc().str() + ": parameter name '" + name +
                  "' must start with a letter and have no underscore (W_f means block f of W)");
    param_names.insert(name);
  }
  std::vector<Equation> eqs;
  std::vector<std::string> keys{"x"};
  std::set<std::string> key_set;
  for (const auto& [key, text] : step.entries()) {
    if (!text.is_scalar())
      throw Error(text.loc().str() + ": step '" + key + "' expects an equation as a string, got " + text.type_name());
    if (key == "x" || param_names.count(key) ||
        std::find(kFunctions.begin(), kFunctions.end(), key) != kFunctions.end())
      throw Error(text.key_loc().str() + ": step name '" + key + "' is taken (x, a function or a parameter)");
    eqs.push_back({key, text.text(), text.loc()});
    keys.push_back(key);
    key_set.insert(key);
  }
  // Parse everything, then learn the states and parameter uses.
  std::vector<std::unique_ptr<Ast>> asts;
  for (const Equation& eq : eqs) asts.push_back(Parser(eq, param_names, keys).parse());
  std::vector<std::string> states;
  std::map<std::string, ParamUse> uses;
  std::set<std::string> assigned;
  for (size_t k = 0; k < eqs.size(); ++k) {
    scan(*asts[k], eqs[k], assigned, key_set, states, uses);
    assigned.insert(eqs[k].key);
  }
  if (states.empty())
    throw Error(
        step.loc().str() + ": cell " + c.layer_name() +
        " has no state: a step name must be read before its own equation is done (h in \"tanh(W x + U h + b)\")");
  // The output is h when h is a state, else the first state.
  auto out = std::find(states.begin(), states.end(), "h");
  if (out != states.end()) std::rotate(states.begin(), out, out + 1);
  std::map<std::string, CellExpr> names;
  for (const std::string& s : states) names[s] = c.state(s);
  // Declare the parameters with the blocks they are used with, then their init overrides.
  std::map<std::string, CellParam> declared;
  for (const auto& [name, spec] : params.entries()) {
    auto u = uses.find(name);
    if (u == uses.end())
      throw Error(spec.key_loc().str() + ": parameter '" + name + "' of cell " + c.layer_name() +
                  " is not used in any equation");
    const ParamUse& p = u->second;
    CellParam cp = p.use == Use::Input       ? c.input_weights(name, p.blocks)
                   : p.use == Use::Recurrent ? c.recurrent_weights(name, p.blocks)
                                             : c.bias(name, p.blocks);
    if (!spec.is_null()) {
      if (!spec.is_map())
        throw Error(spec.loc().str() + ": parameter '" + name +
                    "' expects a mapping {init: ..., blocks: {BLOCK: ...}} or nothing");
      for (const auto& [key, v] : spec.entries()) {
        if (key == "init") {
          cp.init(v);
        } else if (key == "blocks") {
          if (!v.is_map())
            throw Error(v.loc().str() + ": 'blocks' of parameter '" + name +
                        "' expects a mapping of block names to initializers");
          for (const auto& [block, init] : v.entries()) {
            if (std::find(p.blocks.begin(), p.blocks.end(), block) == p.blocks.end()) {
              const std::string hint = nearest(block, p.blocks);
              std::string list;
              for (const auto& b : p.blocks) list += (list.empty() ? "" : ", ") + block_label(name, b);
              throw Error(init.key_loc().str() + ": parameter '" + name + "' has no block '" + block +
                          "' in the equations" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                          "; used: " + list);
            }
            cp.init(block, init);
          }
        } else {
          const std::string hint = nearest(key, {"init", "blocks"});
          throw Error(v.key_loc().str() + ": unknown key '" + key + "' in parameter '" + name + "'" +
                      (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; valid keys: init, blocks");
        }
      }
    }
    declared.emplace(name, cp);
  }
  Builder b(c, declared, names);
  for (size_t k = 0; k < eqs.size(); ++k) {
    const CellExpr v = b.equation(*asts[k], eqs[k]);
    if (std::find(states.begin(), states.end(), eqs[k].key) != states.end()) c.next(eqs[k].key, v);
    names[eqs[k].key] = v;  // later equations read the new value
  }
}

}  // namespace unroll
