// Sweep robustness: a run that dies in any way (SIGSEGV, SIGABRT, SIGKILL, exit 0 without a
// summary, all with an empty stderr) is recorded and the sweep goes on; the sweep's children die
// with it, even when it is SIGKILLed, and checkpoint on the way so the next sweep resumes them;
// a stale child of a dead sweep is found and stopped; two sweeps cannot share a folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "spawn.hpp"
#include "file_support.hpp"
#include "support.hpp"
#include "unroll/error.hpp"
#include "unroll/host/child_process.hpp"
#include "unroll/host/fatal_signal.hpp"
#include "unroll/files.hpp"
#include "unroll/host/report.hpp"
#include "unroll/host/sweep.hpp"

using namespace unroll;
using unroll::testing::json_of;
using unroll::testing::TempDir;
using unroll::testing::write;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const std::string& kExe = unroll::testing::unroll_exe();

// A tiny experiment; EPOCHS sets how long a run lasts.
std::string base_yaml(int epochs, int samples = 20) {
  return "name: tiny\nseed: 1\n"
         "data: {kind: blobs, classes: 2, samples: " +
         std::to_string(samples) +
         ", test_samples: 10}\n"
         "model:\n  - {kind: dense, units: 4}\n  - {kind: tanh}\n  - {kind: dense, units: 2}\n"
         "loss: {kind: cross_entropy}\noptimizer: {kind: sgd, lr: 0.1, momentum: 0.9}\n"
         "train: {epochs: " +
         std::to_string(epochs) + ", batch: 8}\n";
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Wait until pred() or `seconds` pass.
template <class F>
bool wait_for(F pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace

TEST_CASE("a sweep survives children that segfault, abort, are SIGKILLed or exit 0 silently", "[sweep][sweep_faults]") {
  REQUIRE(fs::exists(kExe));
  TempDir t;
  write(t.file("base.yaml"), base_yaml(2));
  // Each named variant dies its own way: the stand-in `unroll` below looks at the variant file it
  // is given and kills itself before writing a byte (an empty stderr.txt is what used to crash
  // the sweep with "basic_string::substr").
  write(t.file("sweep.yaml"),
        "extends: base.yaml\nseeds: 1\n"
        "variants:\n  segv: {optimizer.lr: 0.11}\n  abort: {optimizer.lr: 0.12}\n"
        "  oom_killed: {optimizer.lr: 0.13}\n  exit0: {optimizer.lr: 0.14}\n"
        "metric: {name: test_accuracy}\n");
  write(t.file("fake_unroll"),
        "#!/bin/sh\n"
        "case \"$*\" in\n"
        "  */segv.yaml*) kill -SEGV $$ ;;\n"
        "  */abort.yaml*) kill -ABRT $$ ;;\n"
        "  */oom_killed.yaml*) kill -KILL $$ ;;\n"
        "  */exit0.yaml*) exit 0 ;;\n"
        "esac\n"
        "exec '" +
            kExe + "' \"$@\"\n");
  fs::permissions(t.file("fake_unroll"), fs::perms::owner_all);
  SweepSpec spec = load_sweep(t.file("sweep.yaml"), {}, unroll::testing::host());
  REQUIRE(spec.variants.size() == 5);
  SweepOptions o;
  o.out_dir = t.file("out");
  o.unroll_binary = t.file("fake_unroll");
  o.jobs = 2;
  o.threads_per_run = 1;
  o.progress = false;
  SweepResult r = run_sweep(spec, o);
  CHECK(r.total == 5);
  CHECK(r.completed == 1);
  CHECK(r.failed == 4);

  const Json segv = json_of(t.file("out/runs/segv/seed1/sweep_run.json"));
  CHECK(segv["status"] == "failed");
  CHECK(segv["signal"] == "SIGSEGV");
  CHECK(segv["error"].get<std::string>().find("killed by signal 11 (SIGSEGV") != std::string::npos);
  CHECK(json_of(t.file("out/runs/abort/seed1/sweep_run.json"))["signal"] == "SIGABRT");
  const Json oom = json_of(t.file("out/runs/oom_killed/seed1/sweep_run.json"));
  CHECK(oom["signal"] == "SIGKILL");
  CHECK(oom["error"].get<std::string>().find("out-of-memory killer") != std::string::npos);
  const Json exit0 = json_of(t.file("out/runs/exit0/seed1/sweep_run.json"));
  CHECK(exit0["status"] == "failed");
  CHECK(exit0["exit_code"] == 0);
  CHECK(exit0["error"].get<std::string>().find("exit code 0 without a completed summary.json") != std::string::npos);
  CHECK(json_of(t.file("out/runs/base/seed1/sweep_run.json"))["status"] == "completed");

  const std::string md = write_report(o.out_dir, ReportOptions{});
  CHECK(md.find("Failed or missing runs (4)") != std::string::npos);
  CHECK(md.find("SIGSEGV") != std::string::npos);
  CHECK(md.find("SIGABRT") != std::string::npos);

  // Again: the failed runs are retried (and fail again), the completed one is kept, and each
  // record remembers the attempt before it.
  SweepResult again = run_sweep(spec, o);
  CHECK(again.skipped == 1);
  CHECK(again.failed == 4);
  const Json segv2 = json_of(t.file("out/runs/segv/seed1/sweep_run.json"));
  CHECK(segv2["attempt"] == 2);
  REQUIRE(segv2["previous"].size() == 1);
  CHECK(segv2["previous"][0]["signal"] == "SIGSEGV");
}

TEST_CASE("a killed sweep takes its children with it, and the next sweep resumes them", "[sweep][sweep_faults]") {
  REQUIRE(fs::exists(kExe));
  TempDir t;
  // Runs long enough to be caught mid-way (hundreds of epochs of a small problem).
  write(t.file("base.yaml"), base_yaml(300, 100));
  write(t.file("sweep.yaml"), "extends: base.yaml\nseeds: 2\nmetric: {name: test_accuracy}\n");
  const std::string out = t.file("out");

  for (const int sig : {SIGKILL, SIGTERM}) {
    fs::remove_all(out);
    const pid_t sweep = ::fork();
    REQUIRE(sweep >= 0);
    if (sweep == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execl(kExe.c_str(), kExe.c_str(), "sweep", t.file("sweep.yaml").c_str(), "--out", out.c_str(), "-j", "2",
              "--threads-per-run", "1", "--no-report", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Both runs started, and each has trained a little (its log has an epoch line).
    std::vector<pid_t> runs;
    const bool started = wait_for(
        [&] {
          runs.clear();
          for (int s : {1, 2}) {
            const std::string rec = out + "/runs/base/seed" + std::to_string(s) + "/sweep_run.json";
            if (!fs::exists(rec)) return false;
            runs.push_back(json_of(rec)["pid"].get<int>());
            if (!fs::exists(out + "/runs/base/seed" + std::to_string(s) + "/metrics.csv")) return false;
          }
          return true;
        },
        60);
    REQUIRE(started);
    ::kill(sweep, sig);
    int st = 0;
    REQUIRE(::waitpid(sweep, &st, 0) == sweep);
    if (sig == SIGTERM) {
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 130);  // the sweep waited for its runs and recorded them
    }
    // No orphan: the runs got SIGTERM (from the sweep, or from the kernel when it died) and end.
    for (pid_t p : runs) CHECK(wait_for([&] { return !alive(p); }, 30));
    for (int s : {1, 2}) {
      const std::string dir = out + "/runs/base/seed" + std::to_string(s);
      CHECK(json_of(dir + "/summary.json")["status"] == "interrupted");  // they checkpointed
      CHECK(fs::exists(dir + "/checkpoint/manifest.json"));
      if (sig == SIGTERM) CHECK(json_of(dir + "/sweep_run.json")["status"] == "interrupted");
    }
  }

  // The next sweep resumes both from their checkpoints instead of starting over.
  SweepSpec spec = load_sweep(t.file("sweep.yaml"), {}, unroll::testing::host());
  SweepOptions o;
  o.out_dir = out;
  o.unroll_binary = kExe;
  o.jobs = 2;
  o.threads_per_run = 1;
  o.progress = false;
  SweepResult r = run_sweep(spec, o);
  CHECK(r.resumed == 2);
  CHECK(r.completed == 2);
  const Json rec = json_of(out + "/runs/base/seed1/sweep_run.json");
  CHECK(rec["status"] == "completed");
  CHECK(rec.contains("resumed_from_epoch"));
  CHECK(json_of(out + "/runs/base/seed1/summary.json")["epochs"] == 300);
}

TEST_CASE("a stale child left by a dead sweep is stopped before its folder is reused", "[sweep][sweep_faults]") {
  TempDir t;
  fs::create_directories(t.file("runs/base/seed1"));
  // A stand-in for a run that outlived its sweep: a process this test starts, recorded as running.
  const pid_t stale = spawn_guarded({"/bin/sleep", "60"}, t.file("sleep.err"));
  Json rec = {{"status", "running"},
              {"launcher", "local"},
              {"host", short_hostname()},
              {"pid", stale},
              {"pid_start", process_start_ticks(stale)}};
  write(t.file("runs/base/seed1/sweep_run.json"), rec.dump());
  // A record whose pid now belongs to another process (this one, which started later than the
  // recorded start time) is left alone.
  Json other = rec;
  other["pid"] = ::getpid();
  other["pid_start"] = process_start_ticks(::getpid()) - 100;
  write(t.file("runs/base/seed2/sweep_run.json"), other.dump());

  const auto notes = reap_stale_children(t.path, 5);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find(std::to_string(stale)) != std::string::npos);
  int st = 0;
  REQUIRE(wait_child(stale, 5, &st));
  CHECK(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGTERM);
  CHECK(alive(::getpid()));

  // And one sweep folder, one sweep: a second lock on it is refused, naming the holder.
  SweepLock lock(t.path);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      SweepLock again(t.path);
      ::_exit(0);
    } catch (const Error& e) {
      ::_exit(std::string(e.what()).find("pid " + std::to_string(::getppid())) != std::string::npos ? 7 : 8);
    }
  }
  REQUIRE(::waitpid(child, &st, 0) == child);
  CHECK(WEXITSTATUS(st) == 7);
}

TEST_CASE("a child's exit is described with the signal's name", "[sweep][sweep_faults]") {
  CHECK(decode_wait_status(0).describe() == "exit code 0");
  const pid_t p = spawn_guarded({"/bin/sh", "-c", "kill -SEGV $$"}, "/dev/null");
  int st = 0;
  REQUIRE(wait_child(p, 10, &st));
  const ChildExit e = decode_wait_status(st);
  CHECK(e.signaled);
  CHECK(e.signal == SIGSEGV);
  CHECK(e.describe().find("killed by signal 11 (SIGSEGV") == 0);
  CHECK_THROWS_WITH(spawn_guarded({"/nonexistent/unroll"}, "/dev/null"), Catch::Contains("No such file"));
}
