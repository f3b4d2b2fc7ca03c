// Truncated BPTT (host/bptt.hpp): windows against hand-composed forward/backward references,
// state carry and reset, and the trainer's BPTT outputs (grad_lags.csv, grad_norm, clip_rate).
#include <catch2/catch.hpp>
#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include "support.hpp"
#include "unroll/host/bptt.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/trainer.hpp"
#include "unroll/loss.hpp"

using namespace unroll;

namespace {

constexpr int kF = 3, kC = 4, kB = 4;

/// A model built exactly as the trainer builds it (validated blocks, initializers from seed).
struct Net {
  std::unique_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  std::vector<Param*> params;
};

Net make_net(const std::string& model_yaml, uint64_t seed = 3) {
  const std::string text = "name: bptt\nseed: " + std::to_string(seed) + "\ndata: {kind: xor}\nmodel: " + model_yaml +
                           "\nloss: {kind: cross_entropy}\noptimizer: {kind: sgd, lr: 0.1}\n";
  const Node cfg = resolve_experiment(parse_yaml(text, "<bptt-test>"), testing::host(), ".");
  Net n;
  n.model = std::make_unique<Model>(cfg.at("model"), kF, testing::host(), seed, ".");
  n.model->initialize(testing::host(), seed, ".");
  n.loss = testing::make_loss("{kind: cross_entropy}");
  n.params = n.model->params();
  return n;
}

const char* kElman = "[{kind: elman, units: 5}, {kind: dense, units: 4}]";
const char* kLstm = "[{kind: lstm, units: 4}, {kind: dense, units: 4}]";
const char* kStack = "[{kind: elman, units: 4, activation: relu}, {kind: lstm, units: 3}, {kind: dense, units: 4}]";

Seq random_seq(int T, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  Seq x;
  x.resize(kF, T, kB);
  for (Eigen::Index i = 0; i < x.data.size(); ++i) x.data.data()[i] = d(g);
  return x;
}

/// Random labels at every step (steps = T) or the last step (steps = 1); one masked column.
Targets random_targets(int T, bool every, unsigned seed) {
  std::mt19937 g(seed);
  Targets y;
  y.steps = every ? T : 1;
  y.batch = kB;
  y.labels.resize(static_cast<size_t>(y.steps) * kB);
  for (auto& l : y.labels) l = static_cast<int32_t>(g() % kC);
  y.labels[1] = -1;
  return y;
}

Seq steps_of(const Seq& x, int from, int to) {
  Seq s;
  s.resize(x.features(), to - from, x.batch);
  s.data = x.data.middleCols(static_cast<Eigen::Index>(from) * x.batch, static_cast<Eigen::Index>(to - from) * x.batch);
  return s;
}

Matrix flat_grads(const std::vector<Param*>& ps) {
  Eigen::Index n = 0;
  for (Param* p : ps) n += p->grad.size();
  Matrix g(n, 1);
  n = 0;
  for (Param* p : ps) {
    g.middleRows(n, p->grad.size()) = Eigen::Map<const Matrix>(p->grad.data(), p->grad.size(), 1);
    n += p->grad.size();
  }
  return g;
}

void zero_grads(const std::vector<Param*>& ps) {
  for (Param* p : ps) p->grad.setZero();
}

/// Bptt's windows with no parameter update: the gradient of each window that had a loss.
std::vector<Matrix> bptt_grads(Net& n, const Seq& x, const Targets& y, BpttSettings s) {
  std::vector<Matrix> out;
  zero_grads(n.params);
  Bptt b;
  b.start(*n.model, *n.loss, x, y, s);
  while (const BpttWindow* w = b.next()) {
    b.forward();
    b.backward();
    if (!w->has_loss) continue;
    out.push_back(flat_grads(n.params));
    zero_grads(n.params);
  }
  return out;
}

/// Reference: forward `x` (steps [from, to) of the sequence) from the model's current state,
/// loss over steps [loss_from, to) of the sequence (or the last step), mean over non-masked
/// columns, backward. Returns the parameter gradient.
Matrix window_reference(Net& n, const Seq& x_all, const Targets& y, int from, int to, int loss_from) {
  zero_grads(n.params);
  const Seq x = steps_of(x_all, from, to);
  const Seq& out = n.model->forward(x, Mode::Train);
  const Eigen::Index c0 = static_cast<Eigen::Index>(loss_from - from) * kB;
  const Eigen::Index nc = static_cast<Eigen::Index>(to - loss_from) * kB;
  Targets t;
  slice_targets(y, y.steps == 1 ? 0 : static_cast<Eigen::Index>(loss_from) * kB, nc, to - loss_from, t);
  Matrix g;
  n.loss->evaluate(out.data.middleCols(c0, nc), t, &g);
  long count = 0;
  for (int32_t l : t.labels) count += l >= 0;
  Seq dy;
  dy.resize(out.features(), to - from, kB);
  dy.data.setZero();
  dy.data.middleCols(c0, nc) = g / static_cast<Scalar>(count);
  n.model->backward(dy);
  Matrix r = flat_grads(n.params);
  zero_grads(n.params);
  return r;
}

/// The recurrent layers' states after step `t` of a plain forward over x from zero state.
std::vector<std::vector<Matrix>> states_after(Net& n, const Seq& x, int t) {
  n.model->reset_state(kB);
  n.model->forward(steps_of(x, 0, t + 1), Mode::Eval);
  std::vector<std::vector<Matrix>> s;
  for (auto& l : n.model->layers())
    if (l->is_recurrent()) s.push_back(l->state());
  return s;
}

void set_states(Net& n, const std::vector<std::vector<Matrix>>& s) {
  size_t i = 0;
  for (auto& l : n.model->layers())
    if (l->is_recurrent()) l->set_state(s[i++]);
}

double rel_diff(const Matrix& a, const Matrix& b) {
  return (a - b).norm() / std::max(1e-12, static_cast<double>(b.norm()));
}

}  // namespace

