// Checkpoints, resume, interrupts, divergence, stopping rules and pretrained loading: the
// run-level guarantees of issue 4. Every run here is a few hundred updates on blobs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support.hpp"
#include "unroll/checkpoint_reader.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/npy.hpp"
#include "unroll/host/trainer.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using unroll::testing::host;
using unroll::testing::TempDir;

namespace {

// Every stateful part a resume must restore: Adam moments, a plateau schedule's counters,
// batch-norm running statistics, dropout masks, weight and gradient noise streams.
const char* kBlobs = R"(name: ckpt
seed: 7
data: {kind: blobs, classes: 3, features: 2, samples: 40, test_samples: 10, validation: 30}
model:
  - {kind: dense, units: 8, init: {kind: xavier_uniform}}
  - {kind: batch_norm}
  - {kind: relu}
  - {kind: dropout, rate: 0.2}
  - {kind: dense, units: 3, init: {kind: xavier_uniform}}
loss: cross_entropy
optimizer: {kind: adam, lr: 0.01}
schedule: {kind: plateau, metric: val_loss, patience: 0, factor: 0.5}
regularizers:
  - {kind: weight_noise, std: 0.01}
  - {kind: gradient_noise, eta: 0.01}
train: {epochs: 4, batch: 16, threads: 1}
)";

std::string write_experiment(const TempDir& t, const std::string& text, const std::string& name = "exp.yaml") {
  write_file_atomic(t.file(name), text);
  return t.file(name);
}

RunResult run(const std::string& file, const std::string& out, const std::vector<std::string>& sets = {},
              bool resume = false) {
  Experiment e = load_experiment(file, sets, host());
  RunOptions o;
  o.out_dir = out;
  o.quiet = true;
  o.threads = 1;
  o.resume = resume;
  return run_experiment(e, host(), o);
}

nlohmann::json json_file(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

bool same_bits(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<size_t>(a.size())) == 0;
}

}  // namespace

TEST_CASE("checkpoint round trip restores params, optimizer, schedule and batch-norm state bit for bit",
          "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  run(file, t.file("run"), {"train.epochs=2"});
  const Snapshot saved = read_checkpoint(t.file("run/checkpoint"));
  REQUIRE(saved.progress.epoch == 2);
  REQUIRE(saved.progress.rows.size() == 2);
  REQUIRE_FALSE(saved.buffers.empty());   // batch-norm running mean/var
  REQUIRE(saved.optimizer.size() > 2);    // adam m, v per parameter + step
  REQUIRE_FALSE(saved.schedule.empty());  // plateau counters
  const auto manifest = json_file(t.file("run/checkpoint/manifest.json"));
  CHECK(manifest["config_hash"] == config_hash(read_file(t.file("run/config.yaml"))));
  CHECK(manifest["config"] == read_file(t.file("run/config.yaml")));

  // A freshly built model differs from the checkpoint; after restore it is identical.
  Experiment e = load_experiment(file, {}, host());
  Model model(e.config.at("model"), 2, host(), 7, e.base_dir);
  model.initialize(host(), 7, e.base_dir);
  testing::TestContext octx("optimizer"), sctx("schedule");
  auto opt = host().build<Optimizer>(Kind::Optimizer, e.config.at("optimizer"), octx);
  auto sched = host().build<Schedule>(Kind::Schedule, e.config.at("schedule"), sctx);
  CHECK_FALSE(same_bits(model.params()[0]->value, saved.params[0].second));
  restore(saved, model, *opt, sched.get());
  Snapshot again = capture(model, *opt, sched.get(), saved.progress);
  auto all_same = [](const NamedTensors& a, const NamedTensors& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) return false;
    return true;
  };
  CHECK(all_same(again.params, saved.params));
  CHECK(all_same(again.buffers, saved.buffers));
  CHECK(all_same(again.optimizer, saved.optimizer));
  CHECK(all_same(again.schedule, saved.schedule));
  // Every .npy is readable on its own with the manifest's shape.
  for (const auto& p : manifest["params"]) {
    const Matrix m = load_npy(t.file("run/checkpoint/" + p["file"].get<std::string>()));
    CHECK(m.rows() == p["shape"][0].get<long>());
  }

  // A model of another shape is refused with both shapes named.
  Node other = e.config.at("model");
  Experiment wide = load_experiment(file, {"model[0].units=9"}, host());
  Model model2(wide.config.at("model"), 2, host(), 7, wide.base_dir);
  try {
    restore(saved, model2, *opt, sched.get());
    FAIL("restore into a different model must throw");
  } catch (const Error& err) {
    CHECK_THAT(err.what(), Catch::Contains("8x2") && Catch::Contains("9x2"));
  }
}

