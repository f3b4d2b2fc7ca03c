// Equation cells (<unroll/cell.hpp>, the `cell` layer): Elman, GRU and LSTM written as equations
// give the hand-written cells' outputs and gradients on the same weights; MGU and unusual
// graphs pass finite-difference checks through time; per-block initializers; text errors.
// The state contract (carry, set_state, state_at, threads) is covered with the hand-written
// cells in test_layers_recurrent.cpp, whose cell list includes these equation cells.
#include <catch2/catch.hpp>

#include "support.hpp"
#include "unroll/cell.hpp"
#include "unroll/gradcheck.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/trainer.hpp"

using namespace unroll;
using Catch::Matchers::Contains;
using unroll::testing::make_layer;

namespace {

// The built-in cells as equations, in the hand-written cells' stacking order (W, U, b blocks as
// in gru.cpp and lstm.cpp), so the same weight matrices can be copied across.
const std::string kElman = R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {h: "tanh(W x + U h + b)"}})Y";
const std::string kGru = R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {
    r: "sigmoid(W_r x + U_r h + b_r)", z: "sigmoid(W_z x + U_z h + b_z)",
    n: "tanh(W_n x + b_n + r * (U_n h + b_hn))", h: "(1 - z) * n + z * h"}})Y";
const std::string kLstm = R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {
    i: "sigmoid(W_i x + U_i h + b_i)", f: "sigmoid(W_f x + U_f h + b_f)", g: "tanh(W_g x + U_g h + b_g)",
    o: "sigmoid(W_o x + U_o h + b_o)", c: "f * c + i * g", h: "o * tanh(c)"}})Y";
const std::string kMgu =
    R"Y({kind: cell, units: 4, params: {W: , U: , b: {blocks: {f: {kind: constant, value: 1}}}}, step: {
    f: "sigmoid(W_f x + U_f h + b_f)", h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"}})Y";

using unroll::testing::normal;
using unroll::testing::randomize;

struct Pass {
  Matrix y, dx;
  std::vector<Matrix> grads, state, state_grad;
  std::vector<double> norms;
};

// Forward and backward over T steps from a random state, with a random dL/dy.
Pass run(Layer& l, int T, int B, uint64_t seed) {
  Rng rng(seed);
  Seq x;
  x.resize(l.input_size(), T, B);
  x.data = normal(x.features(), x.data.cols(), rng);
  l.reset_state(B);
  std::vector<Matrix> s = l.state();
  for (Matrix& m : s) m = normal(m.rows(), m.cols(), rng, 0.5);
  l.set_state(s);
  for (Param* p : l.params()) p->grad.setZero();
  Seq y, dx, dy;
  l.forward(x, y, Mode::Train);
  dy.resize(y.features(), T, B);
  dy.data = normal(y.features(), y.data.cols(), rng);
  l.backward(dy, dx, true);
  Pass out{y.data, dx.data, {}, l.state(), l.initial_state_grad(), l.hidden_grad_norms()};
  for (Param* p : l.params()) out.grads.push_back(p->grad);
  return out;
}

double rel(const Matrix& a, const Matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return static_cast<double>((a - b).norm() / (a.norm() + b.norm() + 1e-12f));
}

void check_same(const Pass& a, const Pass& b) {
  CHECK(rel(a.y, b.y) < 1e-6);
  CHECK(rel(a.dx, b.dx) < 1e-5);
  REQUIRE(a.grads.size() == b.grads.size());
  for (size_t k = 0; k < a.grads.size(); ++k) {
    INFO("parameter " << k);
    CHECK(rel(a.grads[k], b.grads[k]) < 1e-5);
  }
  REQUIRE(a.state.size() == b.state.size());
  for (size_t k = 0; k < a.state.size(); ++k) {
    CHECK(rel(a.state[k], b.state[k]) < 1e-6);
    CHECK(rel(a.state_grad[k], b.state_grad[k]) < 1e-5);
  }
  REQUIRE(a.norms.size() == b.norms.size());
  for (size_t t = 0; t < a.norms.size(); ++t) CHECK(a.norms[t] == Approx(b.norms[t]).epsilon(1e-5));
}

}  // namespace