TEST_CASE("truncated BPTT with k1 = k2 = T gives the full-BPTT gradient", "[bptt]") {
  const int T = 7;
  for (const char* arch : {kElman, kLstm, kStack}) {
    for (bool every : {false, true}) {
      INFO("model " << arch << ", every-step loss " << every);
      Net n = make_net(arch);
      const Seq x = random_seq(T, 11);
      const Targets y = random_targets(T, every, 12);
      n.model->reset_state(kB);
      const Matrix full = window_reference(n, x, y, 0, T, every ? 0 : T - 1);
      REQUIRE(full.norm() > 0);
      for (int k : {0, T, T + 3}) {
        const auto g = bptt_grads(n, x, y, BpttSettings{k, k, every, false});
        REQUIRE(g.size() == 1);
        CHECK(rel_diff(g[0], full) <= 1e-6);
      }
    }
  }
}

TEST_CASE("a truncated gradient equals the explicitly truncated reference", "[bptt]") {
  const int T = 6;
  for (const char* arch : {kElman, kLstm}) {
    INFO("model " << arch);
    Net n = make_net(arch);
    const Seq x = random_seq(T, 21);

    SECTION("k1 = k2 = 3, every-step loss: two disjoint windows, state carried, gradient cut") {
      const Targets y = random_targets(T, true, 22);
      const auto g = bptt_grads(n, x, y, BpttSettings{3, 3, true, false});
      REQUIRE(g.size() == 2);
      n.model->reset_state(kB);
      const Matrix r1 = window_reference(n, x, y, 0, 3, 0);
      set_states(n, states_after(n, x, 2));
      const Matrix r2 = window_reference(n, x, y, 3, 6, 3);
      CHECK(rel_diff(g[0], r1) <= 1e-6);
      CHECK(rel_diff(g[1], r2) <= 1e-6);
      // The cut matters: back-propagated through all 6 steps, the loss of steps 3-5 gives another
      // gradient.
      n.model->reset_state(kB);
      const Matrix full = window_reference(n, x, y, 0, T, 3);
      CHECK(rel_diff(g[1], full) > 1e-3);
    }

    SECTION("k1 = 2, k2 = 4, every-step loss: overlapping windows") {
      const Targets y = random_targets(T, true, 23);
      const auto g = bptt_grads(n, x, y, BpttSettings{2, 4, true, false});
      REQUIRE(g.size() == 3);
      n.model->reset_state(kB);
      const Matrix r1 = window_reference(n, x, y, 0, 2, 0);  // steps 0-1
      n.model->reset_state(kB);
      const Matrix r2 = window_reference(n, x, y, 0, 4, 2);  // loss 2-3, back through 0-3
      set_states(n, states_after(n, x, 1));
      const Matrix r3 = window_reference(n, x, y, 2, 6, 4);  // loss 4-5, back through 2-5
      CHECK(rel_diff(g[0], r1) <= 1e-6);
      CHECK(rel_diff(g[1], r2) <= 1e-6);
      CHECK(rel_diff(g[2], r3) <= 1e-6);
    }

    SECTION("k1 = k2 = 3, last-step loss: only the last window back-propagates, 3 steps deep") {
      const Targets y = random_targets(T, false, 24);
      const auto g = bptt_grads(n, x, y, BpttSettings{3, 3, false, false});
      REQUIRE(g.size() == 1);
      set_states(n, states_after(n, x, 2));
      const Matrix r = window_reference(n, x, y, 3, 6, 5);
      CHECK(rel_diff(g[0], r) <= 1e-6);
      n.model->reset_state(kB);
      const Matrix full = window_reference(n, x, y, 0, T, 5);
      CHECK(rel_diff(g[0], full) > 1e-3);
    }
  }
}

