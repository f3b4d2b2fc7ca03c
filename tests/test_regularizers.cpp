// Regularizers: the activation-level stages (dropout, batch_norm, gaussian_noise) as layers, and
// the parameter-level hooks (l1, l2, weight_noise, gradient_noise, max_norm).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "support.hpp"
#include "unroll/gradcheck.hpp"

using namespace unroll;
using unroll::testing::make_layer;
using unroll::testing::make_regularizer;

namespace {

Seq random_seq(int features, int steps, int batch, uint64_t seed, double mean = 0, double std = 1) {
  Rng rng(seed);
  Seq x;
  x.resize(features, steps, batch);
  for (Eigen::Index k = 0; k < x.data.size(); ++k) x.data.data()[k] = static_cast<Scalar>(rng.normal(mean, std));
  return x;
}

Matrix random_matrix(int rows, int cols, uint64_t seed, double std = 1) {
  Rng rng(seed);
  Matrix m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<Scalar>(rng.normal(0, std));
  return m;
}

Param make_param(const std::string& name, const Matrix& value) {
  Param p(name, static_cast<int>(value.rows()), static_cast<int>(value.cols()), static_cast<int>(value.cols()),
          static_cast<int>(value.rows()), Node());
  p.value = value;
  return p;
}

void check_gradients(Layer& layer, GradCheckOptions opt) {
  const GradCheckResult r = check_layer_gradients(layer, opt);
  INFO(layer.name() << ": " << r.summary());
  REQUIRE(r.checked > 0);
  REQUIRE(r.ok);
}

// Random gamma/beta, so a missing gamma factor or a swapped role shows in the check.
void randomize_params(Layer& layer, uint64_t seed) {
  Rng rng(seed);
  for (Param* p : layer.params())
    for (Eigen::Index k = 0; k < p->value.size(); ++k) p->value.data()[k] = static_cast<Scalar>(rng.normal(1.0, 0.5));
}

}  // namespace

// ---------------------------------------------------------------- gradient checks

TEST_CASE("dropout: gradient check in train mode", "[regularizers][gradcheck]") {
  auto layer = make_layer("{kind: dropout, rate: 0.4}", 5);
  GradCheckOptions opt;
  opt.batch = 4;
  check_gradients(*layer, opt);
}

TEST_CASE("dropout: variational gradient check over 3 steps", "[regularizers][gradcheck]") {
  auto layer = make_layer("{kind: dropout, rate: 0.4, variational: true}", 5);
  GradCheckOptions opt;
  opt.steps = 3;
  opt.batch = 4;
  check_gradients(*layer, opt);
}

TEST_CASE("batch_norm: gradient check in train mode", "[regularizers][gradcheck]") {
  auto layer = make_layer("{kind: batch_norm}", 4);
  randomize_params(*layer, 7);
  GradCheckOptions opt;
  opt.batch = 6;
  SECTION("one step") { check_gradients(*layer, opt); }
  SECTION("statistics pooled over 3 steps") {
    opt.steps = 3;
    opt.batch = 4;
    check_gradients(*layer, opt);
  }
}

TEST_CASE("gaussian_noise: gradient check in train mode", "[regularizers][gradcheck]") {
  auto layer = make_layer("{kind: gaussian_noise, std: 0.5}", 5);
  GradCheckOptions opt;
  opt.steps = 2;
  check_gradients(*layer, opt);
}

// ---------------------------------------------------------------- dropout

