// Config errors: every class of mistake names where it was made and what would be valid.
#include <catch2/catch.hpp>
#include <fstream>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/error.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"

using namespace unroll;
using Catch::Matchers::Contains;

namespace {

const char* kGood = R"(name: cfg
seed: 2
data: {kind: blobs, classes: 3, samples: 20}
model:
  - {kind: dense, units: 8}
  - {kind: tanh}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, batch: 16}
)";

std::string write(const testing::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("exp.yaml");
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  return testing::load_error(text, sets);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a valid experiment resolves with every default filled in", "[config]") {
  REQUIRE(error_of(kGood).empty());
  testing::TempDir dir;
  const Experiment e = load_experiment(write(dir, kGood), {}, testing::host());
  CHECK(e.config.at("optimizer").at("nesterov").text() == "false");                         // plugin default
  CHECK(e.config.at("train").at("eval_batch").text() == "1000");                            // host default
  CHECK(e.config.at("model").items()[0].at("init").at("kind").text() == "xavier_uniform");  // nested default
  CHECK(e.config.at("schedule").at("kind").text() == "constant");
}

TEST_CASE("unknown key: file, line, column and the nearest valid key", "[config]") {
  const std::string msg = error_of(replace(kGood, "lr: 0.1", "lrr: 0.1"));
  CHECK_THAT(msg, Contains("exp.yaml:9:24") && Contains("unknown key 'lrr'") && Contains("did you mean 'lr'?"));
  CHECK_THAT(error_of(replace(kGood, "momentum: 0.9", "momentun: 0.9")), Contains("did you mean 'momentum'?"));
  CHECK_THAT(error_of(replace(kGood, "epochs: 2", "epoch: 2")),
             Contains("exp.yaml:10:9") && Contains("did you mean 'epochs'?"));
  CHECK_THAT(error_of(replace(kGood, "seed: 2", "sede: 2")),
             Contains("exp.yaml:2:1") && Contains("did you mean 'seed'?"));
}

TEST_CASE("wrong type and out-of-range values name the key, the expectation and the place", "[config]") {
  CHECK_THAT(error_of(replace(kGood, "lr: 0.1", "lr: fast")),
             Contains("exp.yaml:9:28") && Contains("'lr'") && Contains("expects a number") && Contains("'fast'"));
  CHECK_THAT(error_of(replace(kGood, "units: 8", "units: 8.5")), Contains("'units'") && Contains("expects an integer"));
  CHECK_THAT(error_of(replace(kGood, "momentum: 0.9", "momentum: 1.5")),
             Contains("exp.yaml:9:43") && Contains("'momentum'") && Contains("[0, 1)") && Contains("1.5"));
  CHECK_THAT(error_of(replace(kGood, "units: 8", "units: 0")), Contains("'units'") && Contains("got 0"));
  CHECK_THAT(error_of(replace(kGood, "batch: 16", "batch: [16]")), Contains("'batch'") && Contains("got a list"));
  CHECK_THAT(error_of(replace(kGood, "train: {epochs: 2", "train: {loss_at: both, epochs: 2")),
             Contains("one of: auto, last, every"));
}

TEST_CASE("an unknown component kind lists the kinds that exist", "[config]") {
  const std::string msg = error_of(replace(kGood, "kind: tanh", "kind: tahn"));
  CHECK_THAT(msg, Contains("exp.yaml:6:12") && Contains("unknown layer kind 'tahn'") &&
                      Contains("did you mean 'tanh'?") && Contains("known layers:") && Contains("dense") &&
                      Contains("relu"));
  CHECK_THAT(error_of(replace(kGood, "kind: sgd", "kind: lbfgs")), Contains("known optimizers:") && Contains("adam"));
  CHECK_THAT(error_of(replace(kGood, "kind: cross_entropy", "kind: hinge")), Contains("known losses:"));
}

TEST_CASE("an unknown component kind says which plugin folders were searched and how to add one", "[config]") {
  // The user wrote a cell from their own plugin and forgot `plugins:`.
  const std::string msg = error_of(replace(kGood, "kind: tanh", "kind: my_mgu"));
  INFO(msg);
  CHECK_THAT(msg, Contains("exp.yaml:6:12") && Contains("unknown layer kind 'my_mgu'") && Contains("known layers:"));
  CHECK_THAT(msg, Contains("plugin folders searched: " + unroll::PluginHost::builtin_dir().string()));
  CHECK_THAT(msg, Contains("UNROLL_PLUGIN_PATH"));
  CHECK_THAT(msg, Contains("plugins: [build/libmy_plugin.so]") && Contains("relative to the experiment file") &&
                      Contains("--plugin-dir DIR"));
  // A library loaded by path is listed too: it was looked in, and the component is not there.
  testing::TempDir dir;
  const std::string fixture = std::string(UNROLL_BINARY_DIR) + "/test_plugins/libunroll_fixture_good_plugin.so";
  const std::string text = "plugins: [" + fixture + "]\n" + replace(kGood, "kind: tanh", "kind: my_mgu");
  unroll::PluginHost host;
  host.load_default();
  try {
    load_experiment(write(dir, text), {}, host);
    FAIL("the unknown kind was accepted");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Contains("libraries loaded by path: " + fixture));
  }
}