TEST_CASE("equation cells: Elman, GRU and LSTM equal the hand-written cells on the same weights", "[cells]") {
  const std::vector<std::pair<std::string, std::string>> pairs = {{"{kind: elman, units: 4}", kElman},
                                                                  {"{kind: gru, units: 4}", kGru},
                                                                  {"{kind: lstm, units: 4, forget_bias: 0}", kLstm}};
  for (const auto& [hand_yaml, eq_yaml] : pairs) {
    INFO(hand_yaml);
    auto hand = make_layer(hand_yaml, 3, "rnn0");
    auto eq = make_layer(eq_yaml, 3, "rnn0");
    REQUIRE(eq->params().size() == hand->params().size());
    randomize(*hand, 5);
    for (size_t k = 0; k < hand->params().size(); ++k) {
      REQUIRE(eq->params()[k]->name == hand->params()[k]->name);
      REQUIRE(eq->params()[k]->value.rows() == hand->params()[k]->value.rows());
      REQUIRE(eq->params()[k]->value.cols() == hand->params()[k]->value.cols());
      eq->params()[k]->value = hand->params()[k]->value;
    }
    for (int threads : {1, 2}) {
      configure_threads(threads);
      check_same(run(*hand, 6, 40, 9), run(*eq, 6, 40, 9));  // 40 samples: a 32 + 8 split with 2 threads
    }
    configure_threads(1);
  }
}

TEST_CASE("equation cells: finite-difference gradients through time", "[cells][gradcheck]") {
  const std::vector<std::string> cells = {
      kElman, kGru, kLstm, kMgu,
      // relu, a constant-only affine chain, a state kept as it is, a product of a state with
      // itself, a recurrent product of an expression, and an unused intermediate.
      R"Y({kind: cell, units: 3, params: {W: , U: , V: , b: }, step: {
          a: "relu(W_a x + U_a h + b_a)", unused: "sigmoid(W_u x)",
          m: "2 * (1 - 0.5 * a) - 1", h: "0.5 * tanh(m * h + V (a * h) + b_h) + 0.25 * h * h", k: "k"}})Y",
      // two states, the second feeding the first
      R"Y({kind: cell, units: 3, params: {W: , U: , b: }, step: {
          c: "tanh(W_c x + U_c h) - 0.5 * c", h: "sigmoid(W_h x + U_h c + b) * c + h * 0.1"}})Y"};
  for (const std::string& yaml : cells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    randomize(*l, 11);
    for (int steps : {1, 5}) {
      GradCheckOptions opt;
      opt.steps = steps;
      opt.seed = 5;
      const GradCheckResult r = check_layer_gradients(*l, opt);
      INFO(r.summary());
      REQUIRE(r.ok);
      CHECK(r.checked > 0);
    }
  }
}

TEST_CASE("equation cells: the C++ API, per-gate initializers", "[cells]") {
  ComponentTable reg;
  reg.add_layer(cell_schema("mgu_test", "MGU"), cell_factory([](CellDef& c, const Options&) {
                  auto W = c.input_weights("W", {"f", "h"});
                  auto U = c.recurrent_weights("U", {"f", "h"});
                  auto b = c.bias("b", {"f", "h"});
                  b.init("f", "{kind: constant, value: 1}");
                  auto x = c.input();
                  auto h = c.state("h");
                  auto f = sigmoid(W["f"] * x + U["f"] * h + b["f"]);
                  c.next(h, (1 - f) * h + f * tanh(W["h"] * x + U["h"] * (f * h) + b["h"]));
                }));
  const ComponentTable::Entry* e = nullptr;
  for (const auto* entry : reg.entries()) e = entry;
  REQUIRE(e != nullptr);
  unroll::testing::TestContext ctx("mgu0", 3);
  const Node block = validate_block(parse_yaml("{units: 5}", "test"), e->schema, &unroll::testing::host());
  std::unique_ptr<Layer> l(static_cast<Layer*>(e->make(Options(block, &e->schema), ctx)));
  l->bind({"mgu0", 3});
  unroll::testing::initialize(*l);
  auto ps = l->params();
  REQUIRE(ps.size() == 3);
  CHECK(ps[0]->value.rows() == 10);
  CHECK(ps[0]->value.cols() == 3);
  // b_f = 1 from its block initializer, b_h = 0 from bias_init.
  CHECK((ps[2]->value.topRows(5).array() == 1.0f).all());
  CHECK((ps[2]->value.bottomRows(5).array() == 0.0f).all());
  // recurrent_init runs per block: each gate's 5 x 5 matrix is orthogonal on its own.
  for (int k = 0; k < 2; ++k) {
    const Matrix Ub = ps[1]->value.middleRows(5 * k, 5);
    CHECK((Ub.transpose() * Ub - Matrix::Identity(5, 5)).cwiseAbs().maxCoeff() < 1e-5f);
  }
  GradCheckOptions opt;
  opt.steps = 4;
  const GradCheckResult r = check_layer_gradients(*l, opt);
  INFO(r.summary());
  CHECK(r.ok);
}

