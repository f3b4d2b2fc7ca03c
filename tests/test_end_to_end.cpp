// End to end: an experiment trains on a synthetic dataset, writes every output file, and the
// same seed and thread count give the same numbers.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/experiment_schema.hpp"
#include "unroll/files.hpp"
#include "unroll/host/trainer.hpp"

using namespace unroll;
using Catch::Matchers::Contains;

namespace {

const char* kBlobs = R"(name: e2e
seed: 7
data: {kind: blobs, classes: 4, features: 5, samples: 60, test_samples: 20, validation: 40}
model:
  - {kind: dense, units: 16}
  - {kind: relu}
  - {kind: dense, units: 16}
  - {kind: tanh}
  - {kind: dense, units: 4}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
train: {epochs: 6, batch: 16}
)";

}  // namespace

TEST_CASE("a run trains, writes every output file, and the files parse", "[e2e]") {
  testing::TempDir dir;
  const RunResult r = testing::run_text(dir, kBlobs, "run");
  const std::string d = dir.file("run");
  for (const char* f : {"config.yaml", "metrics.csv", "summary.json", "log.txt", "checkpoint/manifest.json"})
    CHECK(std::filesystem::exists(d + "/" + f));

  // config.yaml is the resolved config: it parses and validates again, defaults included.
  const Node cfg = parse_yaml(read_file(d + "/config.yaml"), "config.yaml");
  CHECK(cfg.at("optimizer").at("nesterov").text() == "false");
  CHECK_NOTHROW(resolve_experiment(cfg, testing::host(), d));

  const auto rows = testing::read_csv(d + "/metrics.csv");
  REQUIRE(rows.size() == 7);  // header + 6 epochs
  const std::vector<std::string> header{"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                        "lr",    "grad_norm",  "clip_rate",      "seconds"};
  CHECK(rows[0] == header);
  const double first = std::stod(rows[1][1]), last = std::stod(rows[6][1]);
  INFO("train loss " << first << " -> " << last);
  CHECK(last < 0.5 * first);

  const auto summary = nlohmann::json::parse(read_file(d + "/summary.json"));
  CHECK(summary["status"] == "completed");
  CHECK(summary["stop_reason"] == "epochs");
  CHECK(summary["epochs"] == 6);
  CHECK(summary["final"].contains("test_loss"));
  CHECK(summary["final"]["test_accuracy"].get<double>() > 0.7);
  CHECK(summary["seconds_per_epoch"].get<double>() > 0);
  CHECK(r.final_metrics.at("test_accuracy") == summary["final"]["test_accuracy"].get<double>());
  CHECK_THAT(read_file(d + "/log.txt"), Contains("epoch 6/6"));
}

TEST_CASE("same config, seed and threads give identical metrics, another seed differs", "[e2e]") {
  testing::TempDir dir;
  testing::run_text(dir, kBlobs, "a");
  testing::run_text(dir, kBlobs, "b");
  testing::run_text(dir, kBlobs, "c", {"seed=8"});
  const std::string a = testing::metrics_without_seconds(dir.file("a/metrics.csv"));
  CHECK(a == testing::metrics_without_seconds(dir.file("b/metrics.csv")));
  CHECK(a != testing::metrics_without_seconds(dir.file("c/metrics.csv")));
}

TEST_CASE("the textbook rule: train until the total error falls below a threshold", "[e2e]") {
  testing::TempDir dir;
  const std::string xor_exp = read_file(std::string(UNROLL_SOURCE_DIR) + "/experiments/textbook_xor.yaml");
  const RunResult r = testing::run_text(dir, xor_exp, "xor");
  CHECK(r.stop_reason == "train_loss_below");
  CHECK(r.epochs < 20000);
  CHECK(r.final_metrics.at("train_loss") < 0.005);
  const auto summary = nlohmann::json::parse(read_file(dir.file("xor/summary.json")));
  CHECK(summary["stop_reason"] == "train_loss_below");
}

TEST_CASE("a model whose output does not fit the dataset is refused before training", "[e2e]") {
  testing::TempDir dir;
  CHECK_THROWS_WITH(testing::run_text(dir, kBlobs, "bad", {"model[4].units=3"}),
                    Contains("outputs 3 features") && Contains("4 classes"));
}

TEST_CASE("the CLI exits non-zero with the message on bad input", "[e2e][cli]") {
  testing::TempDir dir;
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  std::ofstream(dir.file("bad.yaml")) << "data: {kind: blobs}\nmodel: [{kind: dense, unit: 3}]\n";
  const std::string cmd = exe + " run " + dir.file("bad.yaml") + " --out " + dir.file("out") + " > " +
                          dir.file("stdout") + " 2> " + dir.file("stderr");
  const int status = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(read_file(dir.file("stderr")), Contains("bad.yaml:2:23") && Contains("did you mean 'units'?"));
  CHECK(WEXITSTATUS(std::system((exe + " run > /dev/null 2>&1").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system((exe + " frobnicate > /dev/null 2>&1").c_str())) == 2);
}

TEST_CASE("grad_norm is the same number whether taken before the step or while zeroing after it", "[e2e]") {
  // Without clipping the host takes the norm in the pass that zeroes the gradients; a clip norm
  // that never triggers makes it take the norm before the step instead.
  testing::TempDir dir;
  testing::run_text(dir, kBlobs, "after");
  testing::run_text(dir, kBlobs, "before", {"train.clip.norm=1e9"});
  CHECK(testing::metrics_without_seconds(dir.file("after/metrics.csv")) ==
        testing::metrics_without_seconds(dir.file("before/metrics.csv")));
  const auto m = testing::read_csv(dir.file("after/metrics.csv"));
  const auto col = std::find(m[0].begin(), m[0].end(), "grad_norm") - m[0].begin();
  for (size_t row = 1; row < m.size(); ++row) CHECK(std::stod(m[row][static_cast<size_t>(col)]) > 0);
}

TEST_CASE("two threads give the same numbers run after run (MLP)", "[e2e][parallel]") {
  // A 256x256 weight: its optimizer update is split over the threads. (The recurrent twin of
  // this test is in test_bptt.cpp.)
  testing::TempDir dir;
  const std::vector<std::string> wide{
      "model=[{kind: dense, units: 256}, {kind: relu}, {kind: dense, units: 256}, "
      "{kind: relu}, {kind: dense, units: 4}]",
      "train.epochs=3"};
  for (const char* run : {"a", "b"}) testing::run_text(dir, kBlobs, run, wide, 2);
  REQUIRE(testing::read_csv(dir.file("a/metrics.csv")).size() == 4);
  CHECK(testing::metrics_without_seconds(dir.file("a/metrics.csv")) ==
        testing::metrics_without_seconds(dir.file("b/metrics.csv")));
}

TEST_CASE("UNROLL_GEMM_PROFILE writes every product shape of a run with its calls", "[e2e][cli]") {
  testing::TempDir dir;
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  std::ofstream(dir.file("run.yaml")) << kBlobs;
  const std::string cmd = "UNROLL_GEMM_PROFILE=" + dir.file("gemm.jsonl") + " " + exe + " run " + dir.file("run.yaml") +
                          " --out " + dir.file("out") + " --threads 1 --quiet > /dev/null 2>&1";
  REQUIRE(WEXITSTATUS(std::system(cmd.c_str())) == 0);
  // The first layer's forward product, W (16 x 5) times a batch of 16, runs once per full
  // training batch: every update but the last, short batch of each epoch (200 samples / 16).
  const auto summary = nlohmann::json::parse(read_file(dir.file("out/summary.json")));
  const long full_batches = summary["steps"].get<long>() - summary["epochs"].get<long>();
  REQUIRE(full_batches == 6 * 12);
  std::istringstream lines(read_file(dir.file("gemm.jsonl")));
  long first_layer_calls = -1;
  int shapes = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j["seconds"].get<double>() >= 0);
    if (!j.contains("m")) continue;  // a per-layer line (layer, seconds), not a product shape
    ++shapes;
    if (j["m"] == 16 && j["k"] == 5 && j["n"] == 16 && j["ta"] == 0 && j["tb"] == 0) first_layer_calls = j["calls"];
  }
  CHECK(shapes > 5);
  CHECK(first_layer_calls == full_batches);
}

