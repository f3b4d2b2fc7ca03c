// Bounded-memory BPTT (train.bptt.memory, RecurrentLayer's checkpoints and recomputation):
// the same outputs, states and gradients as full storage, for every built-in cell and an
// equation cell, through the truncated-BPTT driver (k1 != k2, masks, stateful streams), with
// 1 and 2 threads; finite differences through time with the budget on; and the refusals.
#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "support.hpp"
#include "unroll/gradcheck.hpp"
#include "unroll/host/bptt.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/model.hpp"
#include "unroll/loss.hpp"
#include "unroll/parallel.hpp"

using namespace unroll;
using testing::make_layer;

namespace {

// Elman with 16 units: Eigen computes products with m + n + k < 20 coefficient by coefficient
// and larger ones with its blocked kernel, whose sums are grouped differently; 16 units keep the
// input product of a 1-step segment (16 x 3 times 3 x 5) on the blocked kernel, like the whole
// window's, so that the comparison with full storage can be bit for bit.
const std::vector<std::string> kCells = {
    "{kind: elman, units: 16}",
    "{kind: elman, units: 16, activation: relu}",
    "{kind: lstm, units: 5}",
    "{kind: gru, units: 5}",
    "{kind: mgu, units: 5}",
    R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {f: "sigmoid(W_f x + U_f h + b_f)",
        h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"}})Y"};

Matrix normal(Eigen::Index rows, Eigen::Index cols, std::mt19937& g, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  Matrix m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = d(g);
  return m;
}

void randomize(Layer& l, unsigned seed) {
  std::mt19937 g(seed);
  for (Param* p : l.params()) p->value = normal(p->value.rows(), p->value.cols(), g, 0.5f);
}

bool same(const Matrix& a, const Matrix& b) { return a.rows() == b.rows() && a.cols() == b.cols() && a == b; }

/// Everything a forward + backward of one layer produces.
struct Pass {
  Matrix y, dx;
  std::vector<Matrix> state, dstate, grads;
  std::vector<std::vector<Matrix>> states_at;
  std::vector<double> norms;
};

/// One forward (from a random initial state) and backward of a fresh layer, storage `s`.
Pass run_layer(const std::string& yaml, const StepStorage& s, int T, int B) {
  auto l = make_layer(yaml, 3);
  randomize(*l, 11);
  if (!s.full()) REQUIRE(l->set_step_storage(s));
  std::mt19937 g(7);
  Seq x, y, dx, dy;
  x.resize(3, T, B);
  x.data = normal(3, static_cast<Eigen::Index>(T) * B, g);
  l->reset_state(B);
  std::vector<Matrix> s0 = l->state();
  for (Matrix& m : s0) m = normal(m.rows(), m.cols(), g, 0.5f);
  l->set_state(s0);
  l->forward(x, y, Mode::Train);
  Pass p;
  p.y = y.data;
  p.state = l->state();
  // Read in an order that makes the layer recompute segments (the last one is still there).
  // A recomputed state is the forward's own, bit for bit: h_t is the output at step t.
  for (int t = T - 1; t >= 0; t -= 2) p.states_at.push_back(l->state_at(t));
  for (int t = 0; t < T; t += 2) p.states_at.push_back(l->state_at(t));
  for (int t = 0; t < T; ++t) CHECK(same(l->state_at(t)[0], y.step(t)));
  dy.resize(y.features(), T, B);
  dy.data = normal(y.features(), static_cast<Eigen::Index>(T) * B, g);
  l->backward(dy, dx, true);
  p.dx = dx.data;
  p.dstate = l->initial_state_grad();
  for (Param* q : l->params()) p.grads.push_back(q->grad);
  p.norms = l->hidden_grad_norms();
  return p;
}

void check_same_numbers(const Pass& full, const Pass& part) {
  // Recomputation repeats the forward's arithmetic column for column: states, outputs and the
  // gradients that flow back through the steps are bit-identical.
  CHECK(same(full.y, part.y));
  for (size_t k = 0; k < full.state.size(); ++k) CHECK(same(full.state[k], part.state[k]));
  for (size_t i = 0; i < full.states_at.size(); ++i)
    for (size_t k = 0; k < full.states_at[i].size(); ++k) CHECK(same(full.states_at[i][k], part.states_at[i][k]));
  for (size_t k = 0; k < full.dstate.size(); ++k) CHECK(same(full.dstate[k], part.dstate[k]));
  CHECK(full.norms == part.norms);
  // dx = W^T dA is one product per segment instead of one over the window: Eigen's kernel may
  // group a column's sum differently for another number of columns (it does for the 3-feature
  // input of the Elman layer). Parameter gradients are summed segment by segment instead of in
  // one product over all steps. Both: the same terms, equal to float rounding.
  CHECK(part.dx.isApprox(full.dx, 1e-5f));
  REQUIRE(full.grads.size() == part.grads.size());
  for (size_t i = 0; i < full.grads.size(); ++i) {
    INFO("parameter " << i);
    CHECK(part.grads[i].isApprox(full.grads[i], 1e-5f));
  }
}

}  // namespace

TEST_CASE("bounded-memory BPTT: every cell gives full storage's numbers", "[bptt][memory]") {
  const int T = 10, B = 5;
  for (const std::string& yaml : kCells) {
    const Pass full = run_layer(yaml, StepStorage{}, T, B);
    for (int every : {1, 3, 4, 9, 10, 25}) {
      INFO(yaml << ", every " << every);
      check_same_numbers(full, run_layer(yaml, StepStorage{every, 0}, T, B));
    }
    // A byte budget of 60% of what full storage keeps forces segments (floats per step and sample:
    // elman 2 H, lstm and gru 11 H; the equation cells are covered by `every`).
    const double floats = yaml.find("elman") != std::string::npos                                           ? 2 * 16
                          : yaml.find("lstm") != std::string::npos || yaml.find("gru") != std::string::npos ? 11 * 5
                                                                                                            : 0;
    if (floats > 0) {
      const double budget = 0.6 * 4 * floats * T * B;
      INFO(yaml << ", budget " << budget << " bytes");
      check_same_numbers(full, run_layer(yaml, StepStorage{0, budget}, T, B));
    }
    // A budget that holds everything keeps everything: the very same numbers.
    const Pass roomy = run_layer(yaml, StepStorage{0, 1e9}, T, B);
    for (size_t i = 0; i < full.grads.size(); ++i) CHECK(same(full.grads[i], roomy.grads[i]));
  }
}

TEST_CASE("bounded-memory BPTT: 1 and 2 threads give the same numbers", "[bptt][memory][parallel]") {
  // 40 samples: 2 threads split them 32 + 8.
  const int T = 9, B = 40;
  for (const std::string& yaml : {kCells[2], kCells[3], kCells[5]}) {
    INFO(yaml);
    configure_threads(1);
    const Pass one = run_layer(yaml, StepStorage{4, 0}, T, B);
    configure_threads(2);
    const Pass two = run_layer(yaml, StepStorage{4, 0}, T, B);
    const Pass full2 = run_layer(yaml, StepStorage{}, T, B);
    configure_threads(1);
    CHECK(same(one.y, two.y));
    CHECK(same(one.dx, two.dx));
    CHECK(one.norms == two.norms);
    for (size_t i = 0; i < one.grads.size(); ++i) CHECK(two.grads[i].isApprox(one.grads[i], 1e-5f));
    check_same_numbers(full2, two);
  }
}

TEST_CASE("bounded-memory BPTT: finite-difference gradients through time", "[bptt][memory][gradcheck]") {
  for (std::string yaml : kCells) {
    // 5 units, as the full-storage gradient checks (16 relu units at these weights put many
    // pre-activations near the kink, where finite differences say little).
    if (const size_t at = yaml.find("units: 16"); at != std::string::npos) yaml.replace(at, 9, "units: 5");
    std::vector<StepStorage> settings = {StepStorage{2, 0}, StepStorage{3, 0}};
    // 2000 bytes for 7 steps of 3 samples: segments of 7 steps (elman: all fits), 2 (lstm, gru).
    if (yaml.find("mgu") == std::string::npos && yaml.find("cell") == std::string::npos)
      settings.push_back(StepStorage{0, 2000});
    for (const StepStorage& s : settings) {
      INFO(yaml << ", every " << s.every << ", budget " << s.budget_bytes);
      auto l = make_layer(yaml, 3);
      randomize(*l, 11);
      REQUIRE(l->set_step_storage(s));
      GradCheckOptions opt;
      opt.steps = 7;
      opt.seed = 5;
      const GradCheckResult r = check_layer_gradients(*l, opt);
      INFO(r.summary());
      REQUIRE(r.ok);
      CHECK(r.checked > 0);
    }
  }
}

namespace {

constexpr int kF = 3, kB = 4;

struct Net {
  std::unique_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  std::vector<Param*> params;
};

Net make_net(const std::string& model_yaml, const StepStorage& s) {
  const std::string text = "name: m\nseed: 3\ndata: {kind: xor}\nmodel: " + model_yaml +
                           "\nloss: {kind: cross_entropy}\noptimizer: {kind: sgd, lr: 0.1}\n";
  const Node cfg = resolve_experiment(parse_yaml(text, "<memory-test>"), testing::host(), ".");
  Net n;
  n.model = std::make_unique<Model>(cfg.at("model"), kF, testing::host(), 3, ".");
  n.model->initialize(testing::host(), 3, ".");
  n.loss = testing::make_loss("{kind: cross_entropy}");
  n.params = n.model->params();
  for (auto& l : n.model->layers()) bound_step_storage(*l, s, "<memory-test>");
  return n;
}

/// Two batches of Bptt windows with an SGD step after each window with a loss (so a state read
/// after the update would be wrong); returns every window's gradient and the final outputs.
std::vector<Matrix> train_two_batches(Net& n, BpttSettings s, unsigned seed) {
  std::mt19937 g(seed);
  const int T = 11;
  std::vector<Matrix> out;
  n.model->reset_state(kB);  // as the trainer does at the start of an epoch (stateful streams start from zeros)
  for (int batch = 0; batch < 2; ++batch) {
    Seq x;
    x.resize(kF, T, kB);
    x.data = normal(kF, static_cast<Eigen::Index>(T) * kB, g);
    Targets y;
    y.steps = s.every_step ? T : 1;
    y.batch = kB;
    y.labels.resize(static_cast<size_t>(y.steps) * kB);
    for (auto& l : y.labels) l = static_cast<int32_t>(g() % 4);
    y.labels[1] = -1;  // a masked column
    if (s.every_step) y.labels[static_cast<size_t>(5 * kB + 2)] = -1;
    for (Param* p : n.params) p->grad.setZero();
    Bptt b;
    b.start(*n.model, *n.loss, x, y, s);
    while (const BpttWindow* w = b.next()) {
      b.forward();
      b.backward();
      if (!w->has_loss) continue;
      for (Param* p : n.params) {
        out.push_back(p->grad);
        p->value -= 0.5f * p->grad;
        p->grad.setZero();
      }
      out.push_back(w->outputs->data);
    }
  }
  for (auto& l : n.model->layers())
    if (l->is_recurrent())
      for (const Matrix& m : l->state()) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("bounded-memory BPTT: truncated windows, masks and stateful streams match full storage", "[bptt][memory]") {
  const char* stack =
      "[{kind: elman, units: 4, activation: relu}, {kind: lstm, units: 3}, {kind: gru, units: 3}, "
      "{kind: dense, units: 4}]";
  for (const BpttSettings s :
       {BpttSettings{0, 0, true, false}, BpttSettings{3, 5, true, false}, BpttSettings{4, 7, true, true},
        BpttSettings{2, 2, false, true}, BpttSettings{5, 0, true, true}}) {
    INFO("k1 " << s.k1 << " k2 " << s.k2 << (s.every_step ? " every-step" : " last-step")
               << (s.stateful ? " stateful" : ""));
    Net full = make_net(stack, StepStorage{});
    const std::vector<Matrix> a = train_two_batches(full, s, 9);
    // 2500 bytes: the elman layer fits whole, the lstm and gru layers run in segments of 4 steps.
    for (const StepStorage& m : {StepStorage{2, 0}, StepStorage{3, 0}, StepStorage{0, 2500}}) {
      INFO("every " << m.every << " budget " << m.budget_bytes);
      Net part = make_net(stack, m);
      const std::vector<Matrix> b = train_two_batches(part, s, 9);
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        INFO("item " << i);
        REQUIRE(a[i].size() == b[i].size());
        CHECK((a[i] - b[i]).cwiseAbs().maxCoeff() <= 1e-5f * std::max(1.0f, a[i].cwiseAbs().maxCoeff()));
      }
    }
  }
}

namespace {
// A recurrent layer that keeps its steps its own way and cannot recompute them.
class OwnLoop final : public Layer {
 public:
  int output_size() const override { return 2; }
  bool is_recurrent() const override { return true; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode) override { y = x; }
  void do_backward(const Seq& dy, Seq& dx, bool) override { dx = dy; }
};
}  // namespace

TEST_CASE("bounded-memory BPTT: refusals name the layer, the setting and the limit", "[bptt][memory]") {
  OwnLoop own;
  own.bind({"own0", 2});
  CHECK_NOTHROW(bound_step_storage(own, StepStorage{}, "x.yaml:3:5"));  // full storage needs nothing
  CHECK_THROWS_WITH(bound_step_storage(own, StepStorage{4, 0}, "x.yaml:3:5"),
                    Catch::Contains("x.yaml:3:5") && Catch::Contains("'own0' cannot recompute its steps") &&
                        Catch::Contains("RecurrentLayer"));

  // A budget below one checkpoint per step plus a step: the error gives the least that works.
  auto l = make_layer("{kind: lstm, units: 8}", 3);
  REQUIRE(l->set_step_storage(StepStorage{0, 100}));
  Seq x, y;
  x.resize(3, 50, 16);
  x.data.setOnes();
  l->reset_state(16);
  CHECK_THROWS_WITH(l->forward(x, y, Mode::Train),
                    Catch::Contains("train.bptt.memory.budget is 100 bytes, below the least") &&
                        Catch::Contains("50 steps x 16 samples") && Catch::Contains("a checkpoint every"));

  // Bad budgets in a file point at the line and column.
  testing::TempDir dir;
  const std::string text = R"(name: m
seed: 1
data: {kind: delayed_recall, lag: 2, alphabet: 4, length: 8, samples: 32, test_samples: 8}
model: [{kind: elman, units: 4}, {kind: dense, units: 4}]
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1}
train:
  epochs: 1
  batch: 8
  bptt: {memory: {budget: 12 parsecs}}
)";
  CHECK_THROWS_WITH(testing::run_text(dir, text, "bad"),
                    Catch::Contains("bad.yaml:10:") && Catch::Contains("'12 parsecs' is not a positive byte count"));
  CHECK_THROWS_WITH(
      testing::run_text(dir, text, "both", {"train.bptt.memory.budget=1MiB", "train.bptt.memory.every=3"}),
      Catch::Contains("every or budget, not both"));
}

TEST_CASE("bounded-memory BPTT: a run with checkpoints trains like one without", "[bptt][memory][e2e]") {
  const std::string text = R"(name: m
seed: 5
data: {kind: delayed_recall, lag: 3, alphabet: 4, length: 12, samples: 96, test_samples: 32, validation: 32}
model: [{kind: lstm, units: 8}, {kind: dense, units: 4}]
loss: {kind: cross_entropy}
optimizer: {kind: adam, lr: 0.01}
train: {epochs: 2, batch: 16, bptt: {k1: 4, k2: 6}}
)";
  testing::TempDir dir;
  const RunResult full = testing::run_text(dir, text, "full");
  const RunResult every = testing::run_text(dir, text, "every", {"train.bptt.memory.every=2"});
  const RunResult budget = testing::run_text(dir, text, "budget", {"train.bptt.memory.budget=20kB"});
  for (const RunResult* r : {&every, &budget})
    for (const char* m : {"train_loss", "val_loss", "test_loss"}) {
      INFO(m);
      CHECK(r->final_metrics.at(m) == Approx(full.final_metrics.at(m)).epsilon(1e-4));
    }
}
