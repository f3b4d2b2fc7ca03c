// Every way a run can fail leaves summary.json with a status and a reason, keeps the last good
// checkpoint and ends `unroll run` with its documented exit code (README, "Exit codes"): plugin
// crashes of every kind (the fixture tests/fixtures/faulty_layer.cpp), a plugin exception that is
// not an unroll::Error, exit(0) inside a plugin, an error while loading data, a closed stdout, and
// reusing --out. Each test starts the real `unroll` executable.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_failure.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using unroll::testing::run_unroll;
using unroll::testing::TempDir;

namespace {

const std::string kFaultyLib =
    fs::absolute(UNROLL_BINARY_DIR "/test_plugins/libunroll_fixture_faulty_layer.so").string();

// 3 x 20 samples, 20 of them for validation: 40 training samples in batches of 10, 4 forward
// passes an epoch, so at_call 5 is the first batch of epoch 2, after epoch 1's checkpoint.
std::string experiment(const std::string& fault, const std::string& data = "") {
  return "name: faults\nseed: 3\nplugins: [" + kFaultyLib + "]\n" +
         (data.empty() ? "data: {kind: blobs, classes: 3, features: 2, samples: 20, test_samples: 4, validation: 20}\n"
                       : data) +
         "model:\n"
         "  - {kind: dense, units: 8}\n"
         "  - {kind: faulty, name: bad, fault: " +
         fault +
         ", at_call: 5}\n"
         "  - {kind: relu}\n"
         "  - {kind: dense, units: 3}\n"
         "loss: cross_entropy\n"
         "optimizer: {kind: sgd, lr: 0.1}\n"
         "train: {epochs: 3, batch: 10, threads: 1}\n";
}

nlohmann::json summary(const std::string& run) { return nlohmann::json::parse(read_file(run + "/summary.json")); }

struct Fault {
  const char* fault;
  int exit_code;
  const char* status;
  const char* in_error;  // a piece of summary.json's "error"
};

}  // namespace

TEST_CASE("a crash, exception or exit inside a plugin is recorded: status, reason, phase, component, exit code",
          "[run_failures]") {
  const Fault faults[] = {
      {"segfault", kExitCrashed, "crashed", "SIGSEGV"},
      {"abort", kExitCrashed, "crashed", "SIGABRT"},
      {"fpe", kExitCrashed, "crashed", "SIGFPE"},
      {"bus", kExitCrashed, "crashed", "SIGBUS"},
      {"stack_overflow", kExitCrashed, "crashed", "SIGSEGV"},
      {"throw", kExitInternal, "failed", "std::runtime_error on purpose"},
      {"exit0", kExitCrashed, "crashed", "exited with status 0 before the run finished"},
      {"_Exit0", kExitCrashed, "crashed", "exited with status 0 before the run finished"},
  };
  for (const Fault& f : faults) {
    DYNAMIC_SECTION(f.fault) {
      TempDir t;
      write_file_atomic(t.file("exp.yaml"), experiment(f.fault));
      const std::string run = t.file("run");
      const int code = run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet"}, t.file("out.log"));
      INFO(read_file(t.file("out.log")));
      CHECK(code == f.exit_code);
      const auto s = summary(run);
      INFO(s.dump(2));
      CHECK(s["status"] == f.status);
      CHECK_THAT(s["error"].get<std::string>(), Catch::Contains(f.in_error));
      CHECK(s["phase"] == "train epoch 2");
      CHECK(s["component"] == "layer 'bad' forward");
      // The last good checkpoint, epoch 1's, is kept and says so.
      CHECK(nlohmann::json::parse(read_file(run + "/checkpoint/manifest.json"))["epoch"] == 1);
      CHECK(s["checkpoint_epoch"] == 1);
      // How far it got, from metrics.csv, as a completed run's summary says it.
      CHECK(s["epochs"] == 1);
      CHECK(s["final"]["train_loss"].is_number());
      CHECK(s["final"]["val_accuracy"].is_number());
      const std::string log = read_file(run + "/log.txt");
      CHECK_THAT(log, Catch::Contains(s["error"].get<std::string>().substr(0, 40)));
      if (std::string(f.status) == "crashed" && std::string(f.in_error).rfind("SIG", 0) == 0) {
        // The handler's raw frames were symbolized by the supervising parent.
        // (A stack overflow's innermost frames are all the fixture's recursion.)
        const bool overflow = std::string(f.fault) == "stack_overflow";
        CHECK_THAT(log, Catch::Contains("stack trace of the crash") &&
                            Catch::Contains(overflow ? "recurse" : "unroll::Model::forward"));
        if (overflow) CHECK_THAT(log, Catch::Contains("more times"));
        CHECK_FALSE(fs::exists(run + "/crash.stack"));
      }
      // --resume picks the run up from that checkpoint (and meets the fault again).
      run_unroll({"run", "--resume", run, "--quiet"}, t.file("resume.log"));
      CHECK_THAT(read_file(run + "/log.txt"),
                 Catch::Contains("resuming from " + run + "/checkpoint at the end of epoch 1"));
    }
  }
}

TEST_CASE("in-process runs (--in-process): a fatal signal is still recorded by the handler itself", "[run_failures]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), experiment("segfault"));
  const std::string run = t.file("run");
  const int code = run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet", "--in-process"}, t.file("out.log"));
  CHECK(code == 128 + SIGSEGV);  // no parent to translate it: the process dies of the signal
  const auto s = summary(run);
  CHECK(s["status"] == "crashed");
  CHECK(s["signal"] == "SIGSEGV");
  CHECK(s["phase"] == "train epoch 2");
  CHECK(s["component"] == "layer 'bad' forward");
  CHECK_THAT(read_file(run + "/log.txt"), Catch::Contains("fatal: fatal signal SIGSEGV"));
  CHECK(fs::file_size(run + "/crash.stack") > 0);  // raw frames, unsymbolized without the parent
}