TEST_CASE("unroll plugins --describe experiment prints every section, its default and the host options", "[e2e][cli]") {
  testing::TempDir dir;
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  const int status = std::system((exe + " plugins --describe experiment > " + dir.file("out") + " 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 0);
  const std::string out = read_file(dir.file("out"));
  for (const auto& sec : experiment_sections()) {
    INFO(sec.key);
    CHECK_THAT(out, Contains("  " + sec.key + " ") && Contains(sec.takes));
  }
  CHECK_THAT(out, Contains("{kind: cross_entropy}") && Contains("{kind: sgd}") && Contains("{kind: constant}"));
  CHECK_THAT(out, Contains("validation") && Contains("instance name"));  // the data and layer host options
  // An unknown key names the same list of sections.
  std::ofstream(dir.file("typo.yaml")) << "data: {kind: blobs}\nmodel: [{kind: dense, units: 3}]\nsed: 3\n";
  PluginHost& host = testing::host();
  std::string valid;
  for (const auto& sec : experiment_sections()) valid += (valid.empty() ? "" : ", ") + sec.key;
  CHECK_THROWS_WITH(load_experiment(dir.file("typo.yaml"), {}, host),
                    Contains("typo.yaml:3:1") && Contains("did you mean 'seed'?") && Contains(valid));
}
