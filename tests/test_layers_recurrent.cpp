// Recurrent layers (elman, lstm, gru, equation cells): gradients through time, the state lifecycle, and the
// forward equations against a naive double-precision reference.
#include <catch2/catch.hpp>
#include <cmath>

#include "support.hpp"
#include "unroll/gradcheck.hpp"

using namespace unroll;
using unroll::testing::make_layer;

namespace {

// The hand-written cells, and two equation cells (<unroll/cell.hpp>): an LSTM (two states) and a
// minimal gated unit (a recurrent product of an expression), which must keep the same contract.
const std::vector<std::string> kCells = {
    "{kind: elman, units: 4}",
    "{kind: elman, units: 4, activation: relu}",
    "{kind: lstm, units: 4}",
    "{kind: gru, units: 4}",
    R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {i: "sigmoid(W_i x + U_i h + b_i)",
        f: "sigmoid(W_f x + U_f h + b_f)", g: "tanh(W_g x + U_g h + b_g)", o: "sigmoid(W_o x + U_o h + b_o)",
        c: "f * c + i * g", h: "o * tanh(c)"}})Y",
    R"Y({kind: cell, units: 4, params: {W: , U: , b: }, step: {f: "sigmoid(W_f x + U_f h + b_f)",
        h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"}})Y"};

using unroll::testing::normal;
using unroll::testing::randomize;

Seq random_seq(int features, int steps, int batch, Rng& rng) {
  Seq s;
  s.resize(features, steps, batch);
  s.data = normal(features, static_cast<Eigen::Index>(steps) * batch, rng);
  return s;
}

Seq slice(const Seq& s, int t0, int steps) {
  Seq out;
  out.resize(s.features(), steps, s.batch);
  out.data = s.data.middleCols(static_cast<Eigen::Index>(t0) * s.batch, out.data.cols());
  return out;
}

std::vector<Matrix> random_state(Layer& l, int batch, Rng& rng) {
  l.reset_state(batch);
  std::vector<Matrix> s = l.state();
  for (Matrix& m : s) m = normal(m.rows(), m.cols(), rng, 0.5);
  return s;
}

void zero_grads(Layer& l) {
  for (Param* p : l.params()) p->grad.setZero();
}

double max_diff(const Matrix& a, const Matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return a.size() == 0 ? 0.0 : static_cast<double>((a - b).cwiseAbs().maxCoeff());
}

// Passes only the LAST step of the wrapped layer's output on (the rest is zero), so
// check_layer_gradients on it checks a last-step objective.
class LastStep final : public Layer {
 public:
  explicit LastStep(std::shared_ptr<Layer> inner) : inner_(std::move(inner)) {
    bind({inner_->name(), inner_->input_size()});
  }
  int output_size() const override { return inner_->output_size(); }
  std::vector<Param*> params() override { return inner_->params(); }
  bool is_recurrent() const override { return true; }
  void reset_state(int batch) override { inner_->reset_state(batch); }
  std::vector<Matrix> state() const override { return inner_->state(); }
  void set_state(const std::vector<Matrix>& s) override { inner_->set_state(s); }
  std::vector<Matrix> initial_state_grad() const override { return inner_->initial_state_grad(); }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    inner_->forward(x, y, mode);
    y.data.leftCols(y.data.cols() - y.batch).setZero();
  }
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    masked_ = dy;
    masked_.data.leftCols(dy.data.cols() - dy.batch).setZero();
    inner_->backward(masked_, dx, need_dx);
  }

 private:
  std::shared_ptr<Layer> inner_;
  Seq masked_;
};

