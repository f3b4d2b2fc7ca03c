#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/report.hpp"
#include "unroll/host/slurm.hpp"
#include "unroll/host/sweep.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

namespace {

// `unroll sweep FILE|DIR --status`: one line per run, grouped counts first.
int print_status(const std::string& dir) {
  const auto states = sweep_status(dir, true);
  std::map<std::string, int> count;
  size_t width = 3;
  for (const auto& s : states) {
    ++count[s.state];
    width = std::max(width, s.run.rel.size());
  }
  std::printf("%s: %zu runs: %d done, %d running, %d pending, %d failed", dir.c_str(), states.size(), count["done"],
              count["running"], count["pending"], count["failed"]);
  if (count["diverged"]) std::printf(", %d diverged", count["diverged"]);
  if (count["unknown"]) std::printf(", %d unknown (Slurm does not answer)", count["unknown"]);
  std::printf("\n");
  std::printf("  %-*s  %-8s %-11s %s\n", static_cast<int>(width), "run", "state", "source", "detail");
  for (const auto& s : states)
    std::printf("  %-*s  %-8s %-11s %s\n", static_cast<int>(width), s.run.rel.c_str(), s.state.c_str(),
                s.source.c_str(), s.detail.substr(0, 400).c_str());
  return 0;
}

// Refuse to run locally what Slurm is still running: both would write the same run folders.
void refuse_if_queued_in_slurm(const std::string& dir) {
  if (!fs::exists(fs::path(dir) / "sweep.json")) return;
  int queued = 0;
  std::string job;
  for (const auto& s : sweep_status(dir, false))
    if (s.in_slurm_queue) {
      ++queued;
      job = s.job.substr(0, s.job.find('_'));
    }
  if (queued)
    throw Error(std::to_string(queued) + " run(s) of " + dir + " are still pending or running in Slurm (job " + job +
                "); wait for them (`unroll sweep " + dir + " --status`) or `scancel " + job + "` first");
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description opts("unroll sweep FILE [options]  |  unroll sweep FILE|SWEEP_DIR --status");
  opts.add_options()("help,h", "show this help")("jobs,j", po::value<int>()->default_value(0),
                                                 "runs in parallel (0: the file's `jobs`, else the number of cores)")(
      "threads-per-run", po::value<int>()->default_value(0),
      "threads per run (0: the file's `threads_per_run`, else cores / jobs, at least 1)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a value of the sweep or its base: --set train.epochs=2, --set seeds=3 (repeatable)")(
      "out,o", po::value<std::string>(), "sweep folder (default: sweeps/FILE-STEM; re-running resumes it)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "check", "resolve and validate every variant, list them, and stop")("no-report",
                                                                          "do not write the report at the end")(
      "retry-diverged",
      "run (or submit) again the runs that diverged; without it a diverged run is kept as a result, since the same "
      "config and seed diverge again")(
      "status",
      "show each run's state (done / running / pending / failed / diverged) and where it came from, and stop")(
      "slurm", "submit the runs that are not completed as a Slurm job array, and return")(
      "partition", po::value<std::string>(), "--slurm: the partition (default: the cluster's default)")(
      "time", po::value<std::string>(), "--slurm: time limit per run, Slurm syntax: 30, 4:00:00, 2-00:00:00")(
      "cpus-per-task", po::value<int>()->default_value(1), "--slurm: cores per run (also its --threads)")(
      "mem", po::value<std::string>(), "--slurm: memory per run, e.g. 4G")(
      "max-parallel", po::value<int>()->default_value(0), "--slurm: runs at a time (the array's %K; 0: no limit)")(
      "signal", po::value<std::string>()->default_value("B:TERM@60"),
      "--slurm: sbatch --signal; SIGTERM 60 s before the time limit lets a run checkpoint (none: off)")(
      "sbatch-arg", po::value<std::vector<std::string>>()->composing(),
      "--slurm: one more sbatch option, e.g. --sbatch-arg=--account=lab (repeatable)")(
      "dry-run", "--slurm: write slurm/array.sbatch, print the sbatch commands, submit nothing")(
      "file", po::value<std::string>(), "sweep YAML file (or, with --status, a sweep folder)");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("file")) throw UsageError("missing the sweep file: unroll sweep FILE");
  if (vm["jobs"].as<int>() < 0 || vm["threads-per-run"].as<int>() < 0)
    throw UsageError("-j and --threads-per-run must be >= 0");
  const bool slurm = vm.count("slurm") > 0;
  for (const char* o : {"partition", "time", "mem", "sbatch-arg", "dry-run"})
    if (vm.count(o) && !slurm) throw UsageError(std::string("--") + o + " needs --slurm");
  if (!slurm && (!vm["cpus-per-task"].defaulted() || !vm["max-parallel"].defaulted() || !vm["signal"].defaulted()))
    throw UsageError("--cpus-per-task, --max-parallel and --signal need --slurm");
  if (slurm && (vm.count("status") || vm.count("check")))
    throw UsageError("--slurm submits; use --status or --check without it");
  if (vm["cpus-per-task"].as<int>() < 1 || vm["max-parallel"].as<int>() < 0)
    throw UsageError("--cpus-per-task must be >= 1 and --max-parallel >= 0");
  const std::string file = vm["file"].as<std::string>();
  const std::string out_dir =
      vm.count("out") ? vm["out"].as<std::string>() : "sweeps/" + fs::path(file).stem().string();