TEST_CASE("resume continues exactly: 2 epochs + resume to 4 equals 4 epochs", "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  run(file, t.file("full"));
  run(file, t.file("part"), {"train.epochs=2"});
  REQUIRE(json_file(t.file("part/checkpoint/manifest.json"))["epoch"] == 2);
  // Continue the 2-epoch run with the 4-epoch config (in-process: the Experiment is given).
  RunResult r = run(file, t.file("part"), {}, true);
  CHECK(r.epochs == 4);
  const std::string full = testing::metrics_without_seconds(t.file("full") + "/metrics.csv");
  CHECK(std::count(full.begin(), full.end(), '\n') == 5);
  CHECK(testing::metrics_without_seconds(t.file("part") + "/metrics.csv") == full);
  CHECK(json_file(t.file("part/summary.json"))["final"]["test_accuracy"] ==
        json_file(t.file("full/summary.json"))["final"]["test_accuracy"]);
  CHECK(json_file(t.file("part/summary.json"))["resumed_from_epoch"] == 2);
  // best/ is the epoch with the lowest val_loss, in both runs.
  CHECK(json_file(t.file("part/best/manifest.json"))["epoch"] == json_file(t.file("full/best/manifest.json"))["epoch"]);
  const auto rows = read_checkpoint(t.file("full/checkpoint")).progress.rows;
  size_t best = 0;
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[i][3] < rows[best][3]) best = i;  // columns: epoch, train_loss, train_accuracy, val_loss
  CHECK(json_file(t.file("full/best/manifest.json"))["epoch"] == static_cast<int>(best) + 1);
}

TEST_CASE("SIGINT saves a checkpoint, exits 130 with a resume hint, and --resume finishes the run", "[checkpoint]") {
  TempDir t;
  // Slow enough epochs (batch 1) that the signal lands mid-run.
  std::string text = kBlobs;
  text.replace(text.find("samples: 40"), 11, "samples: 400");
  text.replace(text.find("epochs: 4, batch: 16"), 20, "epochs: 12, batch: 2");
  const std::string file = write_experiment(t, text);
  const std::string bin = UNROLL_BINARY_DIR "/bin/unroll";
  REQUIRE(fs::exists(bin));
  const std::string out = t.file("run");
  auto spawn = [&](std::vector<std::string> args, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(bin.c_str()));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    return pid;
  };
  pid_t pid = spawn({"run", file, "--out", out, "--threads", "1", "--quiet"}, t.file("first.log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::exists(out + "/checkpoint/manifest.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(fs::exists(out + "/checkpoint/manifest.json"));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string log = read_file(t.file("first.log"));
  CHECK_THAT(log, Catch::Contains("unroll run --resume " + out));
  const auto summary = json_file(out + "/summary.json");
  CHECK(summary["status"] == "interrupted");
  const int saved = json_file(out + "/checkpoint/manifest.json")["epoch"];
  CHECK(saved < 12);
  CHECK(summary["epochs"] == saved);  // metrics.csv matches the checkpoint

  pid = spawn({"run", "--resume", out, "--threads", "1", "--quiet"}, t.file("second.log"));
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(json_file(out + "/summary.json")["status"] == "completed");
  CHECK(json_file(out + "/summary.json")["epochs"] == 12);
  // ... with the numbers of an uninterrupted run.
  run(file, t.file("straight"));
  CHECK(testing::metrics_without_seconds(out + "/metrics.csv") ==
        testing::metrics_without_seconds(t.file("straight") + "/metrics.csv"));
}

TEST_CASE("a diverging run stops naming epoch and batch and keeps the last good checkpoint", "[checkpoint]") {
  TempDir t;
  // The step schedule multiplies the lr by 1e30 from epoch 3 on: epochs 1-2 are fine. (Without
  // batch norm, which would keep the activations bounded.)
  const std::string file = write_experiment(t, kBlobs);
  try {
    run(file, t.file("run"),
        {"schedule={kind: step, every: 2, gamma: 1e30}", "optimizer={kind: sgd, lr: 0.1}", "regularizers=[]",
         "model[1]=null"});
    FAIL("the run must diverge");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("diverged") && Catch::Contains("at epoch 3, batch"));
  }
  const auto summary = json_file(t.file("run/summary.json"));
  CHECK(summary["status"] == "diverged");
  CHECK(summary["stop_reason"] == "diverged");
  const Snapshot s = read_checkpoint(t.file("run/checkpoint"));
  CHECK(s.progress.epoch == 2);
  for (const auto& [name, m] : s.params) CHECK(m.allFinite());
}