// Two layers in sequence; its state is the first layer's state followed by the second's.
class Stack final : public Layer {
 public:
  Stack(std::shared_ptr<Layer> a, std::shared_ptr<Layer> b) : a_(std::move(a)), b_(std::move(b)) {
    bind({"stack", a_->input_size()});
  }
  int output_size() const override { return b_->output_size(); }
  std::vector<Param*> params() override {
    auto p = a_->params();
    for (Param* q : b_->params()) p.push_back(q);
    return p;
  }
  bool is_recurrent() const override { return true; }
  void reset_state(int batch) override {
    a_->reset_state(batch);
    b_->reset_state(batch);
  }
  std::vector<Matrix> state() const override { return join(a_->state(), b_->state()); }
  void set_state(const std::vector<Matrix>& s) override {
    const auto n = static_cast<std::ptrdiff_t>(a_->state().size());
    a_->set_state({s.begin(), s.begin() + n});
    b_->set_state({s.begin() + n, s.end()});
  }
  std::vector<Matrix> initial_state_grad() const override {
    return join(a_->initial_state_grad(), b_->initial_state_grad());
  }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    a_->forward(x, mid_, mode);
    b_->forward(mid_, y, mode);
  }
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    b_->backward(dy, dmid_, true);
    a_->backward(dmid_, dx, need_dx);
  }

 private:
  static std::vector<Matrix> join(std::vector<Matrix> a, const std::vector<Matrix>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  std::shared_ptr<Layer> a_, b_;
  Seq mid_, dmid_;
};

// ---- Naive double-precision reference cells (the equations of docs/recurrent.md) ----
using MatD = Eigen::MatrixXd;
MatD sigm(const MatD& a) { return (1.0 + (-a.array()).exp()).inverse().matrix(); }

// Runs the cell given by `yaml` over x from state s; returns the outputs (H x T*B).
MatD reference(const std::string& kind, bool relu, Layer& l, const Seq& x, std::vector<MatD> s) {
  auto p = l.params();
  const MatD W = p[0]->value.cast<double>(), U = p[1]->value.cast<double>(), b = p[2]->value.cast<double>();
  const Eigen::Index H = U.cols();
  MatD out(H, x.data.cols());
  for (int t = 0; t < x.steps; ++t) {
    const MatD xt = x.step(t).cast<double>();
    MatD& h = s[0];
    if (kind == "elman") {
      MatD a = W * xt + U * h;
      a.colwise() += b.col(0);
      h = relu ? MatD(a.cwiseMax(0.0)) : MatD(a.array().tanh().matrix());
    } else if (kind == "lstm") {
      MatD a = W * xt + U * h;
      a.colwise() += b.col(0);
      const MatD i = sigm(a.topRows(H)), f = sigm(a.middleRows(H, H)), g = a.middleRows(2 * H, H).array().tanh(),
                 o = sigm(a.bottomRows(H));
      s[1] = f.cwiseProduct(s[1]) + i.cwiseProduct(g);
      h = o.array() * s[1].array().tanh();
    } else {  // gru, reset gate after the recurrent product
      MatD a = W * xt, q = U * h;
      a.colwise() += b.col(0).head(3 * H);
      q.bottomRows(H).colwise() += b.col(0).tail(H);
      const MatD r = sigm(a.topRows(H) + q.topRows(H)), z = sigm(a.middleRows(H, H) + q.middleRows(H, H));
      const MatD n = (a.bottomRows(H).array() + r.array() * q.bottomRows(H).array()).tanh();
      h = (1.0 - z.array()) * n.array() + z.array() * h.array();
    }
    out.middleCols(static_cast<Eigen::Index>(t) * x.batch, x.batch) = h;
  }
  return out;
}

}  // namespace