TEST_CASE("equation cells: YAML per-block init blocks and a whole-parameter init", "[cells]") {
  auto l = make_layer(R"Y({kind: cell, units: 3, params: {W: {init: {kind: constant, value: 0.5}}, U: ,
      b: {blocks: {f: {kind: constant, value: 1}, h: {kind: constant, value: -2}}}},
      step: {f: "sigmoid(W_f x + U_f h + b_f)", h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"}})Y",
                      2);
  unroll::testing::initialize(*l);
  auto ps = l->params();
  CHECK((ps[0]->value.array() == 0.5f).all());
  CHECK((ps[2]->value.topRows(3).array() == 1.0f).all());
  CHECK((ps[2]->value.bottomRows(3).array() == -2.0f).all());
}

TEST_CASE("equation cells: a typo in an equation names the place and the nearest name", "[cells][config]") {
  auto error_of = [](const std::string& yaml) {
    try {
      make_layer(yaml, 3);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // unknown name, with the position in the equation and the nearest known name
  const std::string unknown = error_of(R"Y({kind: cell, units: 2, params: {W: , U: , b: }, step: {
      f: "sigmoid(W_f x + U_f h + b_f)", h: "(1 - ff) * h + f * tanh(W_h x + U_h h + b_h)"}})Y");
  CHECK_THAT(unknown,
             Contains("in step 'h', character 6") && Contains("unknown name 'ff'") && Contains("did you mean 'f'?"));
  CHECK_THAT(unknown, Contains(":2:"));  // file:line:column of the equation
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: }, step: {h: "tanh(W x + U h"}})Y"),
             Contains("')' expected"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: }, step: {h: "tanh(W x + U h) $ 2"}})Y"),
             Contains("unexpected character '$'"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: }, step: {h: "tanh(W x + U h + sigmod(x))"}})Y"),
             Contains("did you mean 'sigmoid'?"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: , V: }, step: {h: "tanh(W x + U h)"}})Y"),
             Contains("parameter 'V'") && Contains("not used"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: }, step: {h: "tanh(W x + U h + W)"}})Y"),
             Contains("'W' is used as a bias") && Contains("input weights"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {U: }, step: {h: "tanh(x + U h)"}})Y"),
             Contains("x may appear only in a product"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: , U: , b: {blocks: {g: {kind: zeros}}}},
                           step: {h: "tanh(W x + U h + b_f)"}})Y"),
             Contains("no block 'g'") && Contains("used: b_f"));
  CHECK_THAT(error_of(R"Y({kind: cell, units: 2, params: {W: }, step: {f: "tanh(W x)"}})Y"), Contains("has no state"));
  CHECK_THAT(
      error_of(R"Y({kind: cell, units: 2, params: {W: , U: {int: {kind: zeros}}}, step: {h: "tanh(W x + U h)"}})Y"),
      Contains("unknown key 'int'") && Contains("did you mean 'init'?"));
}

namespace {

// Delayed recall (output the symbol seen 3 steps earlier), small enough to train in a second.
std::string recall_experiment(const std::string& layer, const std::string& train_extra = "") {
  return "name: recall\nseed: 3\n"
         "data: {kind: delayed_recall, lag: 3, alphabet: 4, length: 12, samples: 200, test_samples: 100}\n"
         "model:\n  - " +
         layer +
         "\n  - {kind: dense, units: 4}\n"
         "loss: {kind: cross_entropy}\noptimizer: {kind: adam, lr: 0.01}\n"
         "train: {epochs: 4, batch: 20, clip: {norm: 5.0}" +
         train_extra + "}\n";
}

}  // namespace

