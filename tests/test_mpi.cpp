// Data-parallel training over MPI, against the real engine: each test launches
//   mpirun --allow-run-as-root --oversubscribe -np N bin/unroll run ...
// and compares the run folder with a one-process run of the same experiment. When mpirun
// cannot start, the tests FAIL with the reason; they never skip.
//
// Tolerance: a run with N ranks sums the same per-sample gradients as a one-process run, only
// in another order (each rank's partial sum, then the allreduce), so the numbers differ by float
// rounding, which a few epochs of training amplify a little. Losses, gradient norms and
// parameters must agree to a relative 1e-3 (observed: about 1e-6); accuracies to 1% of the
// samples. The same N twice must give identical files.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "mpi_support.hpp"
#include "spawn.hpp"
#include "support.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/distributed.hpp"
#include "unroll/files.hpp"

extern char** environ;

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using unroll::testing::TempDir;

using unroll::testing::shell;
using unroll::testing::ShellResult;

namespace {

using namespace unroll::testing::mpi;

// An MLP with everything that crosses ranks: a padded last batch (810 training samples in
// batches of 64), batch norm with synchronized statistics, L2 and max-norm regularizers,
// gradient clipping, a validation split and a test split. The 256x256 weight is at the size the
// gradient sum takes in place (GradientSum::kInPlaceFloats); the other gradients share a buffer.
const char* kMlp = R"(name: mpi_mlp
seed: 3
data: {kind: blobs, classes: 3, features: 8, samples: 300, test_samples: 40, spread: 2.0, validation: 90}
model:
  - {kind: dense, units: 256}
  - {kind: batch_norm, sync: true}
  - {kind: tanh}
  - {kind: dense, units: 256}
  - {kind: tanh}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
regularizers: [{kind: l2, lambda: 0.001}, {kind: max_norm, max: 3.0}]
train: {epochs: 3, batch: 64, clip: {norm: 5.0}}
)";

// An Elman net under truncated BPTT (k1 4, k2 8) on variable-length sequences (padding masks,
// a loss at every step), with weight noise drawn from the same stream on every rank.
const char* kElman = R"(name: mpi_elman
seed: 5
data: {kind: delayed_recall, lag: 2, alphabet: 4, length: 14, min_length: 8, samples: 300, test_samples: 40,
       validation: 40}
model:
  - {kind: elman, units: 24, activation: tanh}
  - {kind: dense, units: 4}
loss: {kind: cross_entropy}
optimizer: {kind: adam, lr: 0.01}
regularizers: [{kind: weight_noise, std: 0.01}]
train: {epochs: 3, batch: 32, bptt: {k1: 4, k2: 8}, clip: {norm: 1.0}, loss_at: every}
)";

}  // namespace

#ifndef UNROLL_HAVE_MPI
// A build without MPI (UNROLL_MPI=OFF, or MPI not found) has no data-parallel runs; under
// mpirun its ranks would each train alone into one folder, so the host refuses.
TEST_CASE("mpi: a host built without MPI refuses to run as one of several ranks", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), kMlp);
  const ShellResult r = run(2, dir, "mlp.yaml", "two");
  CHECK(r.code != 0);
  CHECK_THAT(r.out, Contains("this unroll was built without MPI"));
  CHECK(!fs::exists(dir.file("two/metrics.csv")));
}
#else
TEST_CASE("mpi: an MLP trained by 2 ranks matches the one-process run", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), kMlp);
  const ShellResult one = run(0, dir, "mlp.yaml", "one");
  INFO(one.out);
  REQUIRE(one.code == 0);
  const ShellResult two = run(2, dir, "mlp.yaml", "two", "--set train.distributed.shard_optimizer=auto");
  INFO(two.out);
  REQUIRE(two.code == 0);
  require_close_metrics(dir.file("one/metrics.csv"), dir.file("two/metrics.csv"));
  require_close_checkpoints(dir.file("one/checkpoint"), dir.file("two/checkpoint"));
  // Both ways of the gradient sum ran: in place (the 256x256 weight) and in the shared buffer.
  STATIC_REQUIRE(unroll::GradientSum::kInPlaceFloats <= 256 * 256);
  // Only rank 0 wrote the folder, and it says how the run was made.
  CHECK_THAT(unroll::read_file(dir.file("two/summary.json")), Contains("\"ranks\": 2"));
  CHECK_THAT(unroll::read_file(dir.file("two/log.txt")), Contains("ranks: 2 (data-parallel"));
  CHECK_THAT(unroll::read_file(dir.file("two/summary.json")), Contains("test_accuracy"));
  // L2 as a regularizer adds its penalty to whole gradients: the step stays replicated.
  CHECK_THAT(unroll::read_file(dir.file("two/log.txt")),
             Contains("optimizer step replicated on every rank, not sharded: the regularizer 'l2'"));
}