TEST_CASE("dropout: keep rate and inverted scaling", "[regularizers]") {
  const double p = 0.3;
  auto layer = make_layer("{kind: dropout, rate: 0.3}", 100);
  layer->set_epoch_rng(Rng(11));
  Seq x;
  x.resize(100, 1, 1000);
  Rng rng(5);
  for (Eigen::Index k = 0; k < x.data.size(); ++k) x.data.data()[k] = static_cast<Scalar>(rng.uniform(0.5, 1.5));
  Seq y;
  layer->forward(x, y, Mode::Train);

  const double n = static_cast<double>(x.data.size());
  long kept = 0, bad = 0;
  for (Eigen::Index k = 0; k < x.data.size(); ++k) {
    const float yi = y.data.data()[k], xi = x.data.data()[k];
    if (yi != 0) {
      ++kept;
      if (std::fabs(yi - xi / (1 - p)) > 1e-6 * std::fabs(xi / (1 - p))) ++bad;
    }
  }
  const double frac = kept / n;
  const double sigma = std::sqrt(p * (1 - p) / n);
  INFO("kept fraction " << frac << ", expected " << 1 - p << " +- " << 5 * sigma);
  CHECK(std::fabs(frac - (1 - p)) < 5 * sigma);
  CHECK(bad == 0);
  // E[y] = x: the sample means agree within the sampling noise of the mask.
  const double mx = x.data.cast<double>().mean(), my = y.data.cast<double>().mean();
  CHECK(std::fabs(my - mx) < 5 * std::sqrt(p / (1 - p) / n) * 1.5);

  // backward applies the same mask
  Seq dy, dx;
  dy.resize(100, 1, 1000);
  dy.data.setOnes();
  layer->backward(dy, dx, true);
  CHECK(((dx.data.array() != 0) == (y.data.array() != 0)).all());
}

TEST_CASE("dropout: the variational mask is the same at every step", "[regularizers]") {
  const int F = 20, T = 4, B = 30;
  Seq x = random_seq(F, T, B, 3);
  x.data.array() = x.data.array().abs() + 0.1f;  // never exactly zero
  Seq y;
  SECTION("variational") {
    auto layer = make_layer("{kind: dropout, rate: 0.5, variational: true}", F);
    layer->set_epoch_rng(Rng(2));
    layer->forward(x, y, Mode::Train);
    const Matrix m0 = y.step(0).array() / x.step(0).array();
    CHECK((m0.array() == 0).count() > 0);  // something was dropped
    for (int t = 1; t < T; ++t) {
      const Matrix mt = y.step(t).array() / x.step(t).array();
      CHECK(((mt.array() == 0) == (m0.array() == 0)).all());
      CHECK((mt - m0).cwiseAbs().maxCoeff() < 1e-5);
    }
  }
  SECTION("standard dropout draws a new mask per step") {
    auto layer = make_layer("{kind: dropout, rate: 0.5}", F);
    layer->set_epoch_rng(Rng(2));
    layer->forward(x, y, Mode::Train);
    CHECK(!((y.step(1).array() == 0) == (y.step(0).array() == 0)).all());
  }
}

TEST_CASE("dropout: masks come from the epoch stream", "[regularizers]") {
  auto layer = make_layer("{kind: dropout, rate: 0.5}", 10);
  const Seq x = random_seq(10, 1, 20, 4);
  Seq a, b, c;
  layer->set_epoch_rng(Rng(100));
  layer->forward(x, a, Mode::Train);
  layer->set_epoch_rng(Rng(100));
  layer->forward(x, b, Mode::Train);
  CHECK(a.data == b.data);  // same epoch stream: a resumed run draws the same mask
  layer->forward(x, c, Mode::Train);
  CHECK(a.data != c.data);  // the stream advances from batch to batch
}

// ---------------------------------------------------------------- eval mode

TEST_CASE("regularizer stages: eval is the identity and deterministic", "[regularizers]") {
  const Seq x = random_seq(6, 2, 5, 9);
  for (const char* yaml : {"{kind: dropout, rate: 0.5}", "{kind: dropout, rate: 0.5, variational: true}",
                           "{kind: gaussian_noise, std: 1.0}"}) {
    INFO(yaml);
    auto layer = make_layer(yaml, 6);
    Seq y1, y2, yt;
    layer->set_epoch_rng(Rng(1));
    layer->forward(x, yt, Mode::Train);
    CHECK(yt.data != x.data);  // train mode does something
    layer->forward(x, y1, Mode::Eval);
    layer->forward(x, y2, Mode::Eval);
    CHECK(y1.data == x.data);
    CHECK(y2.data == x.data);
  }
  auto bn = make_layer("{kind: batch_norm}", 6);
  Seq y1, y2;
  bn->forward(x, y1, Mode::Eval);
  bn->forward(x, y2, Mode::Eval);
  CHECK(y1.data == y2.data);
  CHECK(y1.data.allFinite());
}

