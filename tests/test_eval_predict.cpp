// unroll eval and unroll predict on finished runs: the metrics of a checkpoint match what the
// trainer reported, predictions are probabilities whose arg-max scores like eval, CSV runs name
// their classes, and a checkpoint that does not fit the config is refused naming the tensor.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/npy_array.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

namespace {

const std::string& kExe = unroll::testing::unroll_exe();

/// Run the CLI; returns the exit code, stdout+stderr in `out`.
int cli(const TempDir& dir, const std::string& args, std::string& out) {
  const int status = std::system((kExe + " " + args + " > " + dir.file("cli.out") + " 2>&1").c_str());
  out = read_file(dir.file("cli.out"));
  return WEXITSTATUS(status);
}

void python(const TempDir& dir, const std::string& code) {
  std::ofstream(dir.file("make.py")) << "import numpy as np\n" << code;
  const std::string cmd = "cd " + dir.path + " && /usr/bin/python3 make.py 2> py.err";
  if (std::system(cmd.c_str()) != 0)
    FAIL("python3 with numpy is needed to write the fixtures (tools/setup installs python3-numpy): " +
         read_file(dir.file("py.err")));
}

}  // namespace

TEST_CASE("eval reproduces the run's test metrics, predict writes probabilities and labels", "[eval][predict][cli]") {
  TempDir dir;
  python(dir, R"(
rng = np.random.default_rng(1)
def make(n):
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 4)) * [10, 1, 1, 0.1] + np.eye(3, 4)[y] * [30, 3, 3, 0] + [100, 0, 0, 0]
    return x.astype(np.float32), y.astype(np.int64)
x, y = make(300); xt, yt = make(90)
np.save('X.npy', x); np.save('y.npy', y); np.save('Xt.npy', xt); np.save('yt.npy', yt)
)");
  const RunResult r = run_text(dir, R"(seed: 3
data: {kind: npy, x: X.npy, y: y.npy, x_test: Xt.npy, y_test: yt.npy, validation: 60, standardize: true}
model: [{kind: dense, units: 12}, {kind: tanh}, {kind: dense, units: 3}]
optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 5, batch: 16}
)",
                               "run");
  const std::string run = dir.file("run");
  std::string out;
  REQUIRE(cli(dir, "eval " + run + " --checkpoint last", out) == 0);
  CHECK_THAT(out, Contains("accuracy"));
  const auto j = nlohmann::json::parse(read_file(run + "/eval/last-test.json"));
  // The same model on the same test split: the trainer's final test metrics.
  CHECK(j["metrics"]["loss"].get<double>() == Approx(r.final_metrics.at("test_loss")).epsilon(1e-5));
  CHECK(j["metrics"]["accuracy"].get<double>() == Approx(r.final_metrics.at("test_accuracy")));
  CHECK(j["metrics"]["samples"] == 90);
  CHECK(j["epoch"] == 5);

  // Other data as a block: the test arrays again, scored as "all samples".
  REQUIRE(cli(dir,
              "eval " + run + " --checkpoint last --out " + dir.file("e.json") +
                  " --data '{kind: npy, x: " + dir.file("Xt.npy") + ", y: " + dir.file("yt.npy") + "}'",
              out) == 0);
  const auto e = nlohmann::json::parse(read_file(dir.file("e.json")));
  CHECK(e["split"] == "all");
  CHECK(e["metrics"]["accuracy"].get<double>() == j["metrics"]["accuracy"].get<double>());

  // predict: [N, 3] probabilities summing to 1, labels = arg-max, accuracy as eval's.
  REQUIRE(cli(dir,
              "predict " + run + " --checkpoint last --input " + dir.file("Xt.npy") + " --out " + dir.file("p.npy"),
              out) == 0);
  const NpyArray p = NpyArray::open(dir.file("p.npy"));
  const NpyArray l = NpyArray::open(dir.file("p.labels.npy"));
  const NpyArray yt = NpyArray::open(dir.file("yt.npy"));
  REQUIRE(p.shape() == std::vector<std::size_t>{90, 3});
  REQUIRE(l.shape() == std::vector<std::size_t>{90});
  long correct = 0;
  for (std::size_t n = 0; n < 90; ++n) {
    const double a = p.at(n * 3), b = p.at(n * 3 + 1), c = p.at(n * 3 + 2);
    CHECK(a + b + c == Approx(1.0).epsilon(1e-5));
    const int arg = a >= b && a >= c ? 0 : b >= c ? 1 : 2;
    CHECK(l.integer(n) == arg);
    correct += l.integer(n) == yt.integer(n);
  }
  CHECK(static_cast<double>(correct) / 90 == Approx(j["metrics"]["accuracy"].get<double>()));
  REQUIRE(cli(dir, "predict " + run + " --input " + dir.file("Xt.npy") + " --out " + dir.file("p.csv"), out) == 0);
  const auto rows = read_csv(dir.file("p.csv"));
  CHECK(rows[0] == std::vector<std::string>{"sample", "p_0", "p_1", "p_2", "label"});
  CHECK(rows.size() == 91);

  // A checkpoint that does not fit: another hidden width names the tensor; so do other inputs.
  CHECK(cli(dir, "eval " + run + " --set model[0].units=7", out) == 1);
  CHECK_THAT(out, Contains("dense0.W") && Contains("does not belong"));
  python(dir, "np.save('X5.npy', np.zeros((4, 5), np.float32))\n");
  CHECK(cli(dir, "predict " + run + " --input " + dir.file("X5.npy") + " --out " + dir.file("q.npy"), out) == 1);
  CHECK_THAT(out, Contains("standardize.json") && Contains("trained on 4 input features, the data has 5"));
  CHECK(cli(dir, "eval " + run + " --checkpoint newest", out) == 1);
  CHECK_THAT(out, Contains("'best' or 'last'"));
  CHECK(cli(dir, "predict " + run + " --input " + dir.file("Xt.npy") + " --out " + dir.file("p.txt"), out) == 2);
}

TEST_CASE("a CSV run keeps its class names, predict reads the feature columns by name", "[eval][predict][csv][cli]") {
  TempDir dir;
  {
    std::ofstream f(dir.file("pets.csv"));
    f << "weight,animal,height\n";
    for (int i = 0; i < 60; ++i) {
      const bool dog = i % 2;
      f << (dog ? 20 + i % 7 : 4 + i % 3) << "," << (dog ? "dog" : "cat") << "," << (dog ? 50 + i % 5 : 25 + i % 4)
        << "\n";
    }
    std::ofstream(dir.file("new.csv")) << "height,weight\n52,22\n26,5\n";  // other order, no target column
  }
  run_text(dir, R"(seed: 2
data: {kind: csv, path: pets.csv, target: animal, standardize: true}
model: [{kind: dense, units: 2}]
optimizer: {kind: sgd, lr: 0.5}
train: {epochs: 20, batch: 10}
)",
           "run");
  const std::string run = dir.file("run");
  const auto classes = nlohmann::json::parse(read_file(run + "/classes.json"));
  CHECK(classes == nlohmann::json({"cat", "dog"}));
  CHECK(nlohmann::json::parse(read_file(run + "/features.json")) == nlohmann::json({"weight", "height"}));
  std::string out;
  REQUIRE(cli(dir, "predict " + run + " --input " + dir.file("new.csv") + " --out " + dir.file("p.csv"), out) == 0);
  const auto rows = read_csv(dir.file("p.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"sample", "p_cat", "p_dog", "label"});
  CHECK(rows[1][3] == "dog");
  CHECK(rows[2][3] == "cat");
}