TEST_CASE("mpi: an Elman net under truncated BPTT trained by 2 ranks matches the one-process run", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("elman.yaml"), kElman);
  const ShellResult one = run(0, dir, "elman.yaml", "one");
  INFO(one.out);
  REQUIRE(one.code == 0);
  const ShellResult two = run(2, dir, "elman.yaml", "two", "--set train.distributed.shard_optimizer=auto");
  INFO(two.out);
  REQUIRE(two.code == 0);
  require_close_metrics(dir.file("one/metrics.csv"), dir.file("two/metrics.csv"));
  require_close_checkpoints(dir.file("one/checkpoint"), dir.file("two/checkpoint"));
  // adam and weight noise (which perturbs weights, not gradients): the step is sharded.
  CHECK_THAT(unroll::read_file(dir.file("two/log.txt")), Contains("optimizer step sharded over 2 ranks"));

  SECTION("stateful: each rank carries the state of its own streams") {
    const ShellResult s1 = run(0, dir, "elman.yaml", "s1", "--set train.bptt.stateful=true");
    INFO(s1.out);
    REQUIRE(s1.code == 0);
    const ShellResult s2 = run(2, dir, "elman.yaml", "s2", "--set train.bptt.stateful=true");
    INFO(s2.out);
    REQUIRE(s2.code == 0);
    require_close_metrics(dir.file("s1/metrics.csv"), dir.file("s2/metrics.csv"));
  }
}

TEST_CASE("mpi: the same number of ranks twice gives identical numbers", "[mpi]") {
  require_mpirun();
  TempDir dir;
  // Dropout too: each rank's masks come from its own (seed, layer, epoch, rank) stream.
  write(dir.file("mlp.yaml"), kMlp);
  write(dir.file("drop.yaml"), R"(name: mpi_drop
seed: 2
data: {kind: blobs, classes: 3, features: 8, samples: 200, test_samples: 0, validation: 60}
model:
  - {kind: dense, units: 32}
  - {kind: relu}
  - {kind: dropout, rate: 0.3}
  - {kind: batch_norm}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: {kind: adam, lr: 0.01}
train: {epochs: 3, batch: 50}
)");
  for (const char* file : {"mlp.yaml", "drop.yaml"}) {
    INFO(file);
    const ShellResult a = run(2, dir, file, std::string(file) + ".a");
    INFO(a.out);
    REQUIRE(a.code == 0);
    const ShellResult b = run(2, dir, file, std::string(file) + ".b");
    INFO(b.out);
    REQUIRE(b.code == 0);
    CHECK(metrics(dir.file(std::string(file) + ".a")) == metrics(dir.file(std::string(file) + ".b")));
  }
}

TEST_CASE("mpi: --resume continues a run with a different number of ranks", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), kMlp);
  const ShellResult full = run(0, dir, "mlp.yaml", "full", "--set train.epochs=4");
  INFO(full.out);
  REQUIRE(full.code == 0);
  // A run stopped after 2 of its 4 epochs: train 2, then give its config.yaml the 4 epochs back.
  for (const auto& [first, then, out] : {std::tuple{2, 0, "a"}, std::tuple{0, 2, "b"}}) {
    INFO("first " << first << " ranks, then " << then);
    const ShellResult part = run(first, dir, "mlp.yaml", out, "--set train.epochs=2");
    INFO(part.out);
    REQUIRE(part.code == 0);
    const std::string d = dir.file(out);
    const ShellResult resumed = resume_to_epochs(then, d, 2, 4);
    INFO(resumed.out);
    REQUIRE(resumed.code == 0);
    CHECK_THAT(unroll::read_file(d + "/log.txt"), Contains("resuming from"));
    require_close_metrics(dir.file("full/metrics.csv"), d + "/metrics.csv");
    require_close_checkpoints(dir.file("full/checkpoint"), d + "/checkpoint");
  }
}

TEST_CASE("mpi: per-rank batch norm differs from sync: true, which matches one process", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), kMlp);
  const ShellResult own = run(2, dir, "mlp.yaml", "own", "--set model[1].sync=false");
  INFO(own.out);
  REQUIRE(own.code == 0);
  const ShellResult one = run(0, dir, "mlp.yaml", "one", "--set model[1].sync=false");
  INFO(one.out);
  REQUIRE(one.code == 0);
  // Statistics of 32-sample slices instead of 64-sample batches: a different (valid) training.
  const auto a = unroll::testing::read_csv(dir.file("own/metrics.csv"));
  const auto b = unroll::testing::read_csv(dir.file("one/metrics.csv"));
  REQUIRE(a.size() == b.size());
  CHECK(a[1][1] != b[1][1]);
  // Per-rank running statistics are averaged over the ranks at the end of every epoch: the
  // checkpoint holds finite values of the right shape.
  const unroll::Snapshot s = unroll::read_checkpoint(dir.file("own/checkpoint"));
  bool found = false;
  for (const auto& [name, m] : s.buffers)
    if (name == "batch_norm1.running_mean") {
      found = true;
      CHECK(m.rows() == 256);
      CHECK(m.allFinite());
    }
  CHECK(found);
}