TEST_CASE("an error while loading data is reported before the run folder is made", "[run_failures]") {
  TempDir t;
  fs::create_directories(t.file("empty"));
  write_file_atomic(t.file("exp.yaml"),
                    experiment("none", "data: {kind: fashion_mnist, dir: " + t.file("empty") + "}\n"));
  const std::string run = t.file("run");
  CHECK(run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet"}, t.file("out.log")) == kExitFailed);
  CHECK_THAT(read_file(t.file("out.log")), Catch::Contains("error: ") && Catch::Contains(t.file("empty")));
  CHECK_FALSE(fs::exists(run));  // the data is read by the check every run makes first
}

TEST_CASE("run --out refuses an existing run unless --force and --force leaves nothing of the old run",
          "[run_failures]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), experiment("none"));
  const std::string run = t.file("run");
  REQUIRE(run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet"}, t.file("first.log")) == 0);
  const std::string before = read_file(run + "/summary.json");
  REQUIRE(summary(run)["status"] == "completed");

  CHECK(run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet"}, t.file("second.log")) == kExitFailed);
  CHECK_THAT(read_file(t.file("second.log")), Catch::Contains("already holds a run") &&
                                                  Catch::Contains("status completed") && Catch::Contains("--force") &&
                                                  Catch::Contains("--resume"));
  CHECK(read_file(run + "/summary.json") == before);  // untouched

  // Invalid input writes nothing at all, not even the folder.
  write_file_atomic(t.file("bad.yaml"), experiment("none") + "bogus_key: 1\n");
  CHECK(run_unroll({"run", t.file("bad.yaml"), "--out", t.file("never"), "--quiet"}, t.file("bad.log")) == kExitFailed);
  CHECK_FALSE(fs::exists(t.file("never")));

  // --force with a run whose data cannot be read: refused by the check before the folder is
  // touched, so the old run stays whole.
  fs::create_directories(t.file("empty"));
  write_file_atomic(t.file("nodata.yaml"),
                    experiment("none", "data: {kind: fashion_mnist, dir: " + t.file("empty") + "}\n"));
  CHECK(run_unroll({"run", t.file("nodata.yaml"), "--out", run, "--force", "--quiet"}, t.file("force.log")) ==
        kExitFailed);
  CHECK(read_file(run + "/summary.json") == before);
  CHECK(fs::exists(run + "/checkpoint/manifest.json"));

  // --force with a run that fails once started (the plugin throws in epoch 2): the old
  // checkpoint, best/ and metrics are gone, so nothing in the folder can be taken for the new run's.
  write_file_atomic(t.file("throws.yaml"), experiment("throw"));
  CHECK(run_unroll({"run", t.file("throws.yaml"), "--out", run, "--force", "--quiet"}, t.file("force2.log")) ==
        kExitInternal);
  CHECK(summary(run)["status"] == "failed");
  CHECK(nlohmann::json::parse(read_file(run + "/checkpoint/manifest.json"))["epoch"] == 1);  // the new run's
  CHECK_THAT(read_file(run + "/config.yaml"), Catch::Contains("fault: throw"));
}

TEST_CASE("a closed stdout (unroll run ... | head -1) neither kills nor fails the run", "[run_failures]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), experiment("none"));
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);  // the reader is gone before the first line
  const int pid = testing::spawn_unroll({"run", t.file("exp.yaml"), "--out", t.file("run")}, t.file("err.log"), fds[1]);
  ::close(fds[1]);
  const int status = testing::wait_for(pid);
  INFO(read_file(t.file("err.log")));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(summary(t.file("run"))["status"] == "completed");
}

TEST_CASE("a run folder in use by another process is refused, naming the process", "[run_failures]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), experiment("none"));
  const std::string run = t.file("run");
  REQUIRE(run_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet", "--set", "train.epochs=1"},
                     t.file("first.log")) == 0);
  write_file_atomic(run + "/summary.json", "{\"status\": \"running\"}\n");  // as if still running
  const int fd = ::open((run + "/.lock").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  CHECK(run_unroll({"run", "--resume", run, "--quiet"}, t.file("second.log")) == kExitFailed);
  CHECK_THAT(read_file(t.file("second.log")), Catch::Contains("in use by another unroll process"));
  ::close(fd);
}

TEST_CASE("Ctrl-C reaching both unroll run and its training process stops the run once, resumably", "[run_failures]") {
  TempDir t;
  // About a second of training: the signal lands mid-run.
  write_file_atomic(t.file("exp.yaml"), R"(name: ctrl_c
seed: 2
data: {kind: blobs, classes: 3, features: 32, samples: 1000, test_samples: 20, validation: 60}
model:
  - {kind: dense, units: 256}
  - {kind: tanh}
  - {kind: dense, units: 3}
loss: cross_entropy
optimizer: {kind: adam, lr: 0.01}
train: {epochs: 30, batch: 10, threads: 1}
)");
  const std::string run = t.file("run");
  const int pid =
      testing::spawn_unroll({"run", t.file("exp.yaml"), "--out", run, "--quiet"}, t.file("a.log"), -1, true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(run + "/checkpoint/manifest.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(fs::exists(run + "/checkpoint/manifest.json"));
  ::kill(-pid, SIGINT);  // the whole process group, as a terminal does
  const int status = testing::wait_for(pid);
  INFO(read_file(t.file("a.log")));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == kExitInterrupted);  // one stop request, not a kill
  CHECK(summary(run)["status"] == "interrupted");
  CHECK(run_unroll({"run", "--resume", run, "--quiet"}, t.file("b.log")) == 0);
  CHECK(summary(run)["status"] == "completed");
}