TEST_CASE("windows report their bounds and loss columns", "[bptt]") {
  Net n = make_net(kElman);
  const int T = 7;
  const Seq x = random_seq(T, 31);
  const Targets y = random_targets(T, true, 32);
  std::vector<std::array<int, 4>> seen;  // start, end, first_loss, has_loss
  int forwards = 0;
  Bptt b;
  auto run = [&](const Targets& targets, BpttSettings s) {
    b.start(*n.model, *n.loss, x, targets, s);
    while (const BpttWindow* w = b.next()) {
      ++forwards;
      b.forward();
      b.backward();
      seen.push_back({w->start, w->end, w->first_loss, w->has_loss});
      zero_grads(n.params);
    }
  };
  run(y, BpttSettings{2, 5, true, false});
  const std::vector<std::array<int, 4>> want{{0, 2, 0, 1}, {0, 4, 2, 1}, {1, 6, 4, 1}, {2, 7, 6, 1}};
  CHECK(seen == want);
  CHECK(forwards == 4);

  seen.clear();
  const Targets last = random_targets(T, false, 33);
  run(last, BpttSettings{3, 3, false, false});
  CHECK(seen == std::vector<std::array<int, 4>>{{0, 3, 6, 0}, {3, 6, 6, 0}, {4, 7, 6, 1}});
}

TEST_CASE("state is carried across windows and, when stateful, across batches, reset otherwise", "[bptt]") {
  const int T = 6;
  for (const char* arch : {kElman, kLstm}) {
    INFO("model " << arch);
    Net n = make_net(arch);
    const Seq x1 = random_seq(T, 41), x2 = random_seq(T, 42);
    const Targets y = random_targets(T, true, 43);
    // The outputs of a plain forward over the stream x1 x2, and over x2 alone from zeros.
    Seq both;
    both.resize(kF, 2 * T, kB);
    both.data << x1.data, x2.data;
    n.model->reset_state(kB);
    const Matrix stream = n.model->forward(both, Mode::Eval).data;
    n.model->reset_state(kB);
    const Matrix fresh = n.model->forward(x2, Mode::Eval).data;
    std::vector<Matrix> carried;
    for (auto& l : n.model->layers())
      if (l->is_recurrent()) carried.push_back(l->state()[0]);

    // Window outputs collected after each forward (no update: parameters stay fixed).
    Matrix got(stream.rows(), static_cast<Eigen::Index>(T) * kB);
    Bptt b;
    auto run = [&](const Seq& x, BpttSettings s) {
      b.start(*n.model, *n.loss, x, y, s);
      while (const BpttWindow* w = b.next()) {
        b.forward();
        if (w->has_loss)
          got.middleCols(static_cast<Eigen::Index>(w->first_loss) * kB, w->ncols) =
              w->outputs->data.middleCols(w->col0, w->ncols);
        b.backward();
        zero_grads(n.params);
      }
    };
    for (auto [k1, k2] : {std::pair{2, 2}, std::pair{3, 3}, std::pair{2, 4}}) {
      INFO("k1 " << k1 << " k2 " << k2);
      run(x1, BpttSettings{k1, k2, true, false});
      CHECK((got - stream.leftCols(got.cols())).cwiseAbs().maxCoeff() <= 1e-5f);
      run(x1, BpttSettings{k1, k2, true, false});
      run(x2, BpttSettings{k1, k2, true, true});
      CHECK((got - stream.rightCols(got.cols())).cwiseAbs().maxCoeff() <= 1e-5f);
      // A new batch without stateful starts from zeros, whatever came before.
      run(x2, BpttSettings{k1, k2, true, false});
      CHECK((got - fresh).cwiseAbs().maxCoeff() <= 1e-5f);
      CHECK((stream.rightCols(got.cols()) - fresh).cwiseAbs().maxCoeff() > 1e-3f);
      // After the batch the model holds the state after its last step.
      size_t i = 0;
      for (auto& l : n.model->layers())
        if (l->is_recurrent()) CHECK((l->state()[0] - carried[i++]).cwiseAbs().maxCoeff() <= 1e-5f);
    }
  }
}

