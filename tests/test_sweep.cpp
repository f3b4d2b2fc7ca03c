// Sweeps: composition (extends, deep merge, path keys, null removal) and its errors; variant
// expansion (vary, grid, named); the report's statistics against hand-computed values; and an
// end-to-end sweep with a failing variant, resumed.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "file_support.hpp"
#include "support.hpp"
#include "unroll/error.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/report.hpp"
#include "unroll/host/run_failure.hpp"
#include "unroll/host/sweep.hpp"
#include "unroll/host/sweep_run.hpp"
#include "spawn.hpp"

using namespace unroll;
using unroll::testing::shell;
using unroll::testing::shell_quote;
using unroll::testing::ShellResult;
using unroll::testing::TempDir;
using unroll::testing::write;
namespace fs = std::filesystem;

namespace {

// A tiny classification experiment: blobs, a 2-layer MLP, 2 epochs.
const char* kBase =
    "name: tiny\n"
    "seed: 1\n"
    "data: {kind: blobs, classes: 2, samples: 20, test_samples: 10}\n"
    "model:\n"
    "  - {kind: dense, units: 4}\n"
    "  - {kind: tanh}\n"
    "  - {kind: dense, units: 2}\n"
    "loss: {kind: cross_entropy}\n"
    "optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}\n"
    "train: {epochs: 2, batch: 8}\n";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("extends deep-merges and keeps each value's own file location", "[sweep]") {
  TempDir t;
  write(t.file("base/base.yaml"), kBase);
  write(t.file("child.yaml"),
        "extends: base/base.yaml\n"
        "optimizer: {momentum: 0.5}\n"  // merged: lr stays
        "model[1]: {kind: relu}\n"      // a list element by index
        "train.epochs: 3\n");
  write(t.file("grandchild.yaml"), "extends: child.yaml\nmodel[1]: null\nloss: {kind: squared_error}\n");

  Node c = load_composed(t.file("child.yaml"));
  CHECK(c.at("optimizer").at("lr").text() == "0.1");
  CHECK(c.at("optimizer").at("momentum").text() == "0.5");
  CHECK(c.at("model").items()[1].at("kind").text() == "relu");
  CHECK(c.at("train").at("epochs").text() == "3");
  CHECK(c.at("train").at("batch").text() == "8");
  CHECK_FALSE(c.has("extends"));
  // lr was written in the base file, momentum in the child.
  CHECK(c.at("optimizer").at("lr").loc().file.find("base.yaml") != std::string::npos);
  CHECK(c.at("optimizer").at("momentum").loc().file.find("child.yaml") != std::string::npos);
  CHECK(c.at("optimizer").at("momentum").loc().line == 2);

  Node g = load_composed(t.file("grandchild.yaml"));
  REQUIRE(g.at("model").items().size() == 2);  // null removed the element
  CHECK(g.at("model").items()[1].at("units").text() == "2");
  CHECK(g.at("optimizer").at("momentum").text() == "0.5");  // the chain holds
  CHECK(g.at("loss").at("kind").text() == "squared_error");

  // A block whose kind changes is replaced, not merged.
  Node base = parse_yaml("optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}", "a");
  merge_into(base, parse_yaml("optimizer: {kind: adam}", "b"));
  CHECK_FALSE(base.at("optimizer").has("momentum"));
  // null removes a block.
  merge_into(base, parse_yaml("optimizer: null", "c"));
  CHECK_FALSE(base.has("optimizer"));

  // The composed file runs through load_experiment.
  Experiment e = load_experiment(t.file("grandchild.yaml"), {"train.epochs=4"}, unroll::testing::host());
  CHECK(e.config.at("train").at("epochs").text() == "4");
  CHECK(e.config.at("model").items().size() == 2);
}

TEST_CASE("a mapping given to a list element or a path merges into it", "[sweep][config]") {
  TempDir t;
  write(t.file("base.yaml"),
        "name: cells\ndata: {kind: blobs, classes: 2, samples: 20, test_samples: 10}\n"
        "model:\n  - {kind: dense, units: 4, init: {kind: gaussian, std: 0.2, mean: 0.5}}\n  - tanh\n"
        "  - {kind: dense, units: 2}\noptimizer: {kind: sgd, lr: 0.1, momentum: 0.9}\n");
  // In a file, as a path key: the element keeps every key the override does not name.
  write(t.file("child.yaml"),
        "extends: base.yaml\n"
        "model[0]: {units: 8}\n"               // merges: init stays
        "model[0].init: {std: 0.05}\n"         // recursively: mean and kind stay
        "model[1]: {kind: relu}\n"             // a bare kind is a block; a different kind replaces
        "model[2]: {init: {kind: zeros}}\n");  // a nested block of another kind replaces that block
  Node c = load_composed(t.file("child.yaml"));
  const Node& l0 = c.at("model").items()[0];
  CHECK(l0.at("kind").text() == "dense");
  CHECK(l0.at("units").text() == "8");
  CHECK(l0.at("init").at("kind").text() == "gaussian");
  CHECK(l0.at("init").at("std").text() == "0.05");
  CHECK(l0.at("init").at("mean").text() == "0.5");
  CHECK(c.at("model").items()[1].at("kind").text() == "relu");
  CHECK(c.at("model").items()[2].at("units").text() == "2");
  CHECK(c.at("model").items()[2].at("init").at("kind").text() == "zeros");
  // The merged values keep the place each was written: units in the child, mean in the base.
  CHECK(l0.at("units").loc().file.find("child.yaml") != std::string::npos);
  CHECK(l0.at("init").at("mean").loc().file.find("base.yaml") != std::string::npos);

  // The same through --set, onto a list element written as a bare kind and onto a block.
  Node root = load_composed(t.file("base.yaml"));
  apply_set(root, "model[1]={name: act}");
  apply_set(root, "optimizer={lr: 0.5}");
  apply_set(root, "model[0]={units: 16}");
  CHECK(root.at("model").items()[1].at("kind").text() == "tanh");
  CHECK(root.at("model").items()[1].at("name").text() == "act");
  CHECK(root.at("optimizer").at("momentum").text() == "0.9");
  CHECK(root.at("optimizer").at("lr").text() == "0.5");
  CHECK(root.at("model").items()[0].at("init").at("std").text() == "0.2");
  // Scalars and lists replace; null removes; a block of another kind replaces the element.
  apply_set(root, "model[0]={kind: dense, units: 3}");
  CHECK(root.at("model").items()[0].has("init"));  // same kind: merged
  apply_set(root, "model[0]={kind: identity}");
  CHECK_FALSE(root.at("model").items()[0].has("units"));

  // And in a sweep: a variant's list element and a vary value merge into the base's element.
  write(t.file("sweep.yaml"),
        "extends: base.yaml\n"
        "vary:\n  model[0]: [{units: 6}]\n"
        "variants:\n  wide:\n    model[0]: {units: 12}\n");
  SweepSpec sw = load_sweep(t.file("sweep.yaml"), {}, unroll::testing::host());
  REQUIRE(sw.variants.size() == 3);
  for (size_t i = 1; i < 3; ++i) {
    INFO(sw.variants[i].name);
    const Node& m0 = sw.variants[i].config.at("model").items()[0];
    CHECK(m0.at("units").text() == (i == 1 ? "6" : "12"));
    CHECK(m0.at("init").at("kind").text() == "gaussian");
    CHECK(m0.at("init").at("mean").text() == "0.5");
  }
}

TEST_CASE("a mapping written onto a variant keeps the variant's own path keys as keys", "[sweep][config]") {
  // A variant's overrides (`model[0]: {...}`) are keys until they are applied to the experiment;
  // a file that extends the sweep and rewrites the variant merges into those keys rather than
  // reading them as paths into the variant itself.
  TempDir t;
  write(t.file("base.yaml"), kBase);
  write(t.file("sweep.yaml"), "extends: base.yaml\nvariants:\n  small:\n    model[0]: {kind: dense, units: 4}\n");
  write(t.file("child.yaml"), "extends: sweep.yaml\nvariants.small: {\"model[0]\": {kind: dense, units: 7}}\n");
  SweepSpec s = load_sweep(t.file("child.yaml"), {}, unroll::testing::host());
  REQUIRE(s.variants.size() == 2);
  CHECK(s.variants[1].name == "small");
  CHECK(s.variants[1].config.at("model").items()[0].at("units").text() == "7");
}

TEST_CASE("the sweep's base variant can be named", "[sweep]") {
  TempDir t;
  write(t.file("base.yaml"), kBase);
  auto& host = unroll::testing::host();
  write(t.file("named_base.yaml"), "extends: base.yaml\nbase_name: baseline\nvary: {optimizer.momentum: [0]}\n");
  SweepSpec s = load_sweep(t.file("named_base.yaml"), {}, host);
  REQUIRE(s.variants.size() == 2);
  CHECK(s.variants[0].name == "baseline");
  CHECK(s.variants[0].dir == "baseline");
  // The run folders and the report rows use it.
  const std::vector<SweepRun> runs = prepare_sweep_folder(s, t.file("out"));
  CHECK(fs::exists(t.file("out/variants/baseline.yaml")));
  CHECK(std::any_of(runs.begin(), runs.end(), [](const SweepRun& r) { return r.variant == "baseline"; }));
  CHECK(read_file(t.file("out/sweep.json")).find("\"baseline\"") != std::string::npos);

  // Without it the base is "base"; a name that is not usable, or that a variant also has, is an error.
  write(t.file("empty.yaml"), "extends: base.yaml\nbase_name: ''\n");
  CHECK(error_of([&] { load_sweep(t.file("empty.yaml"), {}, host); }).find("empty.yaml:2:") != std::string::npos);
  write(t.file("clash.yaml"), "extends: base.yaml\nbase_name: fast\nvariants: {fast: {optimizer.lr: 0.5}}\n");
  const std::string clash = error_of([&] { load_sweep(t.file("clash.yaml"), {}, host); });
  CHECK(clash.find("'fast'") != std::string::npos);
  CHECK(clash.find("base_name") != std::string::npos);
  CHECK(load_sweep(t.file("named_base.yaml"), {"base_name=reference"}, host).variants[0].name == "reference");
}

TEST_CASE("composition errors name the files and positions", "[sweep]") {
  TempDir t;
  write(t.file("a.yaml"), "extends: b.yaml\nseed: 2\n");
  write(t.file("b.yaml"), "extends: a.yaml\nseed: 3\n");
  std::string cyc = error_of([&] { load_composed(t.file("a.yaml")); });
  CHECK(cyc.find("extends cycle") != std::string::npos);
  CHECK(cyc.find("a.yaml -> ") != std::string::npos);
  CHECK(cyc.find("b.yaml") != std::string::npos);

  write(t.file("m.yaml"), "seed: 1\nextends: nowhere/missing.yaml\n");
  std::string miss = error_of([&] { load_composed(t.file("m.yaml")); });
  CHECK(miss.find("m.yaml:2:") != std::string::npos);
  CHECK(miss.find("missing.yaml") != std::string::npos);
  CHECK(miss.find("does not exist") != std::string::npos);

  write(t.file("base.yaml"), kBase);
  write(t.file("idx.yaml"), "extends: base.yaml\nmodel[7].units: 3\n");
  std::string idx = error_of([&] { load_composed(t.file("idx.yaml")); });
  CHECK(idx.find("idx.yaml:2:1") != std::string::npos);
  CHECK(idx.find("index 7 is out of range") != std::string::npos);
  CHECK(idx.find("3 elements") != std::string::npos);

  write(t.file("notlist.yaml"), "extends: base.yaml\noptimizer[0]: 1\n");
  CHECK(error_of([&] { load_composed(t.file("notlist.yaml")); }).find("not a list") != std::string::npos);
  write(t.file("badidx.yaml"), "extends: base.yaml\nmodel[x]: 1\n");
  CHECK(error_of([&] { load_composed(t.file("badidx.yaml")); }).find("not a list index") != std::string::npos);
}

TEST_CASE("vary, grid and named variants expand to the right counts and names", "[sweep]") {
  TempDir t;
  write(t.file("base.yaml"), kBase);
  auto& host = unroll::testing::host();

  write(t.file("vary.yaml"),
        "extends: base.yaml\nseeds: 3\n"
        "vary:\n  optimizer.momentum: [0, 0.5]\n  model[1]: [{kind: relu}, {kind: sigmoid}, null]\n");
  SweepSpec v = load_sweep(t.file("vary.yaml"), {}, host);
  REQUIRE(v.variants.size() == 1 + 2 + 3);
  CHECK(v.variants[0].name == "base");
  CHECK(v.variants[1].name == "optimizer.momentum=0");
  CHECK(v.variants[3].name == "model[1]=relu");
  CHECK(v.variants[5].name == "model[1]=null");
  CHECK(v.variants[5].config.at("model").items().size() == 2);
  CHECK(v.seeds == std::vector<long long>{1, 2, 3});
  CHECK(v.metric.name == "test_loss");
  CHECK_FALSE(v.metric.higher_is_better);

  // A value equal to the base does not make a second copy of the base.
  write(t.file("dup.yaml"), "extends: base.yaml\nvary: {optimizer.momentum: [0.9, 0.0]}\n");
  SweepSpec d = load_sweep(t.file("dup.yaml"), {}, host);
  CHECK(d.variants.size() == 2);
  CHECK(d.notes.size() == 1);

  write(t.file("grid.yaml"),
        "extends: base.yaml\nseeds: [4, 7]\n"
        "grid: {optimizer.lr: [0.01, 0.05, 0.2], train.batch: [4, 16]}\n"
        "metric: {name: test_accuracy}\n");
  SweepSpec g = load_sweep(t.file("grid.yaml"), {}, host);
  CHECK(g.variants.size() == 1 + 3 * 2);
  CHECK(g.variants[1].name == "optimizer.lr=0.01,train.batch=4");
  CHECK(g.variants[2].name == "optimizer.lr=0.01,train.batch=16");
  CHECK(g.seeds == std::vector<long long>{4, 7});
  CHECK(g.metric.higher_is_better);  // inferred from the name

  write(t.file("all.yaml"),
        "extends: base.yaml\n"
        "vary: {optimizer.momentum: [0]}\n"
        "grid: {optimizer.lr: [0.01, 0.05], train.batch: [4, 16]}\n"
        "variants:\n  adam: {optimizer: {kind: adam, lr: 0.01}}\n  no_hidden_act:\n    model[1]: null\n"
        "metric: {name: test_accuracy, higher_is_better: true}\nmetrics: [test_loss]\njobs: 3\nthreads_per_run: 2\n");
  SweepSpec a = load_sweep(t.file("all.yaml"), {"seeds=2"}, host);
  CHECK(a.variants.size() == 1 + 1 + 4 + 2);
  CHECK(a.variants.back().name == "no_hidden_act");
  CHECK(a.variants[a.variants.size() - 2].config.at("optimizer").at("kind").text() == "adam");
  CHECK(a.seeds.size() == 2);  // --set applies to the sweep keys too
  CHECK(a.extra_metrics.size() == 1);
  CHECK(a.jobs == 3);
  CHECK(a.threads_per_run == 2);
  CHECK(value_label(parse_yaml("{kind: adam, lr: 0.001}", "x")) == "adam(lr=0.001)");
}

TEST_CASE("a grid factor with named levels changes several values per level", "[sweep]") {
  TempDir t;
  write(t.file("base.yaml"), kBase);
  auto& host = unroll::testing::host();
  // Levels that move two values together (what a list of values at one path cannot say), crossed
  // with an ordinary factor; the level equal to the base is dropped, the base runs once.
  write(t.file("named_grid.yaml"),
        "extends: base.yaml\n"
        "grid:\n"
        "  size:\n"
        "    small:\n"
        "      model[0].units: 4\n"
        "      train.batch: 8\n"
        "    wide:\n"
        "      model[0].units: 16\n"
        "      train.batch: 4\n"
        "  optimizer.lr: [0.1, 0.3]\n");
  SweepSpec g = load_sweep(t.file("named_grid.yaml"), {}, host);
  REQUIRE(g.variants.size() == 4);  // base (= size=small,optimizer.lr=0.1) + 3
  CHECK(g.notes.size() == 1);
  CHECK(g.variants[1].name == "size=small,optimizer.lr=0.3");
  CHECK(g.variants[2].name == "size=wide,optimizer.lr=0.1");
  const Node& wide = g.variants[3].config;
  CHECK(wide.at("model").items()[0].at("units").text() == "16");
  CHECK(wide.at("model").items()[0].at("kind").text() == "dense");
  CHECK(wide.at("train").at("batch").text() == "4");
  CHECK(wide.at("optimizer").at("lr").text() == "0.3");

  // --set reaches into a level (how a tool writes a chosen value into a later stage) and removes one.
  SweepSpec s =
      load_sweep(t.file("named_grid.yaml"), {"grid.size.wide.optimizer.momentum=0.5", "grid.size.small=null"}, host);
  REQUIRE(s.variants.size() == 3);
  CHECK(s.variants[1].config.at("optimizer").at("momentum").text() == "0.5");

  write(t.file("bad_level.yaml"), "extends: base.yaml\ngrid:\n  size:\n    small: 4\n");
  std::string e1 = error_of([&] { load_sweep(t.file("bad_level.yaml"), {}, host); });
  CHECK(e1.find("bad_level.yaml:4:") != std::string::npos);
  CHECK(e1.find("level 'small' of grid factor 'size'") != std::string::npos);
  write(t.file("typo_level.yaml"), "extends: base.yaml\ngrid:\n  size:\n    wide:\n      model[0].unitz: 16\n");
  std::string e2 = error_of([&] { load_sweep(t.file("typo_level.yaml"), {}, host); });
  CHECK(e2.find("size=wide") != std::string::npos);
  CHECK(e2.find("did you mean 'units'") != std::string::npos);
}

TEST_CASE("an invalid variant is reported with its name and location before anything runs", "[sweep]") {
  TempDir t;
  write(t.file("base.yaml"), kBase);
  auto& host = unroll::testing::host();
  write(t.file("typo.yaml"), "extends: base.yaml\nvary:\n  optimizer.momentun: [0.1]\n");
  std::string e1 = error_of([&] { load_sweep(t.file("typo.yaml"), {}, host); });
  CHECK(e1.find("variant 'optimizer.momentun=0.1'") != std::string::npos);
  CHECK(e1.find("typo.yaml:3:3") != std::string::npos);
  CHECK(e1.find("did you mean 'momentum'") != std::string::npos);

  write(t.file("named.yaml"), "extends: base.yaml\nvariants:\n  fast:\n    optimizer: {lr: -1}\n");
  std::string e2 = error_of([&] { load_sweep(t.file("named.yaml"), {}, host); });
  CHECK(e2.find("variant 'fast'") != std::string::npos);
  CHECK(e2.find("named.yaml:4:") != std::string::npos);

  write(t.file("range.yaml"), "extends: base.yaml\nvary:\n  model[5].units: [3]\n");
  std::string e3 = error_of([&] { load_sweep(t.file("range.yaml"), {}, host); });
  CHECK(e3.find("range.yaml:3:3") != std::string::npos);
  CHECK(e3.find("out of range") != std::string::npos);

  write(t.file("unknown.yaml"), "extends: base.yaml\nvariants: {x: {optimzer: {lr: 1}}}\n");
  std::string e4 = error_of([&] { load_sweep(t.file("unknown.yaml"), {}, host); });
  CHECK(e4.find("variant 'x'") != std::string::npos);
  CHECK(e4.find("unknown key 'optimzer'") != std::string::npos);

  write(t.file("seeds.yaml"), "extends: base.yaml\nseeds: [1, x]\n");
  CHECK(error_of([&] { load_sweep(t.file("seeds.yaml"), {}, host); }).find("seeds.yaml:2:") != std::string::npos);
}

TEST_CASE("a variant that only building finds wrong is refused before any run starts or task is submitted", "[sweep]") {
  // The schema accepts both variants below; building them does not: a last layer of 3 units on
  // 2 classes, and a regularizer pattern that matches no parameter. The sweep checks every variant
  // as `unroll run --check` would, so neither fails its runs one by one later.
  TempDir t;
  write(t.file("base.yaml"), kBase);
  auto& host = unroll::testing::host();
  write(t.file("built.yaml"),
        "extends: base.yaml\nvariants:\n  wide:\n    model[2].units: 3\n  fine: {optimizer.lr: 0.2}\n"
        "  nomatch: {regularizers: [{kind: l2, lambda: 0.1, params: 'conv*'}]}\n");
  const SweepSpec spec = load_sweep(t.file("built.yaml"), {}, host);  // the schema passes every variant
  REQUIRE(spec.variants.size() == 4);
  std::vector<std::string> messages;
  try {
    preflight_sweep(spec, host);
  } catch (const ConfigErrors& e) {
    messages = e.messages();
  }
  REQUIRE(messages.size() == 2);
  CHECK_THAT(messages[0], Catch::Contains("variant 'wide'") && Catch::Contains("the model outputs 3 features"));
  CHECK_THAT(messages[1], Catch::Contains("variant 'nomatch'") && Catch::Contains("built.yaml:6:") &&
                              Catch::Contains("'conv*' matches none"));

  // The command refuses it before it makes the sweep folder; without the two, the check passes.
  CHECK(unroll::testing::run_unroll({"sweep", t.file("built.yaml"), "--out", t.file("out")}, t.file("sweep.log")) ==
        kExitFailed);
  CHECK_THAT(read_file(t.file("sweep.log")), Catch::Contains("variant 'wide'"));
  CHECK_FALSE(fs::exists(t.file("out")));
  write(t.file("good.yaml"), "extends: base.yaml\nvariants:\n  fine: {optimizer.lr: 0.2}\n");
  CHECK_NOTHROW(preflight_sweep(load_sweep(t.file("good.yaml"), {}, host), host));
}

TEST_CASE("sweep statistics match hand-computed values", "[sweep]") {
  // a = {1, 2, 3, 4}: mean 2.5, var 5/3; b = {2, 4, 6}: mean 4, var 4.
  const SampleStats s = sample_stats({1, 2, 3, 4});
  CHECK(s.n == 4);
  CHECK(s.mean == Approx(2.5));
  CHECK(s.sd == Approx(std::sqrt(5.0 / 3.0)));
  CHECK(std::isnan(sample_stats({3}).sd));

  const WelchResult w = welch_test({1, 2, 3, 4}, {2, 4, 6});
  REQUIRE(w.valid);
  const double va = (5.0 / 3.0) / 4, vb = 4.0 / 3;  // s^2 / n
  const double se = std::sqrt(va + vb);
  CHECK(w.diff == Approx(-1.5));
  CHECK(w.se == Approx(se));
  CHECK(w.t == Approx(-1.5 / se));  // -1.133893
  const double df = (va + vb) * (va + vb) / (va * va / 3 + vb * vb / 2);
  CHECK(w.df == Approx(df));
  CHECK(w.df == Approx(3.234719).epsilon(1e-6));

  // Student-t: closed forms for df = 1 (Cauchy) and df = 2.
  CHECK(student_t_cdf(1.0, 1) == Approx(0.75));
  CHECK(student_t_cdf(-2.0, 1) == Approx(0.5 + std::atan(-2.0) / M_PI));
  const double t2 = 1.3;
  CHECK(student_t_cdf(t2, 2) == Approx(0.5 + t2 / (2 * std::sqrt(2 + t2 * t2))));
  CHECK(student_t_cdf(0.0, 7.5) == Approx(0.5));
  // Table values: t_{0.975}(df = 10) = 2.228139, (df = 3) = 3.182446; I_x(a, b) symmetry.
  CHECK(student_t_quantile(0.975, 10) == Approx(2.228139).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 3) == Approx(3.182446).epsilon(1e-6));
  CHECK(incomplete_beta(2, 3, 0.4) == Approx(1 - incomplete_beta(3, 2, 0.6)));
  CHECK(incomplete_beta(1, 1, 0.3) == Approx(0.3));   // uniform
  CHECK(incomplete_beta(2, 1, 0.5) == Approx(0.25));  // x^a for b = 1