TEST_CASE("recurrent layers compute their documented equations", "[layers][recurrent]") {
  // The LSTM's forget bias lives in b (its f block's initial value), so the equations add none.
  struct Case {
    std::string yaml, kind;
    bool relu;
  };
  const std::vector<Case> cases = {{"{kind: elman, units: 4}", "elman", false},
                                   {"{kind: elman, units: 4, activation: relu}", "elman", true},
                                   {"{kind: lstm, units: 4}", "lstm", false},
                                   {"{kind: lstm, units: 4, forget_bias: 0.3}", "lstm", false},
                                   {"{kind: gru, units: 4}", "gru", false}};
  for (const Case& c : cases) {
    INFO(c.yaml);
    auto l = make_layer(c.yaml, 3);
    randomize(*l, 7);
    Rng rng(3);
    const Seq x = random_seq(3, 4, 2, rng);
    const auto s0 = random_state(*l, 2, rng);
    std::vector<MatD> s0d;
    for (const Matrix& m : s0) s0d.push_back(m.cast<double>());
    l->set_state(s0);
    Seq y;
    l->forward(x, y, Mode::Eval);
    const MatD ref = reference(c.kind, c.relu, *l, x, s0d);
    CHECK((y.data.cast<double>() - ref).cwiseAbs().maxCoeff() < 1e-5);
  }
}

TEST_CASE("recurrent layers: parameters are stacked per gate with the documented shapes", "[layers][recurrent]") {
  auto lstm = make_layer("{kind: lstm, units: 5}", 3, "rnn1");
  auto gru = make_layer("{kind: gru, units: 5}", 3, "rnn2");
  auto elman = make_layer("{kind: elman, units: 5}", 3, "rnn0");
  REQUIRE(lstm->params().size() == 3);
  CHECK(lstm->params()[0]->name == "rnn1.W");
  CHECK(lstm->params()[1]->name == "rnn1.U");
  CHECK(lstm->params()[2]->name == "rnn1.b");
  CHECK(lstm->params()[0]->value.rows() == 20);
  CHECK(lstm->params()[1]->value.cols() == 5);
  CHECK(gru->params()[0]->value.rows() == 15);
  CHECK(gru->params()[2]->value.rows() == 20);  // b_r, b_z, b_n, b_hn
  CHECK(elman->params()[1]->value.rows() == 5);
  for (auto* l : {lstm.get(), gru.get(), elman.get()}) {
    CHECK(l->is_recurrent());
    CHECK(l->output_size() == 5);
    CHECK(l->params()[0]->fan_in == 3);
    CHECK(l->params()[0]->fan_out == 5);
    CHECK(l->params()[1]->fan_in == 5);
  }
}

TEST_CASE("recurrent layers: finite-difference gradients through time", "[layers][recurrent][gradcheck]") {
  for (const std::string& yaml : kCells) {
    for (int steps : {1, 5}) {
      for (bool last_step : {false, true}) {
        INFO(yaml << ", steps " << steps << (last_step ? ", last-step objective" : ", every-step objective"));
        auto l = make_layer(yaml, 3);
        randomize(*l, 11);
        GradCheckOptions opt;
        opt.steps = steps;
        opt.seed = 5;
        GradCheckResult r;
        if (last_step) {
          LastStep wrapped(l);
          r = check_layer_gradients(wrapped, opt);
        } else {
          r = check_layer_gradients(*l, opt);
        }
        INFO(r.summary());
        REQUIRE(r.ok);
        CHECK(r.checked > 0);
      }
    }
  }
}

TEST_CASE("recurrent layers: two stacked layers have correct gradients", "[layers][recurrent][gradcheck]") {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"{kind: elman, units: 4}", "{kind: lstm, units: 3}"},
      {"{kind: lstm, units: 4}", "{kind: gru, units: 3}"},
      {"{kind: gru, units: 4}", "{kind: elman, units: 3, activation: relu}"}};
  for (const auto& [first, second] : pairs) {
    INFO(first << " -> " << second);
    auto a = make_layer(first, 3, "rnn0");
    auto b = make_layer(second, 4, "rnn1");
    randomize(*a, 1);
    randomize(*b, 2);
    Stack net(a, b);
    GradCheckOptions opt;
    opt.steps = 4;
    const GradCheckResult r = check_layer_gradients(net, opt);
    INFO(r.summary());
    REQUIRE(r.ok);
  }
}

