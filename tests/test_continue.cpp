// `unroll run --resume RUN_DIR --set ...` continues a run — completed, diverged — with some of
// its settings changed (continuation.hpp), and every run is checked (validation, data, memory
// estimate) before its folder is made or touched. Each test starts the real `unroll`
// executable; every run is a few epochs on blobs.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/continuation.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_failure.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using Catch::Contains;
using unroll::testing::run_unroll;
using unroll::testing::TempDir;

namespace {

// Adam, dropout and weight noise: state and random streams a continuation must carry on
// exactly. The schedule is constant, so 3 epochs + 3 more is mathematically 6 epochs.
const char* kBlobs = R"(name: cont
seed: 5
data: {kind: blobs, classes: 3, features: 2, samples: 40, test_samples: 10, validation: 30}
model:
  - {kind: dense, units: 8}
  - {kind: relu}
  - {kind: dropout, rate: 0.2}
  - {kind: dense, units: 3}
loss: cross_entropy
optimizer: {kind: adam, lr: 0.01}
regularizers: [{kind: weight_noise, std: 0.01}]
train: {epochs: 6, batch: 16, threads: 1}
)";

nlohmann::json json_file(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

/// Every file of a folder (recursively) with its contents, to show a refused command touched nothing.
std::map<std::string, std::string> snapshot_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != ".lock") files[e.path().string()] = read_file(e.path().string());
  return files;
}

int unroll_run(const TempDir& t, std::vector<std::string> args, const std::string& log = "out.log") {
  args.insert(args.begin(), "run");
  args.push_back("--quiet");
  return run_unroll(args, t.file(log));
}

}  // namespace

TEST_CASE("continue a completed run: 3 epochs, then --set train.epochs=6, equals 6 epochs bit for bit", "[continue]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", t.file("full")}) == 0);
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", t.file("part"), "--set", "train.epochs=3"}) == 0);
  const std::string part = t.file("part");
  const std::string first_rows = testing::metrics_without_seconds(part + "/metrics.csv");
  REQUIRE(json_file(part + "/summary.json")["status"] == "completed");

  REQUIRE(unroll_run(t, {"--resume", part, "--set", "train.epochs=6"}, "continue.log") == 0);
  INFO(read_file(t.file("continue.log")));
  // The numbers of the run trained 6 epochs directly: every metric, the test metrics, the
  // parameters and the optimizer state, bit for bit.
  const std::string full_metrics = testing::metrics_without_seconds(t.file("full/metrics.csv"));
  CHECK(testing::metrics_without_seconds(part + "/metrics.csv") == full_metrics);
  CHECK(full_metrics.rfind(first_rows, 0) == 0);  // metrics.csv appended to the first 3 rows
  const auto s = json_file(part + "/summary.json"), f = json_file(t.file("full/summary.json"));
  CHECK(s["status"] == "completed");
  CHECK(s["epochs"] == 6);
  auto final_metrics = [](nlohmann::json j) {
    j["final"].erase("seconds");  // the one value allowed to differ
    return j["final"];
  };
  CHECK(final_metrics(s) == final_metrics(f));
  CHECK(s["final"].contains("test_accuracy"));
  const Snapshot a = read_checkpoint(part + "/checkpoint"), b = read_checkpoint(t.file("full/checkpoint"));
  REQUIRE(a.params.size() == b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    const Matrix &x = a.params[i].second, &y = b.params[i].second;
    REQUIRE(x.size() == y.size());
    CHECK(std::memcmp(x.data(), y.data(), sizeof(Scalar) * static_cast<size_t>(x.size())) == 0);
  }
  for (size_t i = 0; i < a.optimizer.size(); ++i) CHECK(a.optimizer[i].second == b.optimizer[i].second);

  // Recorded: config.yaml holds the new value and a comment, summary.json and provenance.json the
  // change, log.txt a line.
  const std::string cfg = read_file(part + "/config.yaml");
  CHECK_THAT(cfg, Contains("# continued at epoch 3 (completed): train.epochs 3 -> 6") && Contains("epochs: 6"));
  REQUIRE(s["continued"].size() == 1);
  CHECK(s["continued"][0]["at_epoch"] == 3);
  CHECK(s["continued"][0]["status"] == "completed");
  CHECK(s["continued"][0]["changes"][0] == nlohmann::json({{"key", "train.epochs"}, {"from", "3"}, {"to", "6"}}));
  const auto prov = json_file(part + "/provenance.json");
  CHECK(prov["continued"] == s["continued"][0]);
  CHECK_THAT(prov["command"].get<std::string>(), Contains("--set train.epochs=6"));
  CHECK(prov["previous"].size() == 1);  // the first 3 epochs' record
  CHECK_THAT(read_file(part + "/log.txt"), Contains("continued at epoch 3 (completed): train.epochs 3 -> 6"));

  // A second continuation, with an lr change (allowed, recorded), adds to the history.
  REQUIRE(unroll_run(t, {"--resume", part, "--set", "train.epochs=8", "--set", "optimizer.lr=0.005"}) == 0);
  const auto s2 = json_file(part + "/summary.json");
  CHECK(s2["epochs"] == 8);
  REQUIRE(s2["continued"].size() == 2);
  CHECK(s2["continued"][1]["changes"].size() == 2);
  CHECK_THAT(read_file(part + "/config.yaml"),
             Contains("# continued at epoch 3") &&
                 Contains("# continued at epoch 6 (completed): optimizer.lr 0.01 -> 0.005, "
                          "train.epochs 6 -> 8") &&
                 Contains("lr: 0.005"));
  CHECK(testing::read_csv(part + "/metrics.csv").size() == 9);
}

