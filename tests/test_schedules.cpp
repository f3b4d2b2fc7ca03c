// Learning-rate schedules: factor sequences against their formulas, composition with warm-up,
// reduce-on-plateau behaviour, checkpoint round trips of schedule state, and the clock the
// trainer gives them (updates, under truncated BPTT too).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>

#include "support.hpp"
#include "unroll/host/bptt.hpp"

using namespace unroll;
using unroll::testing::make_schedule;

namespace {

ScheduleState at_epoch(int e, long long steps_per_epoch = 10) { return {e, e * steps_per_epoch, steps_per_epoch}; }
ScheduleState at_step(long long s, long long steps_per_epoch = 10) {
  return {static_cast<int>(s / steps_per_epoch), s, steps_per_epoch};
}

}  // namespace

TEST_CASE("constant schedule", "[schedules]") {
  auto s = make_schedule("{kind: constant}");
  for (int e = 0; e < 5; ++e) CHECK(s->factor(at_epoch(e)) == 1.0);
  CHECK(make_schedule("{kind: constant, factor: 0.5}")->factor(at_epoch(3)) == 0.5);
  CHECK(s->state() == nullptr);
}

TEST_CASE("step schedule: gamma^floor(t / every)", "[schedules]") {
  auto s = make_schedule("{kind: step, every: 3, gamma: 0.5}");
  for (int e = 0; e < 12; ++e) CHECK(s->factor(at_epoch(e)) == Approx(std::pow(0.5, e / 3)));
  CHECK(s->factor(at_epoch(2)) == 1.0);
  CHECK(s->factor(at_epoch(3)) == 0.5);
  auto by_step = make_schedule("{kind: step, every: 25, gamma: 0.1, by: step}");
  for (long long t = 0; t < 100; t += 7) CHECK(by_step->factor(at_step(t)) == Approx(std::pow(0.1, t / 25)));
  CHECK_THROWS(make_schedule("{kind: step, every: 0}"));
  CHECK_THROWS(make_schedule("{kind: step}"));  // every is required
}

TEST_CASE("multistep schedule: gamma per milestone passed", "[schedules]") {
  auto s = make_schedule("{kind: multistep, milestones: [2, 5, 9], gamma: 0.1}");
  const int passed[12] = {0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3};
  for (int e = 0; e < 12; ++e) {
    INFO("epoch " << e);
    CHECK(s->factor(at_epoch(e)) == Approx(std::pow(0.1, passed[e])));
  }
  auto by_step = make_schedule("{kind: multistep, milestones: [15], gamma: 0.5, by: step}");
  CHECK(by_step->factor(at_step(14)) == 1.0);
  CHECK(by_step->factor(at_step(15)) == 0.5);
  CHECK_THROWS_WITH(make_schedule("{kind: multistep, milestones: [5, 3]}"), Catch::Contains("increasing"));
  CHECK_THROWS_WITH(make_schedule("{kind: multistep}"), Catch::Contains("milestone"));
}

TEST_CASE("exponential and inverse-time schedules", "[schedules]") {
  auto ex = make_schedule("{kind: exponential, gamma: 0.9}");
  auto ex_step = make_schedule("{kind: exponential, gamma: 0.99, by: step}");
  auto inv = make_schedule("{kind: inverse_time, decay: 0.5}");
  auto inv_step = make_schedule("{kind: inverse_time, decay: 0.01, by: step}");
  for (int e = 0; e < 10; ++e) {
    CHECK(ex->factor(at_epoch(e)) == Approx(std::pow(0.9, e)));
    CHECK(ex_step->factor(at_epoch(e)) == Approx(std::pow(0.99, 10 * e)));
    CHECK(inv->factor(at_epoch(e)) == Approx(1.0 / (1.0 + 0.5 * e)));
    CHECK(inv_step->factor(at_epoch(e)) == Approx(1.0 / (1.0 + 0.01 * 10 * e)));
  }
  CHECK_THROWS(make_schedule("{kind: exponential}"));  // gamma is required
  CHECK_THROWS(make_schedule("{kind: exponential, gamma: 1.5}"));
}

