// last_step: the sequence reducer. Its gradient, its values, and end to end: a model with
// last_step before the head trains exactly like the same model whose head runs on every step
// (the loss sees only the last step either way), and misuse is reported.
#include <catch2/catch.hpp>

#include "support.hpp"
#include "unroll/gradcheck.hpp"

using namespace unroll;
using unroll::testing::make_layer;

TEST_CASE("last_step: finite-difference gradients, 1 and 4 steps", "[layers][last_step][gradcheck]") {
  for (int steps : {1, 4}) {
    auto l = make_layer("{kind: last_step}", 3);
    GradCheckOptions opt;
    opt.steps = steps;
    const GradCheckResult r = check_layer_gradients(*l, opt);
    INFO("steps " << steps << ": " << r.summary());
    CHECK(r.ok);
    CHECK(r.checked > 0);
  }
}

TEST_CASE("last_step: keeps step T-1, sends the gradient back to it alone", "[layers][last_step]") {
  auto l = make_layer("{kind: last_step}", 2);
  Seq x, y, dy, dx;
  x.resize(2, 3, 2);  // 3 steps of 2 samples
  for (Eigen::Index k = 0; k < x.data.size(); ++k) x.data.data()[k] = static_cast<float>(k);
  l->forward(x, y, Mode::Train);
  REQUIRE(y.steps == 1);
  REQUIRE(y.batch == 2);
  CHECK(y.data == x.step(2));
  dy.resize(2, 1, 2);
  dy.data << 1, 2, 3, 4;
  l->backward(dy, dx, true);
  REQUIRE(dx.steps == 3);
  CHECK(dx.step(2) == dy.data);
  CHECK(dx.step(0).isZero());
  CHECK(dx.step(1).isZero());
}

namespace {
const char* kAdding = R"(name: last_step_e2e
seed: 3
data: {kind: adding, length: 10, samples: 128, test_samples: 32, validation: 32}
model:
  - {kind: elman, units: 8}
  - {kind: dense, units: 1, name: head}
loss: {kind: squared_error}
optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
train: {epochs: 3, batch: 16, loss_at: last}
)";
}  // namespace

TEST_CASE("last_step before the head trains like a head on every step", "[layers][last_step][e2e]") {
  testing::TempDir dir;
  testing::run_text(dir, kAdding, "every");
  // The same parameter names (so the same initial values) with and without last_step.
  testing::run_text(dir, kAdding, "last",
                    {"model=[{kind: elman, units: 8}, {kind: last_step}, {kind: dense, units: 1, name: head}]"});
  const auto a = testing::read_csv(dir.file("every/metrics.csv")), b = testing::read_csv(dir.file("last/metrics.csv"));
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == a.size());
  REQUIRE(a[0] == b[0]);
  for (size_t row = 1; row < a.size(); ++row)
    for (size_t col = 1; col < a[0].size(); ++col) {
      if (a[0][col] == "seconds") continue;
      INFO("epoch " << row << ", " << a[0][col]);
      // The head's products sum the same terms (the other steps only added exact zeros).
      CHECK(std::stod(b[row][col]) == Approx(std::stod(a[row][col])).epsilon(1e-4).margin(1e-7));
    }
}

TEST_CASE("last_step with a loss at every step is an error that says what to change", "[layers][last_step]") {
  testing::TempDir dir;
  CHECK_THROWS_WITH(
      testing::run_text(dir, kAdding, "bad",
                        {"model=[{kind: elman, units: 8}, {kind: last_step}, {kind: dense, units: 4}]",
                         "data={kind: delayed_recall, lag: 2, alphabet: 4, length: 8, samples: 32, test_samples: 8, "
                         "validation: 8}",
                         "loss={kind: cross_entropy}", "train.loss_at=every"}),
      Catch::Contains("last_step") && Catch::Contains("loss_at"));
}