TEST_CASE("gaussian_noise: the noise has the configured spread", "[regularizers]") {
  auto layer = make_layer("{kind: gaussian_noise, std: 0.5}", 50);
  layer->set_epoch_rng(Rng(3));
  const Seq x = random_seq(50, 1, 400, 8);
  Seq y;
  layer->forward(x, y, Mode::Train);
  const Eigen::ArrayXd d = (y.data - x.data).cast<double>().reshaped().array();
  const double n = static_cast<double>(d.size());
  const double var = d.square().mean();
  CHECK(std::fabs(d.mean()) < 5 * 0.5 / std::sqrt(n));
  CHECK(std::fabs(var - 0.25) < 5 * 0.25 * std::sqrt(2 / n));
}

// ---------------------------------------------------------------- batch norm

TEST_CASE("batch_norm: parameters, buffers and train-mode normalization", "[regularizers]") {
  const int F = 3;
  auto layer = make_layer("{kind: batch_norm, momentum: 0.2}", F, "bn1");
  auto params = layer->params();
  REQUIRE(params.size() == 2);
  CHECK(params[0]->name == "bn1.gamma");
  CHECK(params[1]->name == "bn1.beta");
  CHECK(params[0]->init.at("kind").text() == "constant");
  CHECK(params[0]->value.isOnes());
  CHECK(params[1]->value.isZero());
  auto buffers = layer->buffers();
  REQUIRE(buffers.size() == 2);
  CHECK(buffers[0].first == "bn1.running_mean");
  CHECK(buffers[1].first == "bn1.running_var");
  CHECK(buffers[0].second->isZero());
  CHECK(buffers[1].second->isOnes());

  const Seq x = random_seq(F, 2, 8, 21, 3.0, 2.0);
  Seq y;
  layer->forward(x, y, Mode::Train);
  const double N = 16;
  for (int f = 0; f < F; ++f) {
    const Eigen::ArrayXd xf = x.data.row(f).cast<double>().transpose().array();
    const double mean = xf.mean(), var = (xf - mean).square().mean();
    const Eigen::ArrayXd yf = y.data.row(f).cast<double>().transpose().array();
    CHECK(yf.mean() == Approx(0).margin(1e-5));
    CHECK((yf - yf.mean()).square().mean() == Approx(var / (var + 1e-5)).epsilon(1e-4));
    // PyTorch's update: (1-m)*running + m*batch, unbiased variance
    CHECK((*buffers[0].second)(f, 0) == Approx(0.8 * 0 + 0.2 * mean).epsilon(1e-5));
    CHECK((*buffers[1].second)(f, 0) == Approx(0.8 * 1 + 0.2 * var * N / (N - 1)).epsilon(1e-5));
  }
}

TEST_CASE("batch_norm: eval uses the running statistics", "[regularizers]") {
  const int F = 3;
  auto layer = make_layer("{kind: batch_norm}", F);
  randomize_params(*layer, 4);
  const Eigen::Array3d mu(2.0, -1.0, 0.5), sd(0.5, 3.0, 1.0);
  Seq x, y;
  for (int i = 0; i < 150; ++i) {
    x = random_seq(F, 1, 64, 100 + i);
    x.data.array() = (x.data.array().colwise() * sd.cast<float>()).colwise() + mu.cast<float>();
    layer->forward(x, y, Mode::Train);
  }
  const Matrix& rm = *layer->buffers()[0].second;
  const Matrix& rv = *layer->buffers()[1].second;
  for (int f = 0; f < F; ++f) {
    INFO("feature " << f << ": running mean " << rm(f, 0) << ", running var " << rv(f, 0));
    CHECK(std::fabs(rm(f, 0) - mu[f]) < 0.15 * sd[f]);
    CHECK(std::fabs(rv(f, 0) / (sd[f] * sd[f]) - 1) < 0.15);
  }
  // eval: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, whatever the batch
  const Seq xe = random_seq(F, 1, 2, 77);
  Seq ye;
  layer->forward(xe, ye, Mode::Eval);
  const Matrix& gamma = layer->params()[0]->value;
  const Matrix& beta = layer->params()[1]->value;
  for (int f = 0; f < F; ++f)
    for (int j = 0; j < 2; ++j)
      CHECK(ye.data(f, j) ==
            Approx(gamma(f, 0) * (xe.data(f, j) - rm(f, 0)) / std::sqrt(rv(f, 0) + 1e-5) + beta(f, 0)).epsilon(1e-4));
  // eval leaves the running statistics alone
  const Matrix rm_before = rm;
  layer->forward(xe, ye, Mode::Eval);
  CHECK(rm == rm_before);
}