namespace {

const char* kRecall = R"(name: bptt_e2e
seed: 5
data: {kind: delayed_recall, lag: 3, alphabet: 4, length: 12, samples: 96, test_samples: 32, validation: 32}
model:
  - {kind: elman, units: 12}
  - {kind: dense, units: 4}
loss: {kind: cross_entropy}
optimizer: {kind: adam, lr: 0.01}
train:
  epochs: 2
  batch: 16
  bptt: {k1: 4, k2: 6}
  clip: {norm: 0.001}
  diagnostics: {grad_lags: true}
)";

size_t column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  REQUIRE(it != header.end());
  return static_cast<size_t>(it - header.begin());
}

}  // namespace

TEST_CASE("a truncated-BPTT run writes grad_lags.csv and grad_norm/clip_rate columns", "[bptt][e2e]") {
  testing::TempDir dir;
  const RunResult r = testing::run_text(dir, kRecall, "run");
  CHECK(r.epochs == 2);

  const auto m = testing::read_csv(dir.file("run/metrics.csv"));
  REQUIRE(m.size() == 3);
  const size_t gn = column(m[0], "grad_norm"), cr = column(m[0], "clip_rate");
  for (size_t i = 1; i < m.size(); ++i) {
    CHECK(std::stod(m[i][gn]) > 0.001);
    CHECK(std::stod(m[i][cr]) == 1.0);  // every update exceeds the tiny clip norm
  }

  const auto lags = testing::read_csv(dir.file("run/grad_lags.csv"));
  REQUIRE(lags.at(0) == std::vector<std::string>{"epoch", "layer", "lag", "grad_norm"});
  std::set<int> seen_lags;
  std::set<int> epochs;
  for (size_t i = 1; i < lags.size(); ++i) {
    REQUIRE(lags[i].size() == 4);
    CHECK(lags[i][1] == "0");  // one recurrent layer
    epochs.insert(std::stoi(lags[i][0]));
    seen_lags.insert(std::stoi(lags[i][2]));
    CHECK(std::stod(lags[i][3]) >= 0);
  }
  CHECK(epochs == std::set<int>{0, 1, 2});              // epoch 0: at initialization, before any update
  CHECK(seen_lags == std::set<int>{0, 1, 2, 3, 4, 5});  // 0 .. k2-1

  // Without clipping nothing is clipped; full BPTT reaches lags up to T-1.
  testing::run_text(dir, kRecall, "full", {"train.clip.norm=0", "train.bptt.k1=0", "train.bptt.k2=0"});
  const auto m2 = testing::read_csv(dir.file("full/metrics.csv"));
  CHECK(std::stod(m2[1][column(m2[0], "clip_rate")]) == 0.0);
  int max_lag = 0;
  for (const auto& row : testing::read_csv(dir.file("full/grad_lags.csv")))
    if (row[0] != "epoch") max_lag = std::max(max_lag, std::stoi(row[2]));
  CHECK(max_lag == 11);
}