TEST_CASE("parameters that overflow in an epoch's last update are never checkpointed", "[checkpoint]") {
  TempDir t;
  // One batch per epoch (batch 90 = the training split: 3 x 40 samples, 30 for validation), so
  // every update is an epoch's last.
  // From epoch 3 on the lr is 0.1 * 1e300, infinite as a float: epoch 3's loss is still finite
  // (computed before the update), but its update makes the parameters non-finite.
  const std::string file = write_experiment(t, kBlobs);
  const std::vector<std::string> sets{"schedule={kind: step, every: 2, gamma: 1e300}", "optimizer={kind: sgd, lr: 0.1}",
                                      "regularizers=[]", "model[1]=null", "train.batch=90"};
  try {
    run(file, t.file("run"), sets);
    FAIL("the run must diverge");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("diverged") && Catch::Contains("not finite after the last update of epoch 3"));
  }
  const auto summary = json_file(t.file("run/summary.json"));
  CHECK(summary["status"] == "diverged");
  CHECK_THAT(summary["error"].get<std::string>(), Catch::Contains("epoch 3"));
  for (const char* which : {"checkpoint", "best"}) {
    const Snapshot s = read_checkpoint(t.file("run/") + which);
    CHECK(s.progress.epoch <= 2);
    for (const auto& [name, m] : s.params) CHECK(m.allFinite());
  }
  CHECK(read_checkpoint(t.file("run/checkpoint")).progress.epoch == 2);
  // --resume starts from that finite checkpoint (and, same numbers, diverges at the same place).
  try {
    run(file, t.file("run"), sets, true);
    FAIL("the resumed run must diverge the same way");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("not finite after the last update of epoch 3"));
  }
  CHECK_THAT(read_file(t.file("run/log.txt")), Catch::Contains("at the end of epoch 2"));
}

TEST_CASE("early stopping and the wall-clock budget fire and are reported", "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  // No improvement can beat min_delta 10: epoch 1 sets the best, epochs 2 and 3 are bad.
  RunResult r = run(file, t.file("early"),
                    {"train.epochs=10", "train.stop={early: {metric: val_loss, patience: 2, min_delta: 10}}"});
  CHECK(r.stop_reason == "early_stopping");
  CHECK(r.epochs == 3);
  CHECK(json_file(t.file("early/summary.json"))["stop_reason"] == "early_stopping");
  CHECK(json_file(t.file("early/checkpoint/manifest.json"))["epoch"] == 3);
  // Patience is counted in epochs without improvement: with a reachable delta it runs on.
  r = run(file, t.file("early2"), {"train.epochs=5", "train.stop={early: {patience: 3}}"});
  CHECK(r.stop_reason == "epochs");

  r = run(file, t.file("budget"), {"train.epochs=10", "train.stop={max_seconds: 1e-9}"});
  CHECK(r.stop_reason == "max_seconds");
  CHECK(r.epochs == 1);
  CHECK(json_file(t.file("budget/summary.json"))["stop_reason"] == "max_seconds");

  // A metric that is not a column is refused with the columns listed.
  CHECK_THROWS_WITH(run(file, t.file("bad"), {"train.checkpoint={monitor: val_acc}"}),
                    Catch::Contains("val_acc") && Catch::Contains("val_accuracy"));
}