TEST_CASE("batch_norm: a one-column training batch is an error", "[regularizers]") {
  auto layer = make_layer("{kind: batch_norm}", 3);
  const Seq x = random_seq(3, 1, 1, 1);
  Seq y;
  REQUIRE_THROWS_WITH(layer->forward(x, y, Mode::Train), Catch::Contains("more than one value"));
}

// ---------------------------------------------------------------- L1 / L2

TEST_CASE("l2 and l1: penalty and gradient by hand", "[regularizers]") {
  Param W = make_param("dense0.W", random_matrix(4, 3, 1));
  Param U = make_param("rnn0.U", random_matrix(3, 3, 2));
  Param b = make_param("dense0.b", random_matrix(4, 1, 3));
  const Matrix g0 = random_matrix(4, 3, 4);  // gradients accumulate onto what backward left
  W.grad = g0;
  std::vector<Param*> all{&W, &U, &b};

  SECTION("l2") {
    auto reg = make_regularizer("{kind: l2, lambda: 0.3}");
    const double pen = reg->add_penalty_gradient(all, 1.0);
    const double sq = W.value.cast<double>().squaredNorm() + U.value.cast<double>().squaredNorm();
    CHECK(pen == Approx(0.5 * 0.3 * sq).epsilon(1e-6));
    CHECK(W.grad.isApprox(g0 + 0.3f * W.value, 1e-6f));
    CHECK(U.grad.isApprox(0.3f * U.value, 1e-6f));
    CHECK(b.grad.isZero());  // biases are not weights
    // batch_weight scales penalty and gradient together
    U.grad.setZero();
    CHECK(reg->add_penalty_gradient(all, 0.5) == Approx(0.5 * pen).epsilon(1e-6));
    CHECK(U.grad.isApprox(0.15f * U.value, 1e-6f));
  }
  SECTION("l1") {
    W.value(0, 0) = 0;  // subgradient 0 at 0
    auto reg = make_regularizer("{kind: l1, lambda: 0.3}");
    const double pen = reg->add_penalty_gradient(all, 1.0);
    const double abs = W.value.cast<double>().cwiseAbs().sum() + U.value.cast<double>().cwiseAbs().sum();
    CHECK(pen == Approx(0.3 * abs).epsilon(1e-6));
    const Matrix expect = g0.array() + 0.3f * W.value.array().sign();
    CHECK(W.grad.isApprox(expect, 1e-6f));
    CHECK(W.grad(0, 0) == g0(0, 0));
    CHECK(b.grad.isZero());
  }
}

TEST_CASE("l2 and l1: finite-difference check of the penalty gradient", "[regularizers][gradcheck]") {
  for (const char* yaml : {"{kind: l2, lambda: 0.7}", "{kind: l1, lambda: 0.7}"}) {
    INFO(yaml);
    auto reg = make_regularizer(yaml);
    Param W = make_param("layer.W", random_matrix(5, 4, 8));
    // keep |w| away from the kink of |w| at 0
    W.value.array() += W.value.array().sign() * 0.05f;
    std::vector<Param*> all{&W};
    reg->add_penalty_gradient(all, 1.0);
    const Matrix analytic = W.grad;
    const float h = 1e-2f;
    for (Eigen::Index k = 0; k < W.value.size(); ++k) {
      const float orig = W.value.data()[k];
      W.value.data()[k] = orig + h;
      const double plus = reg->add_penalty_gradient(all, 1.0);
      W.value.data()[k] = orig - h;
      const double minus = reg->add_penalty_gradient(all, 1.0);
      W.value.data()[k] = orig;
      const double numeric = (plus - minus) / (static_cast<double>(orig + h) - static_cast<double>(orig - h));
      CHECK(analytic.data()[k] == Approx(numeric).epsilon(1e-3).margin(1e-4));
    }
  }
}