TEST_CASE("mpi: a batch smaller than the number of ranks is refused where it is set", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), kMlp);
  const ShellResult r = run(3, dir, "mlp.yaml", "small", "--set train.batch=2");
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Contains("train.batch (2) is smaller than the number of ranks (3)"));
}

TEST_CASE("mpi: a last batch with fewer samples than ranks is skipped on every rank", "[mpi]") {
  require_mpirun();
  TempDir dir;
  // 201 training samples in batches of 100: the last batch holds one sample for two ranks.
  write(dir.file("tail.yaml"), R"(name: mpi_tail
seed: 1
data: {kind: blobs, classes: 3, features: 4, samples: 67, test_samples: 5, validation: 0}
model: [{kind: dense, units: 8}, {kind: tanh}, {kind: dense, units: 3}]
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.1}
train: {epochs: 2, batch: 100}
)");
  const ShellResult r = run(2, dir, "tail.yaml", "two");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK_THAT(unroll::read_file(dir.file("two/log.txt")),
             Contains("the last batch of each epoch has 1 sample(s), fewer than the 2 ranks; it is skipped"));
  CHECK_THAT(unroll::read_file(dir.file("two/summary.json")), Contains("\"steps\": 4"));  // 2 batches x 2 epochs
}

TEST_CASE("mpi: a rank that dies ends the job, rank 0 notes it, and the checkpoint resumes", "[mpi]") {
  require_mpirun();
  TempDir dir;
  // Long enough (many short epochs) to be killed in the middle; checkpointed every epoch.
  write(dir.file("long.yaml"), R"(name: mpi_long
seed: 1
data: {kind: blobs, classes: 3, features: 8, samples: 100, test_samples: 0, validation: 0}
model: [{kind: dense, units: 16}, {kind: tanh}, {kind: dense, units: 3}]
loss: {kind: cross_entropy}
optimizer: {kind: sgd, lr: 0.05}
train: {epochs: 100000, batch: 30}
)");
  const std::string out = dir.file("run");
  const std::string cmd = "exec " + mpirun(2) + q(kBin) + " run " + q(dir.file("long.yaml")) +
                          " --quiet --threads 1 --out " + q(out) + " > " + q(dir.file("mpirun.log")) + " 2>&1";
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  pid_t mpirun_pid = 0;
  REQUIRE(posix_spawn(&mpirun_pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);

  // Rank 1: a child of mpirun whose environment says so; wait for a checkpoint first.
  pid_t victim = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && (!victim || !fs::exists(out + "/checkpoint/manifest.json"))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream env(e.path() / "environ");
      std::string var;
      bool rank1 = false;
      while (std::getline(env, var, '\0'))
        if (var == "OMPI_COMM_WORLD_RANK=1") rank1 = true;
      std::ifstream cmdline(e.path() / "cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), {});
      if (rank1 && args.find(out) != std::string::npos && args.find("mpirun") == std::string::npos)
        victim = std::stoi(pid);
    }
  }
  INFO(unroll::read_file(dir.file("mpirun.log")));
  REQUIRE(victim > 0);
  REQUIRE(fs::exists(out + "/checkpoint/manifest.json"));
  REQUIRE(::kill(victim, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(mpirun_pid, &status, 0) == mpirun_pid);
  const std::string said = unroll::read_file(dir.file("mpirun.log"));
  INFO(said);
  // The job ended with an error, and the launcher named the rank that died.
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK_THAT(said, Contains("rank 1"));
  INFO("log.txt:\n" << unroll::read_file(out + "/log.txt"));
  CHECK_THAT(unroll::read_file(out + "/log.txt"),
             Contains("rank 0 was stopped by a signal while training with 2 ranks"));
  // The last checkpoint is whole (written to a temporary name and renamed by rank 0), and the
  // run continues from it with another number of ranks.
  REQUIRE_NOTHROW(unroll::read_checkpoint(out + "/checkpoint"));
  std::string cfg = unroll::read_file(out + "/config.yaml");
  const size_t at = cfg.find("epochs: 100000");
  REQUIRE(at != std::string::npos);
  cfg.replace(at, 14, "epochs: 1");  // whatever epoch it reached: nothing more to train but the summary
  write(out + "/config.yaml", cfg);
  const ShellResult resumed = shell(q(kBin) + " run --quiet --threads 1 --resume " + q(out));
  INFO(resumed.out);
  CHECK(resumed.code == 0);
  CHECK_THAT(unroll::read_file(out + "/summary.json"), Contains("\"status\": \"completed\""));
}
#endif  // UNROLL_HAVE_MPI
