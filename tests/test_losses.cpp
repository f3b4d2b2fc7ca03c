// Losses: squared_error and cross_entropy.
#include <catch2/catch.hpp>
#include <cmath>

#include "support.hpp"
#include "unroll/gradcheck.hpp"

using namespace unroll;
using unroll::testing::make_loss;

namespace {
Targets label_targets(std::vector<int32_t> labels) {
  Targets t;
  t.batch = static_cast<int>(labels.size());
  t.labels = std::move(labels);
  return t;
}
Targets value_targets(const Matrix& v) {
  Targets t;
  t.batch = static_cast<int>(v.cols());
  t.values = v;
  return t;
}
}  // namespace

TEST_CASE("losses: gradient check with labels and with values", "[losses][gradcheck]") {
  for (const char* kind : {"squared_error", "cross_entropy"}) {
    auto loss = make_loss(std::string("{kind: ") + kind + "}");
    CHECK(loss->classifies());
    for (bool labels : {true, false})
      for (int steps : {1, 3}) {
        GradCheckOptions opt;
        opt.steps = steps;
        opt.batch = 4;
        opt.input_scale = 2.0;
        const auto r = check_loss_gradients(*loss, 5, labels, opt);
        INFO(kind << (labels ? " labels" : " values") << ", steps " << steps << ": " << r.summary());
        REQUIRE(r.ok);
        REQUIRE(r.checked == 5 * steps * 4);
      }
  }
}

TEST_CASE("squared_error: 2x2 values by hand", "[losses]") {
  auto loss = make_loss("{kind: squared_error}");
  Matrix out(2, 2), tv(2, 2);
  out << 1, 2, 3, 4;
  tv << 0, 2, 1, 1;
  // Differences [[1, 0], [2, 3]]: column losses 0.5 * (1 + 4) and 0.5 * (0 + 9).
  Matrix grad;
  CHECK(loss->evaluate(out, value_targets(tv), &grad) == Approx(2.5 + 4.5));
  Matrix want(2, 2);
  want << 1, 0, 2, 3;
  CHECK(grad == want);

  // Labels are one-hot targets: label 1 in column 0 is t = (0, 1), label 0 in column 1 is (1, 0).
  CHECK(loss->evaluate(out, label_targets({1, 0}), &grad) == Approx(0.5 * (1 + 4) + 0.5 * (1 + 16)));
  want << 1, 1, 2, 4;
  CHECK(grad == want);
}

TEST_CASE("cross_entropy: 2x2 values by hand", "[losses]") {
  auto loss = make_loss("{kind: cross_entropy}");
  Matrix out(2, 2);
  // Column 0: softmax (1/4, 3/4); column 1: softmax (1/2, 1/2).
  out << 0, std::log(2.0f), std::log(3.0f), std::log(2.0f);
  Matrix grad;
  // Labels 0 and 1: -log(1/4) - log(1/2) = log 8.
  CHECK(loss->evaluate(out, label_targets({0, 1}), &grad) == Approx(std::log(8.0)));
  Matrix want(2, 2);
  want << -0.75, 0.5, 0.75, -0.5;
  CHECK(grad.isApprox(want, 1e-6f));

  // Probability targets: column 0 t = (1/2, 1/2): -(1/2) log(1/4) - (1/2) log(3/4); column 1 t = (0, 1).
  Matrix tv(2, 2);
  tv << 0.5, 0, 0.5, 1;
  CHECK(loss->evaluate(out, value_targets(tv), &grad) ==
        Approx(-0.5 * std::log(0.25) - 0.5 * std::log(0.75) - std::log(0.5)));
  want << -0.25, 0.5, 0.25, -0.5;
  CHECK(grad.isApprox(want, 1e-6f));
}

TEST_CASE("losses: label -1 masks a column", "[losses]") {
  for (const char* kind : {"squared_error", "cross_entropy"}) {
    INFO(kind);
    auto loss = make_loss(std::string("{kind: ") + kind + "}");
    Rng rng(5);
    Matrix out(4, 3);
    for (float& v : out.reshaped()) v = static_cast<float>(rng.normal());
    Matrix g_all, g_masked, g_one;
    const double all = loss->evaluate(out, label_targets({2, 0, 3}), &g_all);
    const double masked = loss->evaluate(out, label_targets({2, -1, 3}), &g_masked);
    const double only_middle = loss->evaluate(out.middleCols(1, 1), label_targets({0}), &g_one);
    REQUIRE(only_middle > 0);
    CHECK(masked == Approx(all - only_middle));
    CHECK(g_masked.col(1).isZero());
    CHECK(g_masked.col(0) == g_all.col(0));
    CHECK(g_masked.col(2) == g_all.col(2));
    CHECK(loss->evaluate(out, label_targets({-1, -1, -1}), &g_masked) == 0.0);
    CHECK(g_masked.isZero());
  }
}

TEST_CASE("cross_entropy: stable for huge scores", "[losses]") {
  auto loss = make_loss("{kind: cross_entropy}");
  Matrix out(3, 2);
  // Scores ~1e4: naive exp() overflows. Differences of 1 and 2 keep the answer known exactly.
  out << 1e4f, -1e4f, 1e4f + 1, -1e4f + 2, 1e4f + 2, -1e4f;
  Matrix grad;
  const double l = loss->evaluate(out, label_targets({0, 1}), &grad);
  const double lse0 = std::log(1 + std::exp(1.0) + std::exp(2.0));  // shifted by 1e4
  const double lse1 = std::log(2 + std::exp(2.0));                  // shifted by -1e4
  CHECK(std::isfinite(l));
  CHECK(l == Approx(lse0 + (lse1 - 2.0)).epsilon(1e-5));
  REQUIRE(grad.allFinite());
  CHECK(grad(0, 0) == Approx(std::exp(-lse0) - 1).epsilon(1e-5));
  CHECK(grad(2, 0) == Approx(std::exp(2.0 - lse0)).epsilon(1e-5));
  CHECK(grad(1, 1) == Approx(std::exp(2.0 - lse1) - 1).epsilon(1e-5));
  // Each gradient column of softmax - onehot sums to 0.
  CHECK(std::abs(grad.col(0).sum()) < 1e-5f);
  CHECK(std::abs(grad.col(1).sum()) < 1e-5f);

  // A confidently right prediction costs ~0, a confidently wrong one ~1e4.
  Matrix sure(2, 1);
  sure << 1e4f, -1e4f;
  CHECK(loss->evaluate(sure, label_targets({0}), nullptr) == Approx(0.0).margin(1e-6));
  CHECK(loss->evaluate(sure, label_targets({1}), nullptr) == Approx(2e4).epsilon(1e-6));
  CHECK(std::isfinite(loss->evaluate(sure, value_targets((Matrix(2, 1) << 0.3f, 0.7f).finished()), nullptr)));
}

TEST_CASE("losses: bad targets are errors", "[losses]") {
  for (const char* kind : {"squared_error", "cross_entropy"}) {
    INFO(kind);
    auto loss = make_loss(std::string("{kind: ") + kind + "}");
    Matrix out = Matrix::Zero(3, 2);
    REQUIRE_THROWS_AS(loss->evaluate(out, label_targets({0}), nullptr), Error);                 // too few labels
    REQUIRE_THROWS_AS(loss->evaluate(out, label_targets({0, 3}), nullptr), Error);              // out of range
    REQUIRE_THROWS_AS(loss->evaluate(out, value_targets(Matrix::Zero(2, 2)), nullptr), Error);  // wrong shape
  }
}