TEST_CASE("regularizers: the params option selects by glob or regex", "[regularizers]") {
  Param W = make_param("dense0.W", Matrix::Ones(2, 2));
  Param b = make_param("dense0.b", Matrix::Ones(2, 1));
  Param g = make_param("bn1.gamma", Matrix::Ones(2, 1));
  std::vector<Param*> all{&W, &b, &g};
  auto touched = [&](const std::string& yaml) {
    for (Param* p : all) p->grad.setZero();
    make_regularizer(yaml)->add_penalty_gradient(all, 1.0);
    std::string s;
    for (Param* p : all)
      if (!p->grad.isZero()) s += p->name + " ";
    return s;
  };
  CHECK(touched("{kind: l2, lambda: 1}") == "dense0.W ");
  CHECK(touched("{kind: l2, lambda: 1, params: '*'}") == "dense0.W dense0.b bn1.gamma ");
  CHECK(touched("{kind: l2, lambda: 1, params: '*.b|bn?.gamma'}") == "dense0.b bn1.gamma ");
  CHECK(touched("{kind: l2, lambda: 1, params: '/dense[0-9]+\\.[Wb]/'}") == "dense0.W dense0.b ");
  REQUIRE_THROWS_WITH(touched("{kind: l2, lambda: 1, params: '*.V'}"), Catch::Contains("matches none"));
  REQUIRE_THROWS_WITH(make_regularizer("{kind: l1, params: '/[/'}"), Catch::Contains("not a valid regular expression"));
}

TEST_CASE("regularizers: a params pattern matching nothing stops the run before training, at its place",
          "[regularizers]") {
  const char* yaml = R"(name: params_typo
data: {kind: blobs, classes: 3, features: 4, samples: 60, test_samples: 20, validation: 20}
model:
  - {kind: dense, units: 8}
  - {kind: relu}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1}
regularizers:
  - {kind: max_norm, params: "*.w"}
train: {epochs: 1, batch: 8}
)";
  testing::TempDir dir;
  // max_norm acts only after the first update: without the host's check it would fail there.
  CHECK_THROWS_WITH(testing::run_text(dir, yaml, "run"),
                    Catch::Contains("run.yaml:10:30") && Catch::Contains("max_norm regularizer") &&
                        Catch::Contains("'*.w' matches none") && Catch::Contains("dense0.W"));
  CHECK_FALSE(std::filesystem::exists(dir.file("run/metrics.csv")));
}

// ---------------------------------------------------------------- weight noise

TEST_CASE("weight_noise: perturb adds noise, restore is bit-exact", "[regularizers]") {
  Param W = make_param("rnn0.W", random_matrix(60, 50, 5));
  Param b = make_param("rnn0.b", random_matrix(60, 1, 6));
  const Matrix W0 = W.value, b0 = b.value;
  std::vector<Param*> all{&W, &b};
  auto reg = make_regularizer("{kind: weight_noise, std: 0.2}");
  Rng rng(9);
  for (int round = 0; round < 2; ++round) {
    reg->perturb(all, rng);
    const Eigen::ArrayXd d = (W.value - W0).cast<double>().reshaped().array();
    const double n = static_cast<double>(d.size());
    CHECK(std::fabs(d.mean()) < 5 * 0.2 / std::sqrt(n));
    CHECK(std::fabs(d.square().mean() / 0.04 - 1) < 5 * std::sqrt(2 / n));
    CHECK(b.value == b0);  // not selected
    reg->restore(all);
    CHECK(W.value == W0);  // exact, element for element
  }
  reg->restore(all);  // a restore without a perturb changes nothing
  CHECK(W.value == W0);
}

// ---------------------------------------------------------------- gradient noise

TEST_CASE("gradient_noise: variance eta / (1 + t)^gamma", "[regularizers]") {
  const double eta = 0.3, gamma = 0.55;
  auto reg = make_regularizer("{kind: gradient_noise, eta: 0.3, gamma: 0.55}");
  Param W = make_param("dense0.W", Matrix::Zero(100, 100));
  Param b = make_param("dense0.b", Matrix::Zero(100, 1));
  std::vector<Param*> all{&W, &b};
  Rng rng(4);
  for (long long t : {0LL, 10LL, 1000LL}) {
    W.grad.setZero();
    reg->transform_gradients(all, t, rng);
    const double expect = eta / std::pow(1.0 + t, gamma);
    const Eigen::ArrayXd g = W.grad.cast<double>().reshaped().array();
    const double n = static_cast<double>(g.size());
    INFO("step " << t << ": sample variance " << g.square().mean() << ", expected " << expect);
    CHECK(std::fabs(g.mean()) < 5 * std::sqrt(expect / n));
    CHECK(std::fabs(g.square().mean() / expect - 1) < 5 * std::sqrt(2 / n));
    CHECK(b.grad.isZero());
  }
}