  // p and CI use the same t distribution.
  CHECK(w.p == Approx(2 * (1 - student_t_cdf(std::fabs(w.t), w.df))));
  CHECK(w.p == Approx(0.333824).margin(1e-5));  // by numerical integration of the t density
  const double q = student_t_quantile(0.975, w.df);
  CHECK(w.ci_low == Approx(-1.5 - q * se));
  CHECK(w.ci_high == Approx(-1.5 + q * se));
  CHECK(w.ci_low < 0);
  CHECK(w.ci_high > 0);  // consistent with p > 0.05

  // Zero spread: the interval is the point.
  const WelchResult z = welch_test({1, 1}, {2, 2});
  CHECK(z.p == 0);
  CHECK(z.ci_low == Approx(-1));
  CHECK_FALSE(welch_test({1}, {2, 3}).valid);
}

TEST_CASE("an end-to-end sweep survives a diverging variant and keeps its runs as results", "[sweep]") {
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  REQUIRE(fs::exists(exe));  // build the `unroll` target before the tests
  TempDir t;
  write(t.file("base.yaml"), kBase);
  write(t.file("sweep.yaml"),
        "extends: base.yaml\nseeds: 2\n"
        "variants:\n  diverges: {optimizer.lr: 1e30, loss: {kind: squared_error}}\n"
        "metric: {name: test_accuracy, higher_is_better: true}\nmetrics: [test_loss]\n");
  SweepSpec spec = load_sweep(t.file("sweep.yaml"), {}, unroll::testing::host());
  REQUIRE(spec.variants.size() == 2);
  SweepOptions o;
  o.out_dir = t.file("out");
  o.unroll_binary = exe;
  o.jobs = 2;
  o.progress = false;
  SweepResult r = run_sweep(spec, o);
  CHECK(r.total == 4);
  CHECK(r.completed == 2);
  CHECK(r.diverged == 2);
  CHECK(r.failed == 0);
  CHECK(r.threads_per_run >= 1);
  CHECK(fs::exists(t.file("out/runs/base/seed1/summary.json")));
  CHECK(fs::exists(t.file("out/runs/base/seed2/metrics.csv")));
  CHECK(fs::exists(t.file("out/variants/diverges.yaml")));
  CHECK(read_file(t.file("out/runs/diverges/seed1/sweep_run.json")).find("\"diverged\"") != std::string::npos);

  ReportOptions ro;  // no plots: fast and independent of matplotlib
  const std::string md = write_report(o.out_dir, ro);
  CHECK(fs::exists(t.file("out/report.md")));
  const std::string csv = read_file(t.file("out/report.csv"));
  CHECK(csv.find("base,test_accuracy") != std::string::npos);
  CHECK(csv.find("diverges,test_accuracy") != std::string::npos);
  CHECK(md.find("Failed or missing runs (2)") != std::string::npos);
  CHECK(md.find("diverge") != std::string::npos);
  CHECK(md.find("2/2") != std::string::npos);  // the base's n

  // Again: completed runs are skipped, and so are diverged ones: the same config and seed would
  // diverge again.
  const auto stamp = fs::last_write_time(t.file("out/runs/base/seed1/summary.json"));
  const auto diverged_stamp = fs::last_write_time(t.file("out/runs/diverges/seed1/summary.json"));
  SweepResult again = run_sweep(spec, o);
  CHECK(again.skipped == 4);
  CHECK(again.completed == 2);
  CHECK(again.diverged == 2);
  CHECK(again.failed == 0);
  CHECK(fs::last_write_time(t.file("out/runs/base/seed1/summary.json")) == stamp);
  CHECK(fs::last_write_time(t.file("out/runs/diverges/seed1/summary.json")) == diverged_stamp);
  CHECK(run_folder_state(t.file("out/runs/diverges/seed1")) == "diverged");

  // --status names them, and a Slurm submission leaves them out (a dry run needs no cluster:
  // nothing of this folder was ever submitted) unless --retry-diverged.
  const ShellResult status = shell(shell_quote(exe) + " sweep " + shell_quote(o.out_dir) + " --status");
  INFO(status.out);
  CHECK(status.code == 0);
  CHECK(status.out.find("4 runs: 2 done, 0 running, 0 pending, 0 failed, 2 diverged") != std::string::npos);
  const std::string submit = shell_quote(exe) + " sweep " + shell_quote(t.file("sweep.yaml")) + " --out " +
                             shell_quote(o.out_dir) + " --slurm --dry-run";
  const ShellResult kept = shell(submit);
  INFO(kept.out);
  CHECK(kept.code == 0);
  CHECK(kept.out.find("2 diverged run(s) kept as results, not submitted") != std::string::npos);
  CHECK(kept.out.find("nothing to submit") != std::string::npos);
  const ShellResult retry = shell(submit + " --retry-diverged");
  INFO(retry.out);
  CHECK(retry.code == 0);
  CHECK(retry.out.find("2 to submit") != std::string::npos);
  const std::string script = read_file(t.file("out/slurm/array.sbatch"));
  CHECK(script.find("'diverges/seed1'") != std::string::npos);
  CHECK(script.find("'diverges/seed2'") != std::string::npos);
  CHECK(script.find("'base/seed1'") == std::string::npos);

  // Asked to, it runs them again (a second attempt, which diverges the same way).
  o.retry_diverged = true;
  SweepResult retried = run_sweep(spec, o);
  CHECK(retried.skipped == 2);
  CHECK(retried.diverged == 2);
  const std::string rec = read_file(t.file("out/runs/diverges/seed1/sweep_run.json"));
  CHECK(rec.find("\"attempt\": 2") != std::string::npos);
  CHECK(rec.find("\"diverged\"") != std::string::npos);
}
