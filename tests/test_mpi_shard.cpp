// The optimizer step sharded over the ranks (train.distributed.shard_optimizer; docs/scaling.md):
// each rank receives the summed gradient of its share of the parameters (reduce-scatter), steps
// that share, and the updated shares are gathered on every rank.
//
// Tolerances. With 2 ranks a sum of two partial gradients is the same float whichever collective
// adds it, so a sharded run differs from a replicated one only in how the global gradient norm
// is summed (per share, then over the ranks), and in the last bit of the optimizer's update where
// a share boundary falls inside a vector packet (scalar code there): differences which three
// epochs amplify to a relative ~1e-7 (observed), checked at 1e-5. Against one
// process the data-parallel tolerance of tests/test_mpi.cpp applies (relative 1e-3). The same
// sharded run twice, and a sharded run resumed with the same number of ranks, are bit-identical.
#include <catch2/catch.hpp>

#include <filesystem>

#include "mpi_support.hpp"
#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/checkpoint.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using unroll::testing::ShellResult;
using unroll::testing::TempDir;
using namespace unroll::testing::mpi;

namespace {

constexpr double kShardedVsReplicated = 1e-5;  // relative, see above

// An MLP whose shares split a weight matrix between the ranks (387 elements: rank 0 steps 194,
// all in dense0.W), with a padded last batch, a clipped norm (0.5: a share of the updates clips), clipped
// values and a max-norm constraint (which runs on the gathered weights).
std::string mlp(const std::string& optimizer) {
  return R"(name: shard_mlp
seed: 4
data: {kind: blobs, classes: 3, features: 8, samples: 300, test_samples: 30, spread: 2.0, validation: 60}
model:
  - {kind: dense, units: 32}
  - {kind: tanh}
  - {kind: dense, units: 3}
loss: {kind: cross_entropy}
optimizer: )" +
         optimizer +
         R"(
regularizers: [{kind: max_norm, max: 2.0}]
train: {epochs: 3, batch: 64, clip: {norm: 0.5, value: 0.2}, distributed: {shard_optimizer: auto}}
)";
}

// Every tensor of two checkpoints, bit for bit.
void require_identical_checkpoints(const std::string& a, const std::string& b) { require_close_checkpoints(a, b, 0.0); }

std::string log_of(const TempDir& dir, const std::string& run) { return unroll::read_file(dir.file(run + "/log.txt")); }

}  // namespace

#ifdef UNROLL_HAVE_MPI
TEST_CASE("mpi shard: a sharded step equals the replicated one, and one process", "[mpi]") {
  require_mpirun();
  TempDir dir;
  for (const auto& [name, optimizer] :
       {std::pair{"adam", "{kind: adam, lr: 0.01}"}, std::pair{"sgd", "{kind: sgd, lr: 0.05, momentum: 0.9}"}}) {
    INFO(optimizer);
    write(dir.file("mlp.yaml"), mlp(optimizer));
    const std::string tag = std::string(name) + "_";
    run_ok(2, dir, "mlp.yaml", tag + "sharded");
    CHECK_THAT(log_of(dir, tag + "sharded"), Contains("optimizer step sharded over 2 ranks (ZeRO-1): rank 0 steps "
                                                      "194 of 387 parameter elements"));
    run_ok(2, dir, "mlp.yaml", tag + "replicated", "--set train.distributed.shard_optimizer=false");
    CHECK_THAT(log_of(dir, tag + "replicated"),
               Contains("optimizer step replicated on every rank (train.distributed.shard_optimizer: false)"));
    // The checkpoint's optimizer state is in the unsharded layout: the same tensor names and
    // shapes as the replicated run's, whole, and the same numbers.
    require_close_metrics(dir.file(tag + "replicated/metrics.csv"), dir.file(tag + "sharded/metrics.csv"),
                          kShardedVsReplicated);
    require_close_checkpoints(dir.file(tag + "replicated/checkpoint"), dir.file(tag + "sharded/checkpoint"),
                              kShardedVsReplicated);
    run_ok(0, dir, "mlp.yaml", tag + "one");
    CHECK_THAT(log_of(dir, tag + "one"), !Contains("optimizer step"));  // one process: nothing to decide
    require_close_metrics(dir.file(tag + "one/metrics.csv"), dir.file(tag + "sharded/metrics.csv"));
    require_close_checkpoints(dir.file(tag + "one/checkpoint"), dir.file(tag + "sharded/checkpoint"));
  }
  // The same sharded run twice: bit-identical.
  run_ok(2, dir, "mlp.yaml", "again");
  CHECK(metrics(dir.file("sgd_sharded")) == metrics(dir.file("again")));
  require_identical_checkpoints(dir.file("sgd_sharded/checkpoint"), dir.file("again/checkpoint"));
}