TEST_CASE("cosine schedule (SGDR without restarts)", "[schedules]") {
  const double T = 10, lo = 0.1;
  auto s = make_schedule("{kind: cosine, T_max: 10, min_factor: 0.1}");
  for (int e = 0; e <= 14; ++e) {
    const double t = std::min<double>(e, T);
    CHECK(s->factor(at_epoch(e)) == Approx(lo + (1 - lo) * (1 + std::cos(std::numbers::pi * t / T)) / 2));
  }
  CHECK(s->factor(at_epoch(0)) == Approx(1.0));
  CHECK(s->factor(at_epoch(5)) == Approx(0.55));
  CHECK(s->factor(at_epoch(10)) == Approx(lo));
  CHECK(s->factor(at_epoch(20)) == Approx(lo));  // held at the minimum after T_max
  auto by_step = make_schedule("{kind: cosine, T_max: 40, by: step}");
  for (long long k = 0; k <= 40; k += 5)
    CHECK(by_step->factor(at_step(k)) == Approx((1 + std::cos(std::numbers::pi * k / 40.0)) / 2).margin(1e-12));
}

TEST_CASE("warm-up composed with cosine, by step", "[schedules]") {
  const int W = 5, T = 20;
  auto s = make_schedule("{kind: warmup, length: 5, by: step, then: {kind: cosine, T_max: 20, by: step}}");
  for (long long k = 0; k < 40; ++k) {
    INFO("step " << k);
    double expected;
    if (k < W)
      expected = (k + 1.0) / W;  // the cosine is still at its start, factor 1
    else
      expected = (1 + std::cos(std::numbers::pi * std::min<double>(k - W, T) / T)) / 2;
    CHECK(s->factor(at_step(k)) == Approx(expected).margin(1e-12));
  }
  // Rises strictly during warm-up, peaks at 1 when it ends, then decays.
  CHECK(s->factor(at_step(0)) < s->factor(at_step(3)));
  CHECK(s->factor(at_step(W - 1)) == Approx(1.0));
  CHECK(s->factor(at_step(W + 10)) < 1.0);
}

TEST_CASE("warm-up composed with step decay, by epoch", "[schedules]") {
  auto s = make_schedule("{kind: warmup, length: 2, then: {kind: step, every: 3, gamma: 0.5}}");
  // Epochs 0,1 warm up; the step schedule's epoch 0 is run epoch 2.
  const double expected[10] = {0.5, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25};
  for (int e = 0; e < 10; ++e) {
    INFO("epoch " << e);
    const double formula = std::min(1.0, (e + 1) / 2.0) * std::pow(0.5, std::max(0, e - 2) / 3);
    CHECK(formula == expected[e]);
    CHECK(s->factor(at_epoch(e)) == Approx(formula));
  }
  auto plain = make_schedule("{kind: warmup, length: 4}");  // then defaults to constant
  for (int e = 0; e < 8; ++e) CHECK(plain->factor(at_epoch(e)) == Approx(std::min(1.0, (e + 1) / 4.0)));
}

namespace {
// Feeds `values` as val_loss epoch by epoch and returns the factor in effect after each epoch.
std::vector<double> run_plateau(Schedule& s, const std::vector<double>& values,
                                const std::string& metric = "val_loss") {
  std::vector<double> out;
  for (std::size_t e = 0; e < values.size(); ++e) {
    s.end_epoch(static_cast<int>(e), {{metric, values[e]}, {"train_loss", 0.0}});
    out.push_back(s.factor(at_epoch(static_cast<int>(e) + 1)));
  }
  return out;
}
}  // namespace

