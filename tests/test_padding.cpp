// Variable-length sequences: a batch pads shorter sequences at the END with zero inputs and
// masks their targets with label -1. Because a step's output never depends on later steps,
// this is exact: the padded batch's loss and gradients equal the sum over the unpadded samples.
// Sequence classification of variable-length sequences is the same mechanism: per-step targets
// that are -1 everywhere except at each sample's own last step.
#include <catch2/catch.hpp>
#include <set>

#include "support.hpp"

using namespace unroll;

namespace {

struct Net {
  std::shared_ptr<Layer> rnn, out;
  std::shared_ptr<Loss> loss;
};

Net make_net(const std::string& cell) {
  // Same names and seed: every Net starts from identical weights.
  return {testing::make_layer(cell, 3, "rnn0"), testing::make_layer("{kind: dense, units: 4}", 6, "dense1"),
          testing::make_loss("{kind: cross_entropy}")};
}

Matrix flat_grads(Net& n) {
  std::vector<Param*> ps = n.rnn->params();
  for (Param* p : n.out->params()) ps.push_back(p);
  Eigen::Index size = 0;
  for (Param* p : ps) size += p->grad.size();
  Matrix g(size, 1);
  Eigen::Index at = 0;
  for (Param* p : ps) {
    g.middleRows(at, p->grad.size()) = p->grad.reshaped(p->grad.size(), 1);
    at += p->grad.size();
  }
  return g;
}

// Summed loss and its parameter gradients for one batch, starting from zero state.
double run(Net& n, const Seq& x, const Targets& y) {
  for (auto* l : {n.rnn.get(), n.out.get()})
    for (Param* p : l->params()) p->grad.setZero();
  Seq h, o, dh, dx, dy;
  n.rnn->reset_state(x.batch);
  n.rnn->forward(x, h, Mode::Train);
  n.out->forward(h, o, Mode::Train);
  Matrix g;
  const double sum = n.loss->evaluate(o.data, y, &g);
  dy.resize(o.features(), o.steps, o.batch);
  dy.data = g;
  n.out->backward(dy, dh, true);
  n.rnn->backward(dh, dx, false);
  return sum;
}

// One sample's inputs (3 features x T) from a fixed pattern.
Matrix sample_inputs(int T, float phase) {
  Matrix m(3, T);
  for (int t = 0; t < T; ++t)
    for (int f = 0; f < 3; ++f) m(f, t) = std::sin(phase + 0.7f * t + 1.3f * f);
  return m;
}

Seq single(const Matrix& m) {
  Seq s;
  s.resize(3, static_cast<int>(m.cols()), 1);
  s.data = m;
  return s;
}

Targets labels(std::vector<int32_t> l, int steps, int batch) {
  Targets y;
  y.labels = std::move(l);
  y.steps = steps;
  y.batch = batch;
  return y;
}

void check_padding(const std::string& cell) {
  const Matrix a = sample_inputs(5, 0.2f), b = sample_inputs(3, 1.1f);
  // Padded batch: T = 5, B = 2, step-major columns (t*2 + sample); b padded with zeros.
  Seq x;
  x.resize(3, 5, 2);
  x.data.setZero();
  for (int t = 0; t < 5; ++t) x.data.col(t * 2) = a.col(t);
  for (int t = 0; t < 3; ++t) x.data.col(t * 2 + 1) = b.col(t);

  SECTION("every-step loss") {
    const std::vector<int32_t> la{0, 1, 2, 3, 1}, lb{2, 0, 3};
    std::vector<int32_t> padded;
    for (int t = 0; t < 5; ++t) {
      padded.push_back(la[t]);
      padded.push_back(t < 3 ? lb[t] : -1);
    }
    Net n = make_net(cell);
    const double loss_padded = run(n, x, labels(padded, 5, 2));
    const Matrix g_padded = flat_grads(n);
    const double loss_a = run(n, single(a), labels(la, 5, 1));
    const Matrix g_a = flat_grads(n);
    const double loss_b = run(n, single(b), labels(lb, 3, 1));
    const Matrix g_b = flat_grads(n);
    CHECK(loss_padded == Approx(loss_a + loss_b).epsilon(1e-6));
    CHECK((g_padded - g_a - g_b).cwiseAbs().maxCoeff() < 1e-5f);
  }
  SECTION("last-step loss at each sample's own last step") {
    // a's label at step 4, b's at step 2; everything else masked.
    std::vector<int32_t> padded(10, -1);
    padded[4 * 2] = 3;
    padded[2 * 2 + 1] = 1;
    Net n = make_net(cell);
    const double loss_padded = run(n, x, labels(padded, 5, 2));
    const Matrix g_padded = flat_grads(n);
    const double loss_a = run(n, single(a), labels({-1, -1, -1, -1, 3}, 5, 1));
    const Matrix g_a = flat_grads(n);
    const double loss_b = run(n, single(b), labels({-1, -1, 1}, 3, 1));
    const Matrix g_b = flat_grads(n);
    CHECK(loss_padded == Approx(loss_a + loss_b).epsilon(1e-6));
    CHECK((g_padded - g_a - g_b).cwiseAbs().maxCoeff() < 1e-5f);
  }
}

}  // namespace

