// Sweeps on a real Slurm: hidden tests ([.slurm]) run by the ctest entry `slurm_cluster`, which
// starts a one-node cluster (tests/slurm/cluster.sh) and sets SLURM_CONF. Without it they fail
// with the reason; they never skip.
//
//  - a sweep submitted with --slurm ends with the same report, number for number, as the same
//    sweep run locally; submitting it again submits nothing;
//  - a task cancelled with scancel, and one whose supervisor is SIGKILLed (as by the OOM killer
//    or a node failure, so it records nothing itself), are failed with Slurm's state, and the
//    next submission completes both from their checkpoints, with the numbers of an
//    uninterrupted run;
//  - a task that reaches a too-short --time gets SIGTERM first (--signal), checkpoints, is
//    recorded as failed, and the next submission resumes it from that checkpoint;
//  - `srun --mpi=pmix` inside an allocation starts a data-parallel run whose numbers equal those
//    of the same run under mpirun with the same number of ranks.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "spawn.hpp"
#include "file_support.hpp"
#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/report.hpp"
#include "unroll/host/slurm.hpp"
#include "unroll/host/sweep.hpp"

using namespace unroll;
using unroll::testing::json_of;
using unroll::testing::TempDir;
using unroll::testing::write;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const std::string& kExe = unroll::testing::unroll_exe();

// The arguments of `unroll sweep` for a sweep file, its --out folder (both quoted) and more
// options. Appended piece by piece: GCC 12 misreads "'" + std::string as an overlapping copy
// (-Wrestrict, a false positive: GCC bug 105651).
std::string sweep_args(const std::string& sweep, const std::string& out, const std::string& options) {
  std::string args = "'";
  args += sweep;
  args += "' --out '";
  args += out;
  args += "' ";
  args += options;
  return args;
}

// A shell command's exit code, and its output (stdout + stderr) in *out.
int sh(const std::string& cmd, std::string* out = nullptr) {
  const auto r = unroll::testing::shell(cmd);
  if (out) *out = r.out;
  return r.code;
}

// The test cluster must be up; fail with the reason otherwise.
void require_cluster() {
  const char* conf = std::getenv("SLURM_CONF");
  if (!conf)
    FAIL("SLURM_CONF is not set: the [.slurm] tests run through `ctest -R slurm_cluster`, which starts a test cluster");
  std::string out;
  const int rc = sh("sinfo -h -o %t", &out);
  if (rc != 0 || (out.find("idle") == std::string::npos && out.find("mix") == std::string::npos &&
                  out.find("alloc") == std::string::npos))
    FAIL("the Slurm test cluster (" << conf << ") does not answer: sinfo exit " << rc << ": " << out);
}

// Wait until none of `jobs` is pending or running; fails after `seconds`.
void wait_jobs(const std::vector<std::string>& jobs, double seconds) {
  std::string ids;
  for (const auto& j : jobs) ids += (ids.empty() ? "" : ",") + j;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::string out;
  while (std::chrono::steady_clock::now() < end) {
    if (sh("squeue -h -r -j " + ids + " -o %i", &out) == 0 && out.find_first_not_of(" \n") == std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::string q;
  sh("squeue -r -t all -j " + ids, &q);
  FAIL("Slurm jobs " << ids << " still queued after " << seconds << " s:\n" << q);
}

// `unroll sweep ... --slurm`: returns {array job, report job}.
std::pair<std::string, std::string> submit(const std::string& args) {
  std::string out;
  const int rc = sh("'" + kExe + "' sweep " + args + " --slurm", &out);
  INFO(out);
  REQUIRE(rc == 0);
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("submitted array job (\\d+) \\((\\d+) tasks\\) and report job (\\d+)")));
  return {m[1], m[3]};
}

int submitted_tasks(const std::string& args) {
  std::string out;
  REQUIRE(sh("'" + kExe + "' sweep " + args + " --slurm", &out) == 0);
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("(\\d+) to submit")));
  return std::stoi(m[1]);
}

// The table rows of report.md without the timing column (s/epoch), the only numbers allowed to
// differ between two runs of the same sweep.
std::string table_without_timing(const std::string& md) {
  std::istringstream in(md);
  std::string out;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("| ", 0) != 0) continue;
    const size_t last = l.rfind(" |", l.size() - 3);
    out += l.substr(0, last) + "\n";
  }
  return out;
}