TEST_CASE("recurrent layers: the state carries across forward calls", "[layers][recurrent][state]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    Rng rng(9);
    const int B = 4;  // H * B * 4 bytes = 64: every step block has the same alignment
    const Seq x = random_seq(3, 10, B, rng);
    const auto s0 = random_state(*l, B, rng);

    Seq whole, first, second;
    l->set_state(s0);
    l->forward(x, whole, Mode::Train);
    const auto end_whole = l->state();

    l->set_state(s0);
    l->forward(slice(x, 0, 5), first, Mode::Train);
    l->forward(slice(x, 5, 5), second, Mode::Train);  // continues from the carried state
    const auto end_split = l->state();

    CHECK(first.data == whole.data.leftCols(5 * B));
    CHECK(second.data == whole.data.rightCols(5 * B));
    REQUIRE(end_whole.size() == end_split.size());
    for (size_t k = 0; k < end_whole.size(); ++k) CHECK(end_whole[k] == end_split[k]);
    // The state is h after the last step (and c for an LSTM).
    CHECK(end_whole[0] == whole.data.rightCols(B));
  }
}

TEST_CASE("recurrent layers: reset_state zeros the state, a new batch size resets it", "[layers][recurrent][state]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    Rng rng(4);
    const Seq x = random_seq(3, 3, 2, rng);
    Seq y, y_zero;
    l->set_state(random_state(*l, 2, rng));
    l->forward(x, y, Mode::Eval);
    REQUIRE(l->state()[0].cwiseAbs().maxCoeff() > 0);
    l->reset_state(5);
    for (const Matrix& m : l->state()) {
      CHECK(m.rows() == 4);
      CHECK(m.cols() == 5);
      CHECK(m.isZero(0));
    }
    // The state has 5 columns, the batch 2: the layer starts from zeros for 2.
    l->forward(x, y, Mode::Eval);
    l->reset_state(2);
    l->forward(x, y_zero, Mode::Eval);
    CHECK(y.data == y_zero.data);
  }
}

TEST_CASE("recurrent layers: set_state cuts the gradient, initial_state_grad is dL/d(state)",
          "[layers][recurrent][state]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    randomize(*l, 3);
    Rng rng(8);
    const int B = 2;
    const Seq x = random_seq(3, 8, B, rng);
    const Seq x1 = slice(x, 0, 4), x2 = slice(x, 4, 4);
    const auto s0 = random_state(*l, B, rng);
    Seq dy = random_seq(4, 8, B, rng), dy2 = slice(dy, 4, 4);

    // Full BPTT over 8 steps.
    Seq y, dx_full, dx2;
    zero_grads(*l);
    l->set_state(s0);
    l->forward(x, y, Mode::Train);
    l->backward(dy, dx_full, true);

    // The same stream split in two: the second backward stops at the boundary.
    l->set_state(s0);
    l->forward(x1, y, Mode::Train);
    const auto boundary = l->state();
    l->forward(x2, y, Mode::Train);
    zero_grads(*l);
    l->backward(dy2, dx2, true);
    std::vector<Matrix> grads;
    for (Param* p : l->params()) grads.push_back(p->grad);
    const auto ds = l->initial_state_grad();
    REQUIRE(dx2.data.cols() == x2.data.cols());  // nothing for the earlier steps
    // The later steps' input gradients do not depend on the earlier chunk's dy: full BPTT agrees.
    CHECK(max_diff(dx2.data, dx_full.data.rightCols(4 * B)) < 1e-5);

    // Starting explicitly from the boundary state gives the same gradients.
    Seq dx3;
    zero_grads(*l);
    l->set_state(boundary);
    l->forward(x2, y, Mode::Train);
    l->backward(dy2, dx3, true);
    CHECK(dx3.data == dx2.data);
    for (size_t k = 0; k < grads.size(); ++k) CHECK(l->params()[k]->grad == grads[k]);
    const auto ds3 = l->initial_state_grad();
    REQUIRE(ds3.size() == l->state().size());
    for (size_t k = 0; k < ds.size(); ++k) {
      CHECK(ds3[k] == ds[k]);
      CHECK(ds[k].cwiseAbs().maxCoeff() > 0);
    }
  }
}