TEST_CASE("equation cells train like the hand-written ones on delayed recall", "[cells][end_to_end]") {
  // Same names, seed and initializers: the same starting weights (both LSTMs hold the forget
  // bias of 1 in b's f block). The runs differ by float rounding only; the
  // stated tolerance after 4 epochs: losses within 0.1% and test accuracy within 0.01.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"{kind: gru, name: rnn, units: 16}",
       R"Y({kind: cell, name: rnn, units: 16, params: {W: , U: {init: {kind: orthogonal}}, b: }, step: {
           r: "sigmoid(W_r x + U_r h + b_r)", z: "sigmoid(W_z x + U_z h + b_z)",
           n: "tanh(W_n x + b_n + r * (U_n h + b_hn))", h: "(1 - z) * n + z * h"}})Y"},
      {"{kind: lstm, name: rnn, units: 16, forget_bias: 1}",
       R"Y({kind: cell, name: rnn, units: 16, params: {W: , U: {init: {kind: orthogonal}},
           b: {blocks: {f: {kind: constant, value: 1}}}}, step: {
           i: "sigmoid(W_i x + U_i h + b_i)", f: "sigmoid(W_f x + U_f h + b_f)", g: "tanh(W_g x + U_g h + b_g)",
           o: "sigmoid(W_o x + U_o h + b_o)", c: "f * c + i * g", h: "o * tanh(c)"}})Y"}};
  for (const auto& [hand, eq] : pairs) {
    INFO(hand);
    unroll::testing::TempDir t;
    for (const std::string& bptt : {std::string(), std::string(", bptt: {k1: 4, k2: 6}")}) {
      INFO(bptt);
      const RunResult a = unroll::testing::run_text(t, recall_experiment(hand, bptt), "hand", {}, 2);
      const RunResult b = unroll::testing::run_text(t, recall_experiment(eq, bptt), "eq", {}, 2);
      CHECK(b.final_metrics.at("train_loss") == Approx(a.final_metrics.at("train_loss")).epsilon(1e-3));
      CHECK(b.final_metrics.at("test_loss") == Approx(a.final_metrics.at("test_loss")).epsilon(1e-3));
      CHECK(std::abs(b.final_metrics.at("test_accuracy") - a.final_metrics.at("test_accuracy")) <= 0.01);
      CHECK(a.final_metrics.at("test_accuracy") > 0.4);  // it learned something (chance: 0.25)
    }
  }
}

TEST_CASE("equation cells: stateful truncated BPTT, checkpoint and resume continue exactly", "[cells][checkpoint]") {
  unroll::testing::TempDir t;
  const std::string mgu = R"Y({kind: mgu, name: rnn, units: 8})Y";
  const std::string text = recall_experiment(mgu, ", bptt: {k1: 3, k2: 5}");
  unroll::testing::run_text(t, text, "full");
  unroll::testing::run_text(t, text, "part", {"train.epochs=2"});
  Experiment e = load_experiment(t.file("part.yaml"), {}, unroll::testing::host());
  RunOptions o;
  o.out_dir = t.file("part");
  o.threads = 1;
  o.quiet = true;
  o.resume = true;
  const RunResult r = run_experiment(e, unroll::testing::host(), o);
  CHECK(r.epochs == 4);
  CHECK(unroll::testing::metrics_without_seconds(t.file("part/metrics.csv")) ==
        unroll::testing::metrics_without_seconds(t.file("full/metrics.csv")));
}

TEST_CASE("equation cells: the memory estimate counts the cell's parameters and kept values", "[cells]") {
  for (const std::string& yaml : {std::string("{kind: mgu, units: 5}"), kGru}) {
    INFO(yaml);
    const Node block = validate_component(parse_yaml(yaml, "<test>"), Kind::Layer, unroll::testing::host());
    const ComponentTable::Entry* e = unroll::testing::host().registry().find(Kind::Layer, block.at("kind").text());
    REQUIRE(e != nullptr);
    REQUIRE(e->footprint);
    const LayerFootprint f = e->footprint(Options(block, &e->schema), 3);
    auto l = make_layer(yaml, 3);
    double params = 0;
    for (Param* p : l->params()) params += static_cast<double>(p->value.size());
    CHECK(f.params == params);
    CHECK(f.output_size == l->output_size());
    // At least the state history and the hoisted products; at most a few values per node.
    CHECK(f.floats_per_column >= 2 * l->output_size());
    CHECK(f.floats_per_column <= 20 * l->output_size());
  }
}