TEST_CASE("a continuation refuses, by name, every key that changes the model, the data or the objective",
          "[continue]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  const std::string run = t.file("run");
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--set", "train.epochs=2"}) == 0);
  const auto before = snapshot_of(run);

  CHECK(unroll_run(t,
                   {"--resume", run, "--set", "train.epochs=4", "--set", "model[0].units=9", "--set", "data.samples=50",
                    "--set", "seed=6", "--set", "optimizer={kind: sgd, lr: 0.01}"},
                   "refused.log") == kExitFailed);
  const std::string said = read_file(t.file("refused.log"));
  CHECK_THAT(said, Contains("a continued run cannot change") && Contains("model[0].units (8 -> 9)") &&
                       Contains("data.samples (40 -> 50)") && Contains("seed (5 -> 6)") &&
                       Contains("optimizer.kind (adam -> sgd)") &&
                       Contains("A continuation may change only: "
                                "train.epochs"));
  CHECK_THAT(said, !Contains("train.epochs (2 -> 4)"));  // the allowed change is not among the refused
  for (const char* set :
       {"train.batch=8", "loss=squared_error", "regularizers=[]", "train.bptt.k1=1", "schedule={kind: cosine}"}) {
    INFO(set);
    CHECK(unroll_run(t, {"--resume", run, "--set", "train.epochs=4", "--set", set}, "one.log") == kExitFailed);
    CHECK_THAT(read_file(t.file("one.log")), Contains("a continued run cannot change"));
  }
  // A typo is the usual validation error, with the nearest key.
  CHECK(unroll_run(t, {"--resume", run, "--set", "train.epoch=4"}, "typo.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("typo.log")), Contains("epochs"));
  CHECK(snapshot_of(run) == before);  // nothing was touched
}

TEST_CASE("continuing with train.epochs not above the epochs done is an error, and without --set a no-op",
          "[continue]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  const std::string run = t.file("run");
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--set", "train.epochs=3"}) == 0);
  const auto before = snapshot_of(run);
  for (const char* epochs : {"train.epochs=3", "train.epochs=2"}) {
    CHECK(unroll_run(t, {"--resume", run, "--set", epochs}, "few.log") == kExitFailed);
    CHECK_THAT(read_file(t.file("few.log")),
               Contains("has trained 3 epochs already") && Contains("--set train.epochs=13"));
  }
  CHECK(unroll_run(t, {"--resume", run}, "plain.log") == kExitCompleted);
  CHECK_THAT(read_file(t.file("plain.log")), Contains("nothing to resume") && Contains("--set train.epochs="));
  CHECK(snapshot_of(run) == before);
}

TEST_CASE("a diverged run continues only with a change, from its last good checkpoint", "[continue]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  const std::string run = t.file("run");
  // From epoch 3 on the lr is multiplied by 1e30: epochs 1-2 are fine, epoch 3 diverges.
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--set", "schedule={kind: step, every: 2, gamma: 1e30}",
                         "--set", "optimizer={kind: sgd, lr: 0.1}", "--set", "train.epochs=4"}) == kExitDiverged);
  REQUIRE(json_file(run + "/summary.json")["status"] == "diverged");
  const auto before = snapshot_of(run);
  // Unchanged it would diverge again, bit for bit: refused, with what to change.
  CHECK(unroll_run(t, {"--resume", run}, "same.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("same.log")), Contains("would diverge again") && Contains("optimizer.lr"));
  CHECK(snapshot_of(run) == before);
  // With a tamer schedule it continues from epoch 2's checkpoint and completes.
  CHECK(unroll_run(t, {"--resume", run, "--set", "schedule.gamma=0.5"}, "tame.log") == 0);
  INFO(read_file(t.file("tame.log")));
  const auto s = json_file(run + "/summary.json");
  CHECK(s["status"] == "completed");
  CHECK(s["epochs"] == 4);
  CHECK(s["continued"][0]["status"] == "diverged");
  CHECK(s["continued"][0]["at_epoch"] == 2);
  CHECK_THAT(read_file(run + "/log.txt"), Contains("continued at epoch 2 (diverged): schedule.gamma 1e30 -> 0.5"));
}

TEST_CASE("a run completed by a stop rule continues only when the rule changes too", "[continue]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  const std::string run = t.file("run");
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--set", "train.stop.train_loss_below=50"}) == 0);
  REQUIRE(json_file(run + "/summary.json")["stop_reason"] == "train_loss_below");
  CHECK(unroll_run(t, {"--resume", run, "--set", "train.epochs=8"}, "rule.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("rule.log")), Contains("train.stop.train_loss_below"));
  CHECK(unroll_run(t, {"--resume", run, "--set", "train.epochs=3", "--set", "train.stop.train_loss_below=1e-9"},
                   "ok.log") == 0);
  CHECK(json_file(run + "/summary.json")["epochs"] == 3);
}

TEST_CASE("continuation rules: the allowed keys and the diff of two configs", "[continue]") {
  for (const char* ok : {"train.epochs", "train.stop.early.patience", "train.clip.norm", "optimizer.lr",
                         "schedule.gamma", "train.threads", "train.checkpoint.every", "description"})
    CHECK(continuation_allows(ok));
  std::string why;
  for (const char* no : {"model[0].units", "model", "data.path", "seed", "loss.kind", "regularizers[0].std",
                         "optimizer.kind", "schedule.kind", "train.batch", "train.bptt.k1", "name", "plugins"}) {
    INFO(no);
    CHECK_FALSE(continuation_allows(no, &why));
    CHECK_FALSE(why.empty());
  }
  const Node a = parse_yaml("{m: [{u: 1}, {u: 2}], t: {e: 3}}", "a"),
             b = parse_yaml("{m: [{u: 1}, {u: 5}], t: {e: 4}}", "b");
  const auto d = config_changes(a, b);
  REQUIRE(d.size() == 2);
  CHECK(d[0].path == "m[1].u");
  CHECK(d[1].path == "t.e");
  CHECK(config_changes(a, parse_yaml("{m: [{u: 1}], t: {e: 3}}", "c"))[0].after == "1 items");
}

TEST_CASE(
    "a run refused by validation, its data or the memory estimate leaves no run folder, and an existing one "
    "untouched",
    "[continue][memory]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kBlobs);
  // Refused by the memory estimate (2e9 units: ~tens of GB): no folder.
  CHECK(unroll_run(t, {t.file("exp.yaml"), "--out", t.file("huge"), "--set", "model[0].units=2000000000"},
                   "huge.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("huge.log")), Contains("layer dense0 (dense"));
  CHECK_FALSE(fs::exists(t.file("huge")));
  // Refused while loading the data: no folder.
  fs::create_directories(t.file("empty"));
  CHECK(unroll_run(t,
                   {t.file("exp.yaml"), "--out", t.file("nodata"), "--set",
                    "data={kind: fashion_mnist, dir: " + t.file("empty") + "}"},
                   "nodata.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("nodata.log")), Contains(t.file("empty")));
  CHECK_FALSE(fs::exists(t.file("nodata")));

  // An existing run stays as it was, even under --force ...
  const std::string run = t.file("run");
  REQUIRE(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--set", "train.epochs=2"}) == 0);
  const auto before = snapshot_of(run);
  CHECK(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--force", "--set", "model[0].units=2000000000"}) ==
        kExitFailed);
  CHECK(unroll_run(t, {t.file("exp.yaml"), "--out", run, "--force", "--set", "bogus=1"}) == kExitFailed);
  // ... and when a continuation is refused by the memory estimate (a test pass of 2e9 columns).
  CHECK(unroll_run(t, {"--resume", run, "--set", "train.epochs=4", "--set", "train.eval_batch=2000000000"},
                   "eval.log") == kExitFailed);
  CHECK_THAT(read_file(t.file("eval.log")), Contains("the model needs about"));
  CHECK(snapshot_of(run) == before);
}