TEST_CASE("mpi shard: --resume of a sharded run with 1 or 2 ranks continues to the uninterrupted numbers", "[mpi]") {
  require_mpirun();
  TempDir dir;
  write(dir.file("mlp.yaml"), mlp("{kind: adam, lr: 0.01}"));
  run_ok(2, dir, "mlp.yaml", "full2", "--set train.epochs=4");
  run_ok(0, dir, "mlp.yaml", "full1", "--set train.epochs=4");
  // The first 2 epochs sharded over 2 ranks, and with one process.
  run_ok(2, dir, "mlp.yaml", "part2", "--set train.epochs=2");
  run_ok(0, dir, "mlp.yaml", "part1", "--set train.epochs=2");
  // Rank 0 wrote the sharded run's optimizer state whole, as one process does.
  require_close_checkpoints(dir.file("part1/checkpoint"), dir.file("part2/checkpoint"));
  fs::copy(dir.file("part2"), dir.file("part2to1"), fs::copy_options::recursive);

  SECTION("2 -> 2: bit-identical to the uninterrupted 2-rank run") {
    require_ok(resume_to_epochs(2, dir.file("part2"), 2, 4));
    CHECK(metrics(dir.file("full2")) == metrics(dir.file("part2")));
    require_identical_checkpoints(dir.file("full2/checkpoint"), dir.file("part2/checkpoint"));
  }
  SECTION("2 -> 1 and 1 -> 2: the uninterrupted numbers within the data-parallel tolerance") {
    require_ok(resume_to_epochs(0, dir.file("part2to1"), 2, 4));
    require_close_metrics(dir.file("full1/metrics.csv"), dir.file("part2to1/metrics.csv"));
    require_close_checkpoints(dir.file("full1/checkpoint"), dir.file("part2to1/checkpoint"));
    require_ok(resume_to_epochs(2, dir.file("part1"), 2, 4));
    CHECK_THAT(unroll::read_file(dir.file("part1/log.txt")), Contains("optimizer step sharded over 2 ranks"));
    require_close_metrics(dir.file("full2/metrics.csv"), dir.file("part1/metrics.csv"));
    require_close_checkpoints(dir.file("full2/checkpoint"), dir.file("part1/checkpoint"));
  }
}

TEST_CASE("mpi shard: an optimizer that is not elementwise keeps the replicated step and says why", "[mpi]") {
  require_mpirun();
  TempDir dir;
  const std::string plugin =
      fs::absolute(std::string(UNROLL_BINARY_DIR) + "/test_plugins/libunroll_fixture_tensor_optimizer.so")
          .lexically_normal();
  write(dir.file("mlp.yaml"), "plugins: [" + plugin + "]\n" + mlp("{kind: fixture_normalized_sgd, lr: 0.05}"));
  run_ok(2, dir, "mlp.yaml", "two");
  CHECK_THAT(log_of(dir, "two"), Contains("optimizer step replicated on every rank, not sharded: the optimizer "
                                          "'fixture_normalized_sgd' does not declare itself elementwise"));
  // The plugin, written without knowing of sharding, trains as before.
  run_ok(0, dir, "mlp.yaml", "one");
  require_close_metrics(dir.file("one/metrics.csv"), dir.file("two/metrics.csv"));
  // Asking for a sharded step that cannot be is an error at the option.
  const ShellResult must = run(2, dir, "mlp.yaml", "must", "--set train.distributed.shard_optimizer=true");
  CHECK(must.code == 1);
  CHECK_THAT(must.out, Contains("train.distributed.shard_optimizer is true, but the optimizer "
                                "'fixture_normalized_sgd' does not declare itself elementwise"));
}
#endif  // UNROLL_HAVE_MPI

TEST_CASE("mpi shard: train.distributed.shard_optimizer is validated like every option", "[mpi]") {
  TempDir dir;
  write(dir.file("mlp.yaml"), mlp("{kind: adam}"));
  const ShellResult r = unroll::testing::shell(q(kBin) + " run " + q(dir.file("mlp.yaml")) +
                                               " --check --set train.distributed.shard_optimizer=ture");
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Contains("shard_optimizer"));
  CHECK_THAT(r.out, Contains("true"));
}