  // --status on a sweep folder needs no sweep file and no plugins.
  if (vm.count("status")) return print_status(fs::is_directory(file) ? file : out_dir);
  if (fs::is_directory(file))
    throw UsageError(file + " is a folder: give the sweep file, or add --status to see a sweep folder's state");

  const auto plugin_dirs =
      vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>() : std::vector<std::string>{};
  PluginHost host;
  host.load_default(plugin_dirs);
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  SweepSpec spec = load_sweep(file, sets, host);  // every variant is validated before anything runs
  for (const auto& n : spec.notes) std::fprintf(stderr, "sweep: note: %s\n", n.c_str());
  preflight_sweep(spec, host);  // and built as far as a run would before training
  if (vm.count("check")) {
    std::printf("%zu variant(s) x %zu seed(s), all valid (each built as far as a run would before training):\n",
                spec.variants.size(), spec.seeds.size());
    for (const auto& v : spec.variants) std::printf("  %s\n", v.name.c_str());
    return 0;
  }
  std::vector<std::string> abs_plugin_dirs;
  for (const auto& d : plugin_dirs) abs_plugin_dirs.push_back(fs::absolute(d).string());

  if (slurm) {
    SlurmOptions so;
    so.partition = vm.count("partition") ? vm["partition"].as<std::string>() : "";
    so.time = vm.count("time") ? vm["time"].as<std::string>() : "";
    so.mem = vm.count("mem") ? vm["mem"].as<std::string>() : "";
    so.cpus_per_task = vm["cpus-per-task"].as<int>();
    so.max_parallel = vm["max-parallel"].as<int>();
    so.signal = vm["signal"].as<std::string>() == "none" ? "" : vm["signal"].as<std::string>();
    if (vm.count("sbatch-arg")) so.sbatch_args = vm["sbatch-arg"].as<std::vector<std::string>>();
    so.dry_run = vm.count("dry-run") > 0;
    so.unroll_binary = boost::dll::program_location().string();
    so.plugin_dirs = abs_plugin_dirs;
    so.retry_diverged = vm.count("retry-diverged") > 0;
    const SlurmSubmission sub = submit_sweep_to_slurm(spec, out_dir, so);
    std::printf("sweep %s: %d runs: %d completed, %d still queued in Slurm, %d to submit\n", spec.name.c_str(),
                sub.total, sub.completed, sub.active, sub.submitted);
    if (sub.diverged)
      std::printf("%d diverged run(s) kept as results, not submitted (--retry-diverged submits them)\n", sub.diverged);
    if (sub.submitted == 0) {
      std::printf("nothing to submit\n");
      return 0;
    }
    if (so.dry_run) {
      std::printf("dry run: wrote %s; to submit:\n", sub.script.c_str());
      for (const auto& c : sub.commands) std::printf("  %s\n", c.c_str());
      return 0;
    }
    std::printf("submitted array job %s (%d tasks) and report job %s (runs when the array ends)\n",
                sub.array_job.c_str(), sub.submitted, sub.report_job.c_str());
    std::printf("state: unroll sweep %s --status\n", out_dir.c_str());
    return 0;
  }

  refuse_if_queued_in_slurm(out_dir);
  SweepOptions so;
  so.out_dir = out_dir;
  so.unroll_binary = boost::dll::program_location().string();
  so.plugin_dirs = abs_plugin_dirs;
  so.jobs = vm["jobs"].as<int>();
  so.threads_per_run = vm["threads-per-run"].as<int>();
  so.handle_signals = true;
  so.retry_diverged = vm.count("retry-diverged") > 0;
  SweepResult r = run_sweep(spec, so);
  if (r.interrupted) {
    std::fprintf(stderr, "sweep stopped: run the same command again to resume it\n");
    return 130;
  }
  if (!vm.count("no-report")) {
    write_report(so.out_dir, report_options());
    std::printf("report: %s/report.md\n", so.out_dir.c_str());
  }
  return r.failed || r.diverged ? 1 : 0;  // every run completed, or not
}

int cmd_sweep_task(const std::vector<std::string>& args) {
  po::options_description opts("unroll sweep-task SWEEP_DIR RUN [options] (one task of `unroll sweep --slurm`)");
  opts.add_options()("help,h", "show this help")("threads", po::value<int>()->default_value(1), "threads of the run")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "dir", po::value<std::string>(), "sweep folder")("run", po::value<std::string>(), "VARIANT_DIR/seedS");
  po::positional_options_description pos;
  pos.add("dir", 1).add("run", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("dir") || !vm.count("run")) throw UsageError("usage: unroll sweep-task SWEEP_DIR VARIANT_DIR/seedS");
  RunCommand cmd;
  cmd.unroll_binary = boost::dll::program_location().string();
  cmd.threads = std::max(1, vm["threads"].as<int>());
  if (vm.count("plugin-dir")) cmd.plugin_dirs = vm["plugin-dir"].as<std::vector<std::string>>();
  return run_slurm_task(vm["dir"].as<std::string>(), vm["run"].as<std::string>(), cmd);
}

}  // namespace unroll::cli