TEST_CASE("checkpoint.test_on: best scores the test split with best/'s parameters", "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  // mode: max on val_loss makes best/ the worst epoch, which is not the last one here.
  const std::string best_on = "train.checkpoint={monitor: val_loss, mode: max, test_on: best}";
  run(file, t.file("best"), {best_on});
  const auto s = json_file(t.file("best/summary.json"));
  const int best_epoch = s["best"]["epoch"];
  REQUIRE(best_epoch < 4);
  CHECK(s["test_epoch"] == best_epoch);
  CHECK_THAT(read_file(t.file("best/log.txt")), Catch::Contains("test on best/: epoch " + std::to_string(best_epoch)));
  // The same run stopped at that epoch has the same parameters, so the same test numbers.
  run(file, t.file("short"), {"train.epochs=" + std::to_string(best_epoch)});
  const auto shorter = json_file(t.file("short/summary.json"));
  CHECK(shorter["test_epoch"] == best_epoch);
  CHECK(s["final"]["test_loss"] == shorter["final"]["test_loss"]);
  CHECK(s["final"]["test_accuracy"] == shorter["final"]["test_accuracy"]);
  // The default scores the last epoch, whose parameters differ.
  run(file, t.file("last"), {"train.checkpoint={monitor: val_loss, mode: max}"});
  const auto last = json_file(t.file("last/summary.json"));
  CHECK(last["test_epoch"] == 4);
  CHECK(last["final"]["test_loss"] != s["final"]["test_loss"]);
  // checkpoint/ still holds the end of the run, not best/.
  CHECK(json_file(t.file("best/checkpoint/manifest.json"))["epoch"] == 4);
  // A resumed process that finds no new best reads best/ from the folder: the same numbers.
  run(file, t.file("best"), {best_on}, true);
  CHECK(json_file(t.file("best/summary.json"))["final"]["test_loss"] == s["final"]["test_loss"]);
}