TEST_CASE("recurrent layers: state_at(t) is the state after step t", "[layers][recurrent][state]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    Rng rng(2);
    const Seq x = random_seq(3, 6, 3, rng);
    const auto s0 = random_state(*l, 3, rng);
    Seq y;
    l->set_state(s0);
    l->forward(x, y, Mode::Train);
    std::vector<std::vector<Matrix>> at;
    for (int t = 0; t < 6; ++t) at.push_back(l->state_at(t));
    CHECK_THROWS_AS(l->state_at(6), Error);
    for (int t = 0; t < 6; ++t) {
      INFO("t = " << t);
      l->set_state(s0);
      l->forward(slice(x, 0, t + 1), y, Mode::Eval);
      const auto s = l->state();
      REQUIRE(s.size() == at[t].size());
      for (size_t k = 0; k < s.size(); ++k) CHECK(max_diff(s[k], at[t][k]) < 1e-6);
    }
  }
}

TEST_CASE("recurrent layers: hidden_grad_norms shows gradients vanishing in an Elman net",
          "[layers][recurrent][diagnostics]") {
  auto l = make_layer("{kind: elman, units: 4}", 3);
  randomize(*l, 5);
  l->params()[1]->value *= 0.2f;  // small U: ||dL/dh_{t-1}|| <= ||U|| ||dL/dh_t||
  Rng rng(6);
  const int T = 6, B = 3;
  const Seq x = random_seq(3, T, B, rng);
  Seq y, dy, dx;
  dy.resize(4, T, B);
  dy.data.setZero();
  dy.step(T - 1) = normal(4, B, rng);  // a last-step loss
  l->reset_state(B);
  l->forward(x, y, Mode::Train);
  l->backward(dy, dx, true);
  const auto norms = l->hidden_grad_norms();
  REQUIRE(norms.size() == static_cast<size_t>(T));
  CHECK(norms[T - 1] == Approx(dy.step(T - 1).norm()));
  for (int t = 0; t + 1 < T; ++t) CHECK(norms[t] < 0.5 * norms[t + 1]);
  CHECK(norms[0] > 0);

  for (const std::string yaml : {"{kind: lstm, units: 4}", "{kind: gru, units: 4}"}) {
    auto g = make_layer(yaml, 3);
    g->reset_state(B);
    g->forward(x, y, Mode::Train);
    dy.data.setOnes();
    g->backward(dy, dx, false);
    CHECK(g->hidden_grad_norms().size() == static_cast<size_t>(T));
    CHECK(g->hidden_grad_norms()[T - 1] == Approx(dy.step(T - 1).norm()));
  }
}

TEST_CASE("recurrent layers: gradients accumulate", "[layers][recurrent]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    randomize(*l, 12);
    Rng rng(13);
    const Seq x = random_seq(3, 4, 2, rng), dy = random_seq(4, 4, 2, rng);
    const auto s0 = random_state(*l, 2, rng);
    Seq y, dx;
    zero_grads(*l);
    std::vector<Matrix> once;
    for (int pass = 0; pass < 2; ++pass) {
      l->set_state(s0);
      l->forward(x, y, Mode::Train);
      l->backward(dy, dx, true);
      if (pass == 0)
        for (Param* p : l->params()) once.push_back(p->grad);
    }
    for (size_t k = 0; k < once.size(); ++k) {
      REQUIRE(once[k].cwiseAbs().maxCoeff() > 0);
      CHECK(max_diff(l->params()[k]->grad, 2 * once[k]) <= 1e-5 * once[k].cwiseAbs().maxCoeff());
    }
  }
}