TEST_CASE("plateau reduces after patience bad epochs", "[schedules]") {
  auto s = make_schedule("{kind: plateau, patience: 2, factor: 0.5}");
  CHECK(s->factor(at_epoch(0)) == 1.0);
  // Improves for 3 epochs, then flat: bad epochs 1, 2 are tolerated, the 3rd (> patience) reduces.
  const auto f = run_plateau(*s, {1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8});
  const double expected[9] = {1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (int e = 0; e < 9; ++e) {
    INFO("epoch " << e);
    CHECK(f[e] == Approx(expected[e]));
  }
}

TEST_CASE("plateau cooldown, threshold, mode and floor", "[schedules]") {
  SECTION("cooldown epochs do not count") {
    auto s = make_schedule("{kind: plateau, patience: 1, factor: 0.5, cooldown: 2}");
    // Reduction at epoch 2 (2 bad epochs > patience 1); epochs 3, 4 cool down; then 2 more bad.
    const auto f = run_plateau(*s, {1, 1, 1, 1, 1, 1, 1, 1});
    const double expected[8] = {1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25};
    for (int e = 0; e < 8; ++e) {
      INFO("epoch " << e);
      CHECK(f[e] == Approx(expected[e]));
    }
  }
  SECTION("improvements smaller than the relative threshold are bad epochs") {
    auto strict = make_schedule("{kind: plateau, patience: 1, factor: 0.5, threshold: 0.01}");
    auto loose = make_schedule("{kind: plateau, patience: 1, factor: 0.5, threshold: 0.0001}");
    const std::vector<double> slow{1.0, 0.995, 0.99, 0.985, 0.98};  // 0.5% per epoch
    CHECK(run_plateau(*strict, slow).back() < 1.0);
    CHECK(run_plateau(*loose, slow).back() == 1.0);
  }
  SECTION("absolute threshold") {
    auto s = make_schedule("{kind: plateau, patience: 0, factor: 0.5, threshold: 0.1, threshold_mode: abs}");
    const auto f = run_plateau(*s, {1.0, 0.85, 0.8});  // 0.15 better: improvement; 0.05 better: not
    CHECK(f[1] == 1.0);
    CHECK(f[2] == Approx(0.5));
  }
  SECTION("mode max watches a rising metric") {
    auto s = make_schedule("{kind: plateau, metric: val_accuracy, mode: max, patience: 1, factor: 0.1}");
    const auto f = run_plateau(*s, {0.5, 0.6, 0.7, 0.65, 0.69, 0.7}, "val_accuracy");
    CHECK(f[3] == 1.0);
    CHECK(f[4] == Approx(0.1));
  }
  SECTION("never below min_factor") {
    auto s = make_schedule("{kind: plateau, patience: 0, factor: 0.1, min_factor: 0.05}");
    const auto f = run_plateau(*s, {1, 1, 1, 1, 1});
    CHECK(f.back() == Approx(0.05));
  }
  SECTION("a metric that is not reported is an error naming what is") {
    auto s = make_schedule("{kind: plateau}");
    CHECK_THROWS_WITH(s->end_epoch(0, {{"train_loss", 1.0}}),
                      Catch::Contains("val_loss") && Catch::Contains("train_loss"));
  }
}

TEST_CASE("schedule state round trip continues exactly", "[schedules]") {
  const std::vector<double> losses{1.0, 0.9, 0.9, 0.91, 0.95, 0.9, 0.85, 0.86, 0.87, 0.88, 0.9, 0.9, 0.9};
  for (const char* yaml : {"{kind: plateau, patience: 1, factor: 0.5, cooldown: 1}",
                           "{kind: warmup, length: 2, then: {kind: plateau, patience: 1, factor: 0.5}}"}) {
    INFO(yaml);
    auto whole = make_schedule(yaml);
    const auto expected = run_plateau(*whole, losses);
    REQUIRE(expected.back() < 1.0);  // the run does reduce, so the state matters

    const std::size_t cut = 5;
    auto first = make_schedule(yaml);
    run_plateau(*first, {losses.begin(), losses.begin() + cut});
    REQUIRE(first->state() != nullptr);
    const StateMap saved = *first->state();
    first.reset();
    auto second = make_schedule(yaml);
    *second->state() = saved;
    for (std::size_t e = cut; e < losses.size(); ++e) {
      second->end_epoch(static_cast<int>(e), {{"val_loss", losses[e]}});
      INFO("epoch " << e);
      CHECK(second->factor(at_epoch(static_cast<int>(e) + 1)) == expected[e]);
    }
  }
}

namespace {

// A truncated-BPTT run with every-step loss: 40 sequences of 6 steps in batches of 10 (4 batches
// an epoch), k1 = 2 (3 windows a batch, each an update): 12 updates an epoch, 36 in the run.
const char* kTruncated = R"(name: clock
seed: 2
data: {kind: delayed_recall, lag: 1, alphabet: 3, length: 6, samples: 40, test_samples: 10}
model:
  - {kind: elman, units: 4}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1}
train: {epochs: 3, batch: 10, loss_at: every, bptt: {k1: 2}}
)";
constexpr long long kUpdatesPerEpoch = 4 * 3;
constexpr int kEpochs = 3;

}  // namespace