// ---------------------------------------------------------------- max norm

TEST_CASE("max_norm: rows above c are scaled to norm c, others untouched", "[regularizers]") {
  const float c = 2.0f;
  Matrix w = random_matrix(8, 5, 12);
  for (int i = 0; i < w.rows(); ++i)
    w.row(i) *= (i % 2 ? 0.5f : 3.0f) * c / w.row(i).norm();  // alternately inside/outside
  SECTION("rows") {
    Param W = make_param("dense0.W", w);
    std::vector<Param*> all{&W};
    make_regularizer("{kind: max_norm, max: 2}")->after_step(all);
    for (int i = 0; i < w.rows(); ++i) {
      INFO("row " << i);
      if (i % 2) {
        CHECK(W.value.row(i) == w.row(i));
      } else {
        CHECK(W.value.row(i).norm() == Approx(c).epsilon(1e-6));
        CHECK(W.value.row(i).isApprox(w.row(i) * (c / w.row(i).norm()), 1e-6f));  // direction kept
      }
    }
  }
  SECTION("cols") {
    Param W = make_param("dense0.W", w.transpose());
    std::vector<Param*> all{&W};
    make_regularizer("{kind: max_norm, max: 2, axis: cols}")->after_step(all);
    for (int i = 0; i < w.rows(); ++i) {
      if (i % 2)
        CHECK(W.value.col(i) == w.row(i).transpose());
      else
        CHECK(W.value.col(i).norm() == Approx(c).epsilon(1e-6));
    }
  }
  SECTION("frozen parameters are left alone") {
    Param W = make_param("dense0.W", w);
    W.frozen = true;
    std::vector<Param*> all{&W};
    make_regularizer("{kind: max_norm, max: 2}")->after_step(all);
    CHECK(W.value == w);
  }
}

TEST_CASE("batch_norm: gamma_init and beta_init set the initial scale and shift", "[regularizers]") {
  auto layer = make_layer(
      "{kind: batch_norm, gamma_init: {kind: constant, value: 0.5}, "
      "beta_init: {kind: constant, value: -2}}",
      3, "bn0");
  testing::initialize(*layer);
  auto params = layer->params();
  REQUIRE(params.size() == 2);
  CHECK((params[0]->value.array() == 0.5f).all());
  CHECK((params[1]->value.array() == -2.0f).all());
  CHECK_THROWS_WITH(make_layer("{kind: batch_norm, gamma_init: {kind: constant, valu: 1}}", 3),
                    Catch::Contains("valu"));
}

TEST_CASE("l2 and l1: the penalty is not part of the reported train_loss", "[regularizers]") {
  // One batch an epoch: the first epoch's train_loss is taken before any update, so a penalty
  // that were added to it would show; with it left out the numbers are identical.
  const char* yaml = R"(name: penalty
data: {kind: blobs, classes: 3, features: 4, samples: 20, test_samples: 0}
model:
  - {kind: dense, units: 8}
  - {kind: tanh}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1}
train: {epochs: 2, batch: 60}
)";
  testing::TempDir dir;
  testing::run_text(dir, yaml, "plain");
  int i = 0;
  for (const char* reg : {"[{kind: l2, lambda: 10}]", "[{kind: l1, lambda: 10}]"}) {
    INFO(reg);
    const std::string out = "penalized" + std::to_string(i++);
    testing::run_text(dir, yaml, out, {std::string("regularizers=") + reg});
    const auto plain = testing::read_csv(dir.file("plain/metrics.csv"));
    const auto penalized = testing::read_csv(dir.file(out + "/metrics.csv"));
    CHECK(penalized[1][1] == plain[1][1]);  // epoch 1, train_loss
    CHECK(penalized[2][1] != plain[2][1]);  // the penalty did act on the update
  }
}