TEST_CASE("every validation error of a file is reported at once, each with its location", "[config]") {
  // Three independent mistakes in three sections: a typo'd key, a value out of range, an unknown kind.
  std::string text = replace(kGood, "lr: 0.1", "lrr: 0.1");
  text = replace(text, "epochs: 2", "epochs: -2");
  text = replace(text, "kind: tanh", "kind: tahn");
  const std::string msg = error_of(text);
  INFO(msg);
  CHECK_THAT(msg, Contains("exp.yaml:9:24: unknown key 'lrr'") && Contains("did you mean 'lr'?"));
  CHECK_THAT(msg, Contains("exp.yaml:10:17: 'epochs' of 'train' must be in [1, inf), got -2"));
  CHECK_THAT(msg, Contains("exp.yaml:6:12: unknown layer kind 'tahn'"));
  // In the order of the file's sections: model before optimizer before train.
  CHECK(msg.find("tahn") < msg.find("lrr"));
  CHECK(msg.find("lrr") < msg.find("epochs"));
  // Two errors in one block are both reported too, and an error inside a nested block.
  const std::string two = error_of(
      replace(kGood, "{kind: sgd, lr: 0.1, momentum: 0.9}", "{kind: sgd, lr: -1, momentum: 2, nesterv: true}"));
  CHECK_THAT(two, Contains("'lr' of optimizer 'sgd'") && Contains("'momentum' of optimizer 'sgd'") &&
                      Contains("unknown key 'nesterv'"));
  const std::string nested =
      error_of(replace(kGood, "{kind: dense, units: 8}", "{kind: dense, units: 0, init: {kind: gaussian, std: -1}}"));
  CHECK_THAT(nested, Contains("'units' of layer 'dense'") && Contains("'std' of initializer 'gaussian'"));

  // Past the limit the rest are counted, not listed.
  std::string many = kGood;
  for (int i = 0; i < 25; ++i) many += "typo" + std::to_string(i) + ": 1\n";
  try {
    testing::TempDir dir;
    load_experiment(write(dir, many), {}, testing::host());
    FAIL("25 unknown sections were accepted");
  } catch (const ConfigErrors& e) {
    CHECK(e.messages().size() == Diagnostics::kLimit);
    CHECK(e.more() == 25 - Diagnostics::kLimit);
    CHECK_THAT(e.what(), Contains("(5 more errors not shown)"));
  }
}

TEST_CASE("the CLI prints each validation error on its own line and exits with 1", "[config][cli]") {
  testing::TempDir dir;
  std::string text = replace(kGood, "lr: 0.1", "lrr: 0.1");
  text = replace(text, "epochs: 2", "epochs: -2");
  text = replace(text, "kind: tanh", "kind: tahn");
  const std::string path = write(dir, text);
  const int code = testing::run_unroll({"run", path, "--check"}, dir.file("log"));
  CHECK(code == 1);
  const std::string log = read_file(dir.file("log"));
  INFO(log);
  CHECK_THAT(log, Contains("error: " + path + ":6:12: unknown layer kind 'tahn'"));
  CHECK_THAT(log, Contains("error: " + path + ":9:24: unknown key 'lrr'"));
  CHECK_THAT(log, Contains("error: " + path + ":10:17: 'epochs' of 'train'"));
}

TEST_CASE("structural mistakes are named", "[config]") {
  CHECK_THAT(error_of(replace(kGood, "data: {kind: blobs, classes: 3, samples: 20}\n", "")),
             Contains("no 'data' block"));
  CHECK_THAT(error_of(replace(kGood, "train:", "trian:")),
             Contains("unknown key 'trian'") && Contains("did you mean 'train'?"));
  CHECK_THAT(error_of(replace(kGood, "{kind: dense, units: 8}", "{units: 8}")), Contains("has no 'kind'"));
  CHECK_THAT(error_of(replace(kGood, "{kind: dense, units: 8}", "{kind: dense}")), Contains("requires option 'units'"));
  CHECK_THAT(error_of("seed: [1\n"), Contains("exp.yaml:") && Contains("YAML syntax error"));
  CHECK_THAT(error_of(replace(kGood, "seed: 2", "seed: 2\nseed: 3")), Contains("appears twice"));
}

TEST_CASE("command-line --set overrides any value and is validated the same way", "[config]") {
  testing::TempDir dir;
  const std::string path = write(dir, kGood);
  const Experiment e = load_experiment(
      path, {"optimizer.lr=0.05", "model[0].units=16", "train.stop.train_loss_below=0.1"}, testing::host());
  CHECK(e.config.at("optimizer").at("lr").text() == "0.05");
  CHECK(e.config.at("model").items()[0].at("units").text() == "16");
  CHECK(e.config.at("train").at("stop").at("train_loss_below").text() == "0.1");
  // null removes a list element: the tanh layer goes.
  const Experiment removed = load_experiment(path, {"model[1]=null"}, testing::host());
  CHECK(removed.config.at("model").items().size() == 2);
  // Appending at index == size adds a layer.
  const Experiment added = load_experiment(path, {"model[3]={kind: identity}"}, testing::host());
  CHECK(added.config.at("model").items().size() == 4);

  CHECK_THAT(error_of(kGood, {"optimizer.lr=fast"}),
             Contains("--set optimizer.lr=fast") && Contains("expects a number"));
  CHECK_THAT(error_of(kGood, {"optimizer.lrr=0.1"}),
             Contains("--set optimizer.lrr=0.1") && Contains("did you mean 'lr'?"));
  CHECK_THAT(error_of(kGood, {"model[7].units=3"}), Contains("out of range") && Contains("3 elements"));
  CHECK_THAT(error_of(kGood, {"seed"}), Contains("expected PATH=VALUE"));
}

TEST_CASE("a component reading an option its schema does not declare is told the nearest declared name", "[config]") {
  const Schema& dense = testing::host().entry(Kind::Layer, "dense").schema;
  const Options o(validate_component(parse_yaml("{kind: dense, units: 4}", "t"), Kind::Layer, testing::host()), &dense);
  CHECK(o.i("units") == 4);
  CHECK_THROWS_WITH(o.i("unitz"), Contains("read option 'unitz', which its schema does not declare") &&
                                      Contains("did you mean 'units'?"));
}