TEST_CASE("recurrent layers: eval equals train, and misuse is reported", "[layers][recurrent]") {
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    auto l = make_layer(yaml, 3);
    Rng rng(14);
    const Seq x = random_seq(3, 3, 2, rng);
    const auto s0 = random_state(*l, 2, rng);
    Seq y_train, y_eval, dx;
    l->set_state(s0);
    l->forward(x, y_train, Mode::Train);
    l->set_state(s0);
    l->forward(x, y_eval, Mode::Eval);
    CHECK(y_train.data == y_eval.data);
    CHECK_THROWS_AS(l->backward(y_eval, dx, true), Error);  // no train forward to differentiate
    CHECK_THROWS_AS(l->set_state({}), Error);
    CHECK_THROWS_AS(l->set_state({Matrix::Zero(7, 2), Matrix::Zero(7, 2)}), Error);
  }
}

TEST_CASE("lstm forget_bias is the initial value of b's forget block", "[layers][recurrent]") {
  for (double fb : {1.0, 2.5, 0.0}) {
    INFO("forget_bias " << fb);
    // make_layer runs the host's initialization: bias_init over all of b, then the f block.
    auto l = make_layer(
        "{kind: lstm, units: 3, forget_bias: " + std::to_string(fb) + ", bias_init: {kind: constant, value: 0.25}}", 2);
    const Matrix& b = l->params()[2]->value;
    REQUIRE(b.rows() == 12);
    for (int r = 0; r < 12; ++r) {
      INFO("row " << r);
      const bool f_block = r >= 3 && r < 6;
      CHECK(b(r, 0) == static_cast<Scalar>(f_block && fb != 0 ? fb : 0.25));  // 0 leaves f to bias_init
    }
    // The forward adds nothing more: with W = U = 0 and b = (0, fb, 0, 0), i = o = 1/2, g = 0 and
    // c_1 = sigmoid(fb) * c_0.
    l->params()[0]->value.setZero();
    l->params()[1]->value.setZero();
    l->params()[2]->value.setZero();
    l->params()[2]->value.middleRows(3, 3).setConstant(static_cast<Scalar>(fb));
    Rng rng(1);
    const Matrix c0 = normal(3, 2, rng);
    l->set_state({Matrix::Zero(3, 2), c0});
    const Seq x = random_seq(2, 1, 2, rng);
    Seq y;
    l->forward(x, y, Mode::Eval);
    CHECK(max_diff(l->state()[1], static_cast<Scalar>(1 / (1 + std::exp(-fb))) * c0) < 1e-6);
  }
}

TEST_CASE("recurrent layers: each thread's time loop over its own samples gives the 1-thread numbers",
          "[layers][recurrent][parallel]") {
  // 40 samples: with 2 threads the batch is split 32 + 8, so the split is really exercised.
  const int T = 5, B = 40;
  for (const std::string& yaml : kCells) {
    INFO(yaml);
    Matrix y[2], dx[2];
    std::vector<Matrix> grads[2];
    std::vector<double> norms[2];
    for (int threads : {1, 2}) {
      configure_threads(threads);
      auto l = make_layer(yaml, 3);
      randomize(*l, 11);
      Rng rng(3);
      const Seq x = random_seq(3, T, B, rng);
      Seq out, d, dy;
      l->reset_state(B);
      l->forward(x, out, Mode::Train);
      dy.resize(out.features(), T, B);
      dy.data = normal(out.features(), static_cast<Eigen::Index>(T) * B, rng);
      l->backward(dy, d, true);
      y[threads - 1] = out.data;
      dx[threads - 1] = d.data;
      for (Param* p : l->params()) grads[threads - 1].push_back(p->grad);
      norms[threads - 1] = l->hidden_grad_norms();
    }
    configure_threads(1);
    // Per-sample work is identical: outputs, input gradients and per-step norms match exactly.
    CHECK((y[0].array() == y[1].array()).all());
    CHECK((dx[0].array() == dx[1].array()).all());
    CHECK(norms[0] == norms[1]);
    // Parameter gradients sum over samples in products whose split may regroup the sums.
    for (size_t i = 0; i < grads[0].size(); ++i) CHECK(grads[1][i].isApprox(grads[0][i], 1e-5f));
  }
}
