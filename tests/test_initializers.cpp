// Initializers: sample moments against the papers' formulas, orthogonality, determinism.
#include <catch2/catch.hpp>
#include <cmath>

#include "support.hpp"

using namespace unroll;
using unroll::testing::make_initializer;

namespace {

// A 200 x 300 weight matrix as a dense layer with 300 inputs and 200 units has it.
Param weights(int rows = 200, int cols = 300) { return Param("layer0.W", rows, cols, cols, rows, Node()); }

Param filled(const std::string& yaml, uint64_t seed, int rows = 200, int cols = 300) {
  Param p = weights(rows, cols);
  Rng rng = Rng::derive(seed, p.name);
  make_initializer(yaml)->fill(p, rng);
  return p;
}

struct Moments {
  double mean, var, kurtosis;
};
Moments moments(const Matrix& m) {
  const double n = static_cast<double>(m.size());
  const double mean = m.cast<double>().mean();
  const auto c = m.cast<double>().array() - mean;
  const double var = c.square().sum() / (n - 1);
  const double m4 = c.square().square().sum() / n;
  return {mean, var, m4 / (var * var)};
}

}  // namespace

// Tolerances: with N = 60000 independent draws the sample mean has standard error sigma/sqrt(N)
// and the sample variance sigma^2 * sqrt((kurtosis - 1)/N) <= sigma^2 * sqrt(2/N) (normal: 2,
// uniform: 0.8). Five standard errors never fail by chance in practice (p < 1e-6) yet are
// ~3% of the variance, so a wrong factor (2 vs 1, fan_in vs fan_out: 300 vs 200) is caught.
// The kurtosis (3 normal, 1.8 uniform; standard error <= 0.02) tells the two shapes apart.
TEST_CASE("initializers: sample moments match the formulas", "[initializers]") {
  const double fan_in = 300, fan_out = 200;
  struct Case {
    std::string yaml;
    double mean, var;
    bool normal;
    double bound;  // uniform: the support is [mean - bound, mean + bound]
  };
  const double u = 0.8 / 2;  // half-width of U(-0.2, 0.6)
  const std::vector<Case> cases = {
      {"{kind: gaussian}", 0, 0.05 * 0.05, true, 0},
      {"{kind: gaussian, mean: 0.3, std: 0.2}", 0.3, 0.04, true, 0},
      {"{kind: uniform}", 0, 0.1 * 0.1 / 12, false, 0.05},
      {"{kind: uniform, low: -0.2, high: 0.6}", 0.2, 0.8 * 0.8 / 12, false, u},
      {"{kind: xavier_normal}", 0, 2 / (fan_in + fan_out), true, 0},
      {"{kind: xavier_normal, gain: 2}", 0, 4 * 2 / (fan_in + fan_out), true, 0},
      {"{kind: xavier_uniform}", 0, 2 / (fan_in + fan_out), false, std::sqrt(6 / (fan_in + fan_out))},
      {"{kind: xavier_uniform, gain: 0.5}", 0, 0.25 * 2 / (fan_in + fan_out), false,
       0.5 * std::sqrt(6 / (fan_in + fan_out))},
      {"{kind: he_normal}", 0, 2 / fan_in, true, 0},
      {"{kind: he_normal, gain: 1}", 0, 1 / fan_in, true, 0},
      {"{kind: he_uniform}", 0, 2 / fan_in, false, std::sqrt(6 / fan_in)},
      {"{kind: lecun_normal}", 0, 1 / fan_in, true, 0},
      {"{kind: lecun_uniform}", 0, 1 / fan_in, false, std::sqrt(3 / fan_in)},
  };
  for (const auto& c : cases) {
    const Param p = filled(c.yaml, 7);
    const double n = static_cast<double>(p.value.size());
    const Moments m = moments(p.value);
    INFO(c.yaml << ": mean " << m.mean << " (want " << c.mean << "), variance " << m.var << " (want " << c.var
                << "), kurtosis " << m.kurtosis);
    CHECK(std::abs(m.mean - c.mean) < 5 * std::sqrt(c.var / n));
    CHECK(std::abs(m.var - c.var) < 5 * std::sqrt(2 / n) * c.var);
    CHECK(std::abs(m.kurtosis - (c.normal ? 3.0 : 1.8)) < 0.15);
    if (!c.normal) {
      const double lo = p.value.minCoeff(), hi = p.value.maxCoeff();
      CHECK(lo >= c.mean - c.bound - 1e-6);
      CHECK(hi <= c.mean + c.bound + 1e-6);
      // 60000 draws come within 0.1% of both ends (P(miss) = 0.999^60000, about 1e-26).
      CHECK(lo < c.mean - 0.998 * c.bound);
      CHECK(hi > c.mean + 0.998 * c.bound);
    }
  }
}