TEST_CASE("under truncated BPTT every schedule counts updates: steps_per_epoch is windows, not batches",
          "[schedules][bptt]") {
  // The lr in metrics.csv is the one of the epoch's last update, step (e+1)*U - 1 with U updates an
  // epoch; each schedule, built again here, must give that factor from the same clock. With
  // steps_per_epoch counted in batches, warmup's nested clock ran ahead (it collapsed the lr).
  const std::vector<std::string> schedules{
      "{kind: constant, factor: 0.5}",
      "{kind: step, every: 12, gamma: 0.5, by: step}",
      "{kind: step, every: 1, gamma: 0.5}",
      "{kind: multistep, milestones: [10, 30], gamma: 0.5, by: step}",
      "{kind: exponential, gamma: 0.97, by: step}",
      "{kind: inverse_time, decay: 0.1, by: step}",
      "{kind: cosine, T_max: 36, by: step}",
      "{kind: cosine, by: step}",
      "{kind: cosine}",
      "{kind: warmup, length: 1, then: {kind: cosine, T_max: 24, by: step}}",
      "{kind: warmup, length: 1, then: {kind: cosine, by: step}}",
      "{kind: warmup, length: 6, by: step, then: {kind: exponential, gamma: 0.9, by: step}}",
      "{kind: plateau, metric: train_loss, patience: 0, factor: 0.5, threshold: 0.5}",
  };
  testing::TempDir dir;
  int i = 0;
  for (const std::string& yaml : schedules) {
    INFO("schedule " << yaml);
    const std::string out = "run" + std::to_string(i++);
    const RunResult r = testing::run_text(dir, kTruncated, out, {"schedule=" + yaml});
    REQUIRE(r.epochs == kEpochs);
    const auto rows = testing::read_csv(dir.file(out + "/metrics.csv"));
    REQUIRE(rows.size() == kEpochs + 1);
    const size_t lr_col = std::find(rows[0].begin(), rows[0].end(), "lr") - rows[0].begin();
    const size_t loss_col = std::find(rows[0].begin(), rows[0].end(), "train_loss") - rows[0].begin();
    auto s = make_schedule(yaml);
    for (int e = 0; e < kEpochs; ++e) {
      INFO("epoch " << e);
      const ScheduleState at{e, (e + 1) * kUpdatesPerEpoch - 1, kUpdatesPerEpoch, kEpochs, kEpochs * kUpdatesPerEpoch};
      CHECK(std::stod(rows[e + 1][lr_col]) == Approx(0.1 * s->factor(at)).epsilon(1e-6));
      s->end_epoch(e, {{"train_loss", std::stod(rows[e + 1][loss_col])}});
    }
    std::ifstream in(dir.file(out + "/summary.json"));
    CHECK(nlohmann::json::parse(in)["steps"] == kEpochs * kUpdatesPerEpoch);
  }
}

TEST_CASE("bptt_updates: updates a batch makes", "[schedules][bptt]") {
  CHECK(bptt_updates(6, 2, true) == 3);
  CHECK(bptt_updates(7, 2, true) == 4);   // the last window is shorter
  CHECK(bptt_updates(6, 0, true) == 1);   // full BPTT
  CHECK(bptt_updates(6, 10, true) == 1);  // k1 >= T: one window
  CHECK(bptt_updates(6, 2, false) == 1);  // last-step loss: only the last window has a loss
}

TEST_CASE("schedules see the run's length: cosine without T_max anneals over the run", "[schedules]") {
  const int E = 8;
  const long long U = 5;
  auto clock = [&](int e, long long step) { return ScheduleState{e, step, U, E, E * U}; };
  auto by_epoch = make_schedule("{kind: cosine, min_factor: 0.1}");
  auto explicit_T = make_schedule("{kind: cosine, T_max: 8, min_factor: 0.1}");
  for (int e = 0; e < E; ++e) CHECK(by_epoch->factor(clock(e, e * U)) == Approx(explicit_T->factor(clock(e, e * U))));
  auto by_step = make_schedule("{kind: cosine, by: step}");
  for (long long k = 0; k < E * U; k += 3)
    CHECK(by_step->factor(clock(static_cast<int>(k / U), k)) ==
          Approx((1 + std::cos(std::numbers::pi * k / (E * U))) / 2).margin(1e-12));
  // A warm-up hands the nested schedule what is left of the run after it.
  auto warm = make_schedule("{kind: warmup, length: 2, then: {kind: cosine}}");
  auto rest = make_schedule("{kind: cosine, T_max: 6}");
  for (int e = 2; e < E; ++e) CHECK(warm->factor(clock(e, e * U)) == Approx(rest->factor(clock(e - 2, 0))));
  auto warm_steps = make_schedule("{kind: warmup, length: 10, by: step, then: {kind: cosine, by: step}}");
  auto rest_steps = make_schedule("{kind: cosine, T_max: 30, by: step}");
  for (long long k = 10; k < E * U; k += 4)
    CHECK(warm_steps->factor(clock(static_cast<int>(k / U), k)) ==
          Approx(rest_steps->factor(clock(0, k - 10))).margin(1e-12));
  // Without the run's length (a schedule queried on its own), T_max is required.
  CHECK_THROWS_WITH(by_epoch->factor(ScheduleState{0, 0, U}), Catch::Contains("T_max"));
}