std::string csv_without_timing(const std::string& csv) {
  std::istringstream in(csv);
  std::string out;
  for (std::string l; std::getline(in, l);) out += l.substr(0, l.rfind(',')) + "\n";
  return out;
}

// A small blobs classifier; `samples` and `epochs` set how long a run lasts.
std::string base_yaml(int epochs, int samples) {
  return "name: tiny\nseed: 1\n"
         "data: {kind: blobs, classes: 3, samples: " +
         std::to_string(samples) +
         ", test_samples: 30}\n"
         "model:\n  - {kind: dense, units: 16}\n  - {kind: tanh}\n  - {kind: dense, units: 3}\n"
         "loss: {kind: cross_entropy}\noptimizer: {kind: sgd, lr: 0.05, momentum: 0.9}\n"
         "train: {epochs: " +
         std::to_string(epochs) + ", batch: 8}\n";
}

const RunStatus& status_of(const std::vector<RunStatus>& all, const std::string& rel) {
  for (const auto& s : all)
    if (s.run.rel == rel) return s;
  FAIL("no run " << rel);
  throw;
}

}  // namespace

TEST_CASE("a sweep on Slurm gives the same report as the same sweep run locally", "[.slurm]") {
  require_cluster();
  TempDir t;
  write(t.file("base.yaml"), base_yaml(3, 60));
  write(t.file("sweep.yaml"),
        "extends: base.yaml\nseeds: 2\nvary: {optimizer.lr: [0.2]}\n"
        "metric: {name: test_accuracy}\nmetrics: [test_loss, train_loss]\n");

  SweepSpec spec = load_sweep(t.file("sweep.yaml"), {}, unroll::testing::host());
  SweepOptions o;
  o.out_dir = t.file("local");
  o.unroll_binary = kExe;
  o.jobs = 2;
  o.threads_per_run = 1;
  o.progress = false;
  REQUIRE(run_sweep(spec, o).completed == 4);
  const std::string local_md = write_report(o.out_dir, ReportOptions{});

  const std::string args = sweep_args(t.file("sweep.yaml"), t.file("slurm"), "--cpus-per-task 1");
  const auto [array, report] = submit(args);
  CHECK(fs::exists(t.file("slurm/slurm/array.sbatch")));
  CHECK(read_file(t.file("slurm/slurm/array.sbatch")).find("#SBATCH --array=0-3") != std::string::npos);
  CHECK(json_of(t.file("slurm/sweep.json"))["slurm"]["submissions"][0]["array_job"] == array);
  wait_jobs({array, report}, 180);

  REQUIRE(fs::exists(t.file("slurm/report.md")));  // written by the dependent job
  const std::string slurm_md = read_file(t.file("slurm/report.md"));
  CHECK(table_without_timing(slurm_md) == table_without_timing(local_md));
  CHECK(table_without_timing(local_md).find("4") != std::string::npos);
  CHECK(csv_without_timing(read_file(t.file("slurm/report.csv"))) ==
        csv_without_timing(read_file(t.file("local/report.csv"))));
  for (const auto& s : sweep_status(t.file("slurm"), false)) {
    CHECK(s.state == "done");
    const Json rec = json_of(s.run.dir + "/sweep_run.json");
    CHECK(rec["launcher"] == "slurm");
    CHECK(rec["slurm"]["array_job"] == array);
  }
  // Everything is completed: submitting again submits nothing.
  CHECK(submitted_tasks(args) == 0);
}