TEST_CASE("grad_lags' epoch-0 rows measure the untrained net and change no training number", "[bptt][e2e]") {
  // The adding problem's loss is at the last step only, so lag k's norm is the error carried k
  // steps back: a tanh Elman net with small recurrent weights makes it vanish geometrically.
  testing::TempDir dir;
  const std::vector<std::string> sets{
      "data={kind: adding, length: 30, samples: 96, test_samples: 32, validation: 32}",
      "model=[{kind: elman, units: 12, activation: tanh, recurrent_init: {kind: gaussian, std: 0.05}}, "
      "{kind: last_step}, {kind: dense, units: 1}]",
      "loss={kind: squared_error}",
      "train.bptt.k1=0",
      "train.bptt.k2=0",
      "train.clip.norm=1"};
  testing::run_text(dir, kRecall, "on", sets);
  auto off = sets;
  off.push_back("train.diagnostics.grad_lags=false");
  testing::run_text(dir, kRecall, "off", off);
  CHECK(testing::metrics_without_seconds(dir.file("on/metrics.csv")) ==
        testing::metrics_without_seconds(dir.file("off/metrics.csv")));
  CHECK(read_file(dir.file("on/checkpoint/elman0.U.npy")) == read_file(dir.file("off/checkpoint/elman0.U.npy")));

  std::map<int, double> init;
  for (const auto& row : testing::read_csv(dir.file("on/grad_lags.csv")))
    if (row[0] == "0") init[std::stoi(row[2])] = std::stod(row[3]);
  REQUIRE(init.size() == 30);  // lags 0 .. T-1
  CHECK(init[0] > 0);
  // Strictly smaller at each lag until the error underflows: the run's threads flush subnormal
  // floats (below 1.2e-38) to zero, so a norm past that is exactly 0 from there on.
  for (int k = 1; k < 30; ++k) {
    if (init[k - 1] > 0)
      CHECK(init[k] < init[k - 1]);
    else
      CHECK(init[k] == 0);
  }
  CHECK(init[10] < 1e-3 * init[0]);
}

TEST_CASE("memory-task runs are deterministic per seed", "[bptt][e2e]") {
  testing::TempDir dir;
  const std::vector<std::string> tasks{
      "{kind: delayed_recall, lag: 3, alphabet: 4, length: 12, samples: 96, test_samples: 32, validation: 32}",
      "{kind: copy, symbols: 3, alphabet: 4, delay: 2, samples: 96, test_samples: 32, validation: 32}",
  };
  for (size_t i = 0; i < tasks.size(); ++i) {
    INFO(tasks[i]);
    std::vector<std::string> sets{"data=" + tasks[i], "train.clip.norm=1", "data.validation=32"};
    // The index named first: GCC 12 misreads "a" + std::to_string(i) as an overlapping copy
    // (-Wrestrict, a false positive: GCC bug 105651).
    const std::string n = std::to_string(i);
    const std::string a = "a" + n, b = "b" + n, c = "c" + n;
    testing::run_text(dir, kRecall, a, sets);
    testing::run_text(dir, kRecall, b, sets);
    auto other = sets;
    other.push_back("seed=6");
    testing::run_text(dir, kRecall, c, other);
    const std::string ma = testing::metrics_without_seconds(dir.file(a + "/metrics.csv"));
    CHECK(ma == testing::metrics_without_seconds(dir.file(b + "/metrics.csv")));
    CHECK(read_file(dir.file(a + "/grad_lags.csv")) == read_file(dir.file(b + "/grad_lags.csv")));
    CHECK(ma != testing::metrics_without_seconds(dir.file(c + "/metrics.csv")));
  }
}

TEST_CASE("two threads give the same numbers run after run (recurrent)", "[bptt][e2e][parallel]") {
  // Batches of 64 sequences: each thread runs the LSTM's time loop on 32 of them.
  testing::TempDir dir;
  const std::vector<std::string> sets{"model=[{kind: lstm, units: 16}, {kind: dense, units: 4}]", "data.samples=256",
                                      "train.batch=64"};
  for (const char* run : {"a", "b"}) testing::run_text(dir, kRecall, run, sets, 2);
  REQUIRE(testing::read_csv(dir.file("a/metrics.csv")).size() == 3);
  CHECK(testing::metrics_without_seconds(dir.file("a/metrics.csv")) ==
        testing::metrics_without_seconds(dir.file("b/metrics.csv")));
  CHECK(read_file(dir.file("a/grad_lags.csv")) == read_file(dir.file("b/grad_lags.csv")));
}