TEST_CASE("pretrained initializer loads by name, freezes, and explains mismatches", "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  run(file, t.file("first"), {"train.epochs=1"});
  const Snapshot first = read_checkpoint(t.file("first/checkpoint"));
  auto tensor = [&](const Snapshot& s, const std::string& n) {
    for (const auto& [name, m] : s.params)
      if (name == n) return m;
    FAIL("no " << n);
    return Matrix();
  };

  Rng rng(1);
  {
    auto init = testing::make_initializer("{kind: pretrained, run: " + t.file("first") + ", freeze: true}");
    Param p("dense0.W", 8, 2, 2, 8, Node());
    init->fill(p, rng);
    CHECK(same_bits(p.value, tensor(first, "dense0.W")));
    CHECK(p.frozen);
  }
  {  // another name through `param`, from the checkpoint folder itself
    auto init =
        testing::make_initializer("{kind: pretrained, run: " + t.file("first/checkpoint") + ", param: dense4.b}");
    Param p("mine.b", 3, 1, 8, 3, Node());
    init->fill(p, rng);
    CHECK(same_bits(p.value, tensor(first, "dense4.b")));
    CHECK_FALSE(p.frozen);
  }
  {
    auto init = testing::make_initializer("{kind: pretrained, run: " + t.file("first") + "}");
    Param wrong("dense0.W", 5, 2, 2, 5, Node());
    CHECK_THROWS_WITH(init->fill(wrong, rng), Catch::Contains("5x2") && Catch::Contains("8x2") &&
                                                  Catch::Contains("dense0.W") && Catch::Contains("shape mismatch"));
    Param missing("dense0.Wx", 8, 2, 2, 8, Node());
    CHECK_THROWS_WITH(init->fill(missing, rng),
                      Catch::Contains("no parameter 'dense0.Wx'") && Catch::Contains("closest names: dense0.W"));
  }
  CHECK_THROWS_WITH(testing::make_initializer("{kind: pretrained, run: " + t.file("nowhere") + "}")
                        ->fill(*std::make_unique<Param>("a", 1, 1, 1, 1, Node()), rng),
                    Catch::Contains("no manifest.json"));

  // End to end: a relative run path, the first layer loaded and frozen, the rest trained.
  std::string second = kBlobs;
  const std::string layer0 = "{kind: dense, units: 8, init: {kind: xavier_uniform}}";
  second.replace(second.find(layer0), layer0.size(),
                 "{kind: dense, units: 8, init: {kind: pretrained, run: first, freeze: true}, "
                 "bias_init: {kind: pretrained, run: first, freeze: true}}");
  const std::string file2 = write_experiment(t, second, "second.yaml");
  run(file2, t.file("second"), {"train.epochs=2"});
  const Snapshot after = read_checkpoint(t.file("second/checkpoint"));
  CHECK(same_bits(tensor(after, "dense0.W"), tensor(first, "dense0.W")));
  CHECK(same_bits(tensor(after, "dense0.b"), tensor(first, "dense0.b")));
  CHECK_FALSE(same_bits(tensor(after, "dense4.W"), tensor(first, "dense4.W")));
}

TEST_CASE("CheckpointReader: a plugin reads the parameters the host saved, bit for bit", "[checkpoint]") {
  TempDir t;
  const std::string file = write_experiment(t, kBlobs);
  run(file, t.file("first"), {"train.epochs=2"});
  for (const std::string which : {"checkpoint", "best"}) {
    const Snapshot host_view = read_checkpoint(t.file("first/" + which));
    const CheckpointReader ckpt(t.file("first"), which);  // a run folder: its `which` checkpoint
    CHECK(ckpt.dir() == t.file("first/" + which));
    REQUIRE(ckpt.params().size() == host_view.params.size());
    for (size_t i = 0; i < host_view.params.size(); ++i) {
      const auto& [name, value] = host_view.params[i];
      INFO(which << " " << name);
      CHECK(ckpt.params()[i].name == name);
      const TensorEntry* e = ckpt.find(name);
      REQUIRE(e != nullptr);
      CHECK(same_bits(ckpt.read(*e), value));
    }
    CHECK(ckpt.find("dense0.Wx") == nullptr);
  }
  // A checkpoint folder itself is read as it is.
  CHECK(CheckpointReader(t.file("first/checkpoint")).dir() == t.file("first/checkpoint"));
  // A .npy file that disagrees with the manifest is an error naming both shapes.
  const CheckpointReader ckpt(t.file("first/checkpoint"));
  const TensorEntry* w = ckpt.find("dense0.W");
  REQUIRE(w != nullptr);
  save_npy(ckpt.dir() + "/" + w->file, Matrix::Zero(3, 3));
  CHECK_THROWS_WITH(ckpt.read(*w), Catch::Contains("dense0.W is 3x3 in its .npy file but 8x2 in manifest.json"));
  // Not a checkpoint at all.
  CHECK_THROWS_WITH(CheckpointReader(t.file("nowhere")), Catch::Contains("no manifest.json"));
  // The tensor tables reject a file name that leaves the folder, like the host's manifest reader.
  CHECK_THROWS_WITH(
      parse_tensor_tables(R"({"params": [{"name": "a", "file": "../x.npy", "shape": [1, 1]}]})", "m.json"),
      Catch::Contains("m.json: tensor file '../x.npy' is not a plain file name"));
}