TEST_CASE("a task cancelled with scancel or killed outright is failed with Slurm's state, and the rerun completes it",
          "[.slurm]") {
  require_cluster();
  TempDir t;
  write(t.file("base.yaml"), base_yaml(400, 100));  // several seconds a run
  write(t.file("sweep.yaml"), "extends: base.yaml\nseeds: 3\nmetric: {name: test_accuracy}\n");
  const std::string args = sweep_args(t.file("sweep.yaml"), t.file("out"), "--max-parallel 1 --cpus-per-task 1");
  const auto [array, report] = submit(args);
  // Until run SEED has trained a few epochs.
  auto wait_training = [&](int seed) {
    const std::string metrics = t.file("out/runs/base/seed" + std::to_string(seed) + "/metrics.csv");
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < end && !(fs::exists(metrics) && read_file(metrics).size() > 200))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(fs::exists(metrics));
  };
  // Task 0: scancel.
  wait_training(1);
  REQUIRE(sh("scancel " + array + "_0") == 0);
  // Task 1: its `unroll sweep-task` SIGKILLed (as the OOM killer or a node failure would), so it
  // never records the end; the run gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and checkpoints.
  wait_training(2);
  const int run_pid = json_of(t.file("out/runs/base/seed2/sweep_run.json"))["pid"];
  std::string stat = read_file("/proc/" + std::to_string(run_pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string state_field;
  int task_pid = 0;
  fields >> state_field >> task_pid;
  REQUIRE(read_file("/proc/" + std::to_string(task_pid) + "/cmdline").find("sweep-task") != std::string::npos);
  REQUIRE(::kill(task_pid, SIGKILL) == 0);
  wait_jobs({array, report}, 180);

  const auto st = sweep_status(t.file("out"), false);
  const RunStatus& cancelled = status_of(st, "base/seed1");
  CHECK(cancelled.state == "failed");
  CHECK(cancelled.detail.find("CANCELLED") != std::string::npos);
  CHECK(cancelled.source == "scontrol");  // the test cluster has no accounting (sacct)
  CHECK(status_of(st, "base/seed3").state == "done");
  const RunStatus& killed = status_of(st, "base/seed2");
  CHECK(killed.state == "failed");
  const Json krec = json_of(t.file("out/runs/base/seed2/sweep_run.json"));
  INFO(krec.dump(2));
  CHECK(krec["status"] == "failed");
  CHECK(krec["error"].get<std::string>().find("without recording") != std::string::npos);
  CHECK(krec["slurm"]["state"].is_string());
  CHECK(krec["slurm"]["job"] == array + "_1");
  const Json rec = json_of(t.file("out/runs/base/seed1/sweep_run.json"));
  CHECK(rec["status"] == "failed");
  CHECK(rec["slurm"]["state"] == "CANCELLED");
  CHECK(rec["slurm"]["job"] == array + "_0");
  CHECK(rec["slurm"].contains("exit_code"));
  const std::string md = read_file(t.file("out/report.md"));
  CHECK(md.find("Slurm CANCELLED") != std::string::npos);

  // Submit again: only the cancelled run, which resumes from the checkpoint it wrote on SIGTERM.
  const auto [array2, report2] = submit(args);
  CHECK(json_of(t.file("out/sweep.json"))["slurm"]["submissions"][1]["runs"].size() == 2);
  wait_jobs({array2, report2}, 180);
  for (const auto& s : sweep_status(t.file("out"), false)) CHECK(s.state == "done");
  const Json again = json_of(t.file("out/runs/base/seed1/sweep_run.json"));
  CHECK(again["status"] == "completed");
  CHECK(again.contains("resumed_from_epoch"));
  REQUIRE(again["previous"].size() >= 1);
  CHECK(again["previous"].back()["slurm"]["state"] == "CANCELLED");
  CHECK(json_of(t.file("out/runs/base/seed1/summary.json"))["epochs"] == 400);
  CHECK(json_of(t.file("out/runs/base/seed2/sweep_run.json")).contains("resumed_from_epoch"));
  CHECK(read_file(t.file("out/report.md")).find("Failed or missing") == std::string::npos);
  // Cancelled, resumed on Slurm, and still the numbers of an uninterrupted run.
  REQUIRE(sh("'" + kExe + "' run '" + t.file("out/variants/base.yaml") + "' --set seed=1 --threads 1 --quiet --out '" +
             t.file("ref") + "'") == 0);
  CHECK(unroll::testing::metrics_without_seconds(t.file("out/runs/base/seed1/metrics.csv")) ==
        unroll::testing::metrics_without_seconds(t.file("ref/metrics.csv")));
}

TEST_CASE("a task at its time limit checkpoints on Slurm's SIGTERM and is resumed by the next submission", "[.slurm]") {
  require_cluster();
  TempDir t;
  // A run far longer than its time limit (it never finishes here): each submission with
  // --time 1 (Slurm's minimum) must continue where the one before stopped.
  const int epochs = 100000;
  write(t.file("base.yaml"), base_yaml(epochs, 100));
  write(t.file("sweep.yaml"), "extends: base.yaml\nseeds: 1\nmetric: {name: test_accuracy}\n");
  // SIGTERM 20 s before the limit: slurmctld checks limits every 30 s, so it comes 10 to 40 s
  // after the start, well before the limit itself.
  const std::string args =
      sweep_args(t.file("sweep.yaml"), t.file("out"), "--cpus-per-task 1 --time 1 --signal B:TERM@20");
  const std::string dir = t.file("out/runs/base/seed1");
  const auto [array, report] = submit(args);
  CHECK(read_file(t.file("out/slurm/array.sbatch")).find("#SBATCH --signal=B:TERM@20") != std::string::npos);
  CHECK(read_file(t.file("out/slurm/array.sbatch")).find("#SBATCH --time=1") != std::string::npos);
  wait_jobs({array, report}, 240);

  const Json rec = json_of(dir + "/sweep_run.json");
  INFO(rec.dump(2));
  CHECK(rec["status"] == "failed");
  CHECK(rec["error"].get<std::string>().find("stopped by SIGTERM") != std::string::npos);
  CHECK(rec["error"].get<std::string>().find("time left") != std::string::npos);
  CHECK(rec["slurm"]["state"].is_string());
  CHECK(rec["slurm"]["job"] == array + "_0");
  REQUIRE(rec.contains("checkpoint_epoch"));
  const int first = rec["checkpoint_epoch"];
  CHECK(first > 0);
  CHECK(json_of(dir + "/summary.json")["status"] == "interrupted");
  CHECK(status_of(sweep_status(t.file("out"), false), "base/seed1").detail.find("resumes from its checkpoint") !=
        std::string::npos);
  CHECK(read_file(t.file("out/report.md")).find("stopped by SIGTERM") != std::string::npos);

  // Submitted again: it continues from the saved epoch, not from zero, and stops again further on.
  const auto [array2, report2] = submit(args);
  wait_jobs({array2, report2}, 240);
  const Json again = json_of(dir + "/sweep_run.json");
  INFO(again.dump(2));
  CHECK(again["resumed_from_epoch"] == first);
  CHECK(again["attempt"] == 2);
  REQUIRE(again.contains("checkpoint_epoch"));
  const int second = again["checkpoint_epoch"];
  CHECK(second > first);
  CHECK(read_file(dir + "/log.txt").find("resuming from") != std::string::npos);
  // metrics.csv goes on where it stopped: one row per epoch, 1..second, no restart.
  const auto rows = unroll::testing::read_csv(dir + "/metrics.csv");
  REQUIRE(rows.size() == static_cast<size_t>(second) + 1);
  CHECK(rows[first + 1][0] == std::to_string(first + 1));
  CHECK(rows.back()[0] == std::to_string(second));
}

// Without a cluster: the script a submission would use, and one task run by hand.
TEST_CASE("srun inside an allocation trains data-parallel with mpirun's numbers", "[.slurm]") {
  require_cluster();
#ifndef UNROLL_HAVE_MPI
  FAIL("this unroll was built without MPI (UNROLL_MPI=OFF or Open MPI/Boost.MPI missing): srun cannot start ranks");
#endif
  TempDir t;
  write(t.file("mlp.yaml"), base_yaml(2, 90));
  // sbatch allocates two tasks; srun inside the job starts the ranks through PMIx, as on a
  // cluster (Open MPI from Debian is built with PMIx, Slurm's mpi/pmix plugin talks to it).
  std::string out;
  const int rc = sh(testing::ranks_without_leak_check() + "sbatch --wait -n 2 -c 1 -o '" + t.file("job.out") +
                        "' --wrap \"srun --mpi=pmix '" + kExe + "' run '" + t.file("mlp.yaml") + "' --out '" +
                        t.file("srun") + "'\"",
                    &out);
  INFO(out << "\njob output:\n" << (fs::exists(t.file("job.out")) ? read_file(t.file("job.out")) : "(none)"));
  REQUIRE(rc == 0);
  CHECK(read_file(t.file("srun/log.txt")).find("ranks: 2 (data-parallel") != std::string::npos);
  REQUIRE(sh(testing::ranks_without_leak_check() + "mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 '" +
                 kExe + "' run '" + t.file("mlp.yaml") + "' --out '" + t.file("mpirun") + "'",
             &out) == 0);
  CHECK(csv_without_timing(read_file(t.file("srun/metrics.csv"))) ==
        csv_without_timing(read_file(t.file("mpirun/metrics.csv"))));
}

TEST_CASE("sweep --slurm --dry-run writes one array task per run not completed, and sweep-task runs one", "[sweep]") {
  TempDir t;
  write(t.file("base.yaml"), base_yaml(2, 30));
  write(t.file("sweep.yaml"), "extends: base.yaml\nseeds: 2\nvary: {optimizer.lr: [0.2]}\n");
  const std::string out = t.file("out");
  const std::string cmd = "'" + kExe + "' sweep '" + t.file("sweep.yaml") + "' --out '" + out +
                          "' --slurm --dry-run --time 5 --partition short --max-parallel 2 --cpus-per-task 2"
                          " --sbatch-arg=--account=lab";
  std::string text;
  REQUIRE(sh(cmd, &text) == 0);
  CHECK(text.find("4 to submit") != std::string::npos);
  CHECK(text.find("sbatch --parsable") != std::string::npos);
  std::string script = read_file(out + "/slurm/array.sbatch");
  CHECK(script.find("#SBATCH --array=0-3%2\n") != std::string::npos);
  CHECK(script.find("#SBATCH --time=5\n") != std::string::npos);
  CHECK(script.find("#SBATCH --partition=short\n") != std::string::npos);
  CHECK(script.find("#SBATCH --cpus-per-task=2\n") != std::string::npos);
  CHECK(script.find("#SBATCH --signal=B:TERM@60\n") != std::string::npos);
  CHECK(script.find("#SBATCH --account=lab\n") != std::string::npos);
  CHECK(script.find("'optimizer.lr=0.2/seed2'") != std::string::npos);
  CHECK(script.find("sweep-task") != std::string::npos);
  CHECK(read_file(out + "/slurm/report.sbatch").find("--status") != std::string::npos);
  CHECK_FALSE(json_of(out + "/sweep.json").contains("slurm"));  // nothing was submitted

  // One task by hand (no Slurm environment): it runs base/seed2 into the sweep's layout.
  REQUIRE(sh("'" + kExe + "' sweep-task '" + out + "' base/seed2 --threads 1") == 0);
  const Json rec = json_of(out + "/runs/base/seed2/sweep_run.json");
  CHECK(rec["status"] == "completed");
  CHECK(rec["launcher"] == "slurm");
  CHECK(sh("'" + kExe + "' sweep-task '" + out + "' nosuch/seed1") == 1);

  // The completed run is left out of the next script; --status says where each state came from.
  REQUIRE(sh(cmd, &text) == 0);
  CHECK(text.find("1 completed") != std::string::npos);
  script = read_file(out + "/slurm/array.sbatch");
  CHECK(script.find("#SBATCH --array=0-2%2\n") != std::string::npos);
  CHECK(script.find("'base/seed2'") == std::string::npos);
  const auto st = sweep_status(out, false);
  CHECK(status_of(st, "base/seed2").state == "done");
  CHECK(status_of(st, "base/seed1").state == "pending");
  CHECK(status_of(st, "base/seed1").detail == "not submitted");
  REQUIRE(sh("'" + kExe + "' sweep '" + out + "' --status", &text) == 0);
  CHECK(text.find("4 runs: 1 done, 0 running, 3 pending, 0 failed") != std::string::npos);

  // Without a controller to ask, a submitted run that has not started is "unknown", not failed,
  // and nothing is written into its folder.
  Json man = json_of(out + "/sweep.json");
  man["slurm"]["submissions"].push_back({{"array_job", "999999"}, {"runs", {"base/seed1"}}});
  write(out + "/sweep.json", man.dump(2));
  // A stand-in sinfo that fails as one does when the controller is down (a real one takes its
  // MessageTimeout to say so).
  write(t.file("bin/sinfo"), "#!/bin/sh\necho 'sinfo: error: Unable to contact slurm controller' >&2\nexit 1\n");
  fs::permissions(t.file("bin/sinfo"), fs::perms::owner_all);
  REQUIRE(sh("PATH='" + t.file("bin") + "':$PATH '" + kExe + "' sweep '" + out + "' --status", &text) == 0);
  CHECK(text.find("1 unknown (Slurm does not answer)") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/runs/base/seed1/sweep_run.json"));

  // Slurm options without --slurm are a usage error.
  CHECK(sh("'" + kExe + "' sweep '" + t.file("sweep.yaml") + "' --time 5") == 2);
}