TEST_CASE("end-padding plus masking is exact for variable-length Elman sequences", "[bptt][padding]") {
  check_padding("{kind: elman, units: 6}");
}

TEST_CASE("end-padding plus masking is exact for variable-length LSTM sequences", "[bptt][padding]") {
  check_padding("{kind: lstm, units: 6}");
}

TEST_CASE("end-padding plus masking is exact for variable-length sequences through an equation cell",
          "[bptt][padding][cells]") {
  check_padding("{kind: mgu, units: 6}");
}

TEST_CASE("delayed_recall with min_length gives ragged sequences, padded at the end and masked", "[bptt][padding]") {
  auto d = testing::make_dataset("{kind: delayed_recall, lag: 2, alphabet: 3, length: 8, min_length: 4, samples: 64}");
  const int T = 8, B = 64, L = 2;
  std::vector<std::size_t> idx(B);
  for (int b = 0; b < B; ++b) idx[b] = static_cast<std::size_t>(b);
  Seq x;
  Targets y;
  d->batch(Split::Train, idx, x, y);
  std::set<int> lengths;
  for (int b = 0; b < B; ++b) {
    int len = T;
    while (len > 0 && x.data.col((len - 1) * B + b).sum() == 0.0f) --len;  // trailing all-zero inputs
    REQUIRE(len >= 4);
    lengths.insert(len);
    for (int t = 0; t < T; ++t) {
      const int32_t label = y.labels[t * B + b];
      if (t >= len) {
        CHECK(label == -1);  // padding: masked
      } else {
        CHECK(x.data.col(t * B + b).sum() == 1.0f);  // a real step: one-hot
        if (t >= L) {
          Eigen::Index arg;
          x.data.col((t - L) * B + b).maxCoeff(&arg);
          CHECK(label == arg);
        }
      }
    }
  }
  CHECK(lengths.size() > 2);  // the lengths really vary
}

TEST_CASE("variational dropout keeps one mask per sequence across truncation windows", "[regularizers][bptt]") {
  auto drop = testing::make_layer("{kind: dropout, rate: 0.5, variational: true}", 6, "dropout0");
  drop->set_epoch_rng(Rng(5));
  Seq x, y1, y2, y3;
  x.resize(6, 2, 4);
  x.data.setOnes();
  drop->reset_state(4);
  drop->forward(x, y1, Mode::Train);  // window 1 of the sequence
  drop->forward(x, y2, Mode::Train);  // window 2: same sequence, same mask
  CHECK(y1.data == y2.data);
  drop->reset_state(4);  // a new sequence: a new mask
  drop->forward(x, y3, Mode::Train);
  CHECK(y3.data != y1.data);
}