TEST_CASE("initializers: the same stream gives the same values", "[initializers]") {
  for (const char* yaml :
       {"{kind: gaussian}", "{kind: uniform}", "{kind: xavier_normal}", "{kind: xavier_uniform}", "{kind: he_normal}",
        "{kind: he_uniform}", "{kind: lecun_normal}", "{kind: lecun_uniform}", "{kind: orthogonal}"}) {
    INFO(yaml);
    const Param a = filled(yaml, 11, 20, 30), b = filled(yaml, 11, 20, 30), c = filled(yaml, 12, 20, 30);
    CHECK(a.value == b.value);
    CHECK(a.value != c.value);
  }
}

TEST_CASE("orthogonal: orthonormal rows or columns, scaled by gain", "[initializers][orthogonal]") {
  const std::vector<std::pair<int, int>> shapes = {{200, 300}, {300, 200}, {64, 64}, {7, 1}};
  for (auto [rows, cols] : shapes)
    for (double gain : {1.0, 2.5}) {
      INFO(rows << "x" << cols << ", gain " << gain);
      const Param p = filled("{kind: orthogonal, gain: " + std::to_string(gain) + "}", 3, rows, cols);
      const Eigen::MatrixXd w = p.value.cast<double>() / gain;
      // The smaller Gram matrix is the identity: orthonormal rows (wide) or columns (tall).
      const Eigen::MatrixXd gram =
          rows <= cols ? Eigen::MatrixXd(w * w.transpose()) : Eigen::MatrixXd(w.transpose() * w);
      const auto k = gram.rows();
      CHECK((gram - Eigen::MatrixXd::Identity(k, k)).cwiseAbs().maxCoeff() < 1e-4);
      CHECK(p.value.cwiseAbs().maxCoeff() <= gain + 1e-5);  // entries of an orthogonal matrix are <= 1
    }
}

TEST_CASE("orthogonal: the sign correction makes Q uniformly distributed", "[initializers][orthogonal]") {
  // Q's first column is the first Gaussian column normalized up to the sign of R(0,0). Without
  // the correction Householder QR fixes that sign (Q(0,0) is always <= 0); with it Q(0,0) is
  // symmetric about 0. For Haar-distributed 10 x 10 Q, Q(0,0) has std 1/sqrt(10), so the mean of
  // 400 draws has standard error 0.016; an uncorrected Q gives a mean near -0.25.
  auto init = make_initializer("{kind: orthogonal}");
  double sum = 0;
  int negative = 0;
  for (int s = 0; s < 400; ++s) {
    Param p = weights(10, 10);
    Rng rng(1000 + s);
    init->fill(p, rng);
    sum += p.value(0, 0);
    negative += p.value(0, 0) < 0;
  }
  INFO("mean Q(0,0) " << sum / 400 << ", negative in " << negative << " of 400");
  CHECK(std::abs(sum / 400) < 0.08);
  CHECK(negative > 150);
  CHECK(negative < 250);
}

TEST_CASE("identity: gain * I, leading square block when not square", "[initializers]") {
  const Param sq = filled("{kind: identity, gain: 0.5}", 1, 6, 6);
  CHECK(sq.value == Matrix(0.5f * Matrix::Identity(6, 6)));

  for (auto [rows, cols] : std::vector<std::pair<int, int>>{{3, 5}, {5, 3}}) {
    const Param p = filled("{kind: identity}", 1, rows, cols);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) CHECK(p.value(i, j) == (i == j ? 1.0f : 0.0f));
  }
}

TEST_CASE("constant and zeros overwrite every weight", "[initializers]") {
  Param p = weights(4, 5);
  p.value.setConstant(3.0f);
  Rng rng(1);
  make_initializer("{kind: constant, value: -0.7}")->fill(p, rng);
  CHECK((p.value.array() == -0.7f).all());
  make_initializer("{kind: zeros}")->fill(p, rng);
  CHECK(p.value.isZero(0));
  p.value.setConstant(3.0f);
  make_initializer("{kind: constant}")->fill(p, rng);
  CHECK(p.value.isZero(0));
}

TEST_CASE("initializers: bad options and shapes are errors", "[initializers]") {
  REQUIRE_THROWS_AS(make_initializer("{kind: uniform, low: 0.5, high: 0.5}"), Error);
  REQUIRE_THROWS_AS(make_initializer("{kind: uniform, low: 1, high: -1}"), Error);
  REQUIRE_THROWS_AS(make_initializer("{kind: gaussian, std: -1}"), Error);
  for (const char* yaml :
       {"{kind: he_normal}", "{kind: he_uniform}", "{kind: lecun_normal}", "{kind: lecun_uniform}"}) {
    Param p("bias", 3, 1, 0, 3, Node());
    Rng rng(1);
    REQUIRE_THROWS_AS(make_initializer(yaml)->fill(p, rng), Error);
  }
}
