#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "provenance.hpp"
#include "unroll/error.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/continuation.hpp"
#include "unroll/host/distributed.hpp"
#include "unroll/files.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_failure.hpp"
#include "unroll/host/run_folder.hpp"
#include "unroll/host/run_supervisor.hpp"
#include "unroll/host/trainer.hpp"
#include "unroll/parallel.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

namespace {
// runs/NAME-YYYYmmdd-HHMMSS, with -2, -3 ... if that exists already.
std::string default_run_dir(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string base = "runs/" + name + "-" + stamp, dir = base;
  for (int i = 2; fs::exists(dir); ++i) dir = base + "-" + std::to_string(i);
  return dir;
}
// summary.json's stop_reason ("" when there is none).
std::string summary_stop_reason(const std::string& dir) {
  try {
    return nlohmann::json::parse(read_file(dir + "/summary.json")).value("stop_reason", std::string());
  } catch (const std::exception&) {
    return "";
  }
}
}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("unroll run FILE [options]");
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a value: --set optimizer.lr=0.05, --set model[2]=null (repeatable)")(
      "out,o", po::value<std::string>(), "run folder (default: runs/NAME-TIMESTAMP)")(
      "threads,t", po::value<int>()->default_value(0),
      "threads for matrix products (0: train.threads, else all cores)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "quiet,q", "no per-epoch output")("dry-run",
                                        "validate, build the data and model, print the model summary; train nothing")(
      "force", "replace an existing run in --out (its outputs are removed first)")(
      "in-process",
      "train in this process instead of a supervised child (exit() in a plugin and SIGKILL go unrecorded)")(
      "check",
      "validate only: compose, validate every block, load the dataset's shape, estimate memory; write "
      "nothing (exit 0: valid, 1: not)")(
      "resume", po::value<std::string>(),
      "continue the run in RUN_DIR from its checkpoint (uses RUN_DIR/config.yaml; no FILE). With --set, continue "
      "it with some settings changed, e.g. a completed run for more epochs: --set train.epochs=30")(
      "file", po::value<std::string>(), "experiment YAML file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  const bool resume = vm.count("resume") > 0;
  if (resume && (vm.count("file") || vm.count("out")))
    throw UsageError(
        "--resume RUN_DIR takes no FILE or --out: the run continues in RUN_DIR with RUN_DIR/config.yaml "
        "(--set may change " +
        continuation_allowed_keys() + ")");
  if (!resume && !vm.count("file")) throw UsageError("missing the experiment file: unroll run FILE");
  if (resume && vm.count("check")) throw UsageError("--check validates an experiment FILE; it does not take --resume");
  if (const int t = vm["threads"].as<int>(); t < 0 || t > kMaxThreads)
    throw UsageError("--threads " + std::to_string(t) + ": expected 0 (all cores) to " + std::to_string(kMaxThreads));

  if (resume && vm.count("force")) throw UsageError("--force replaces a run; --resume continues one: use one of them");

  // Under mpirun/srun: join the other ranks (a data-parallel run, docs/scaling.md). Only rank 0
  // touches the run folder; MPI does not survive a fork, so ranks train without a supervisor.
  start_distributed();
  Communicator& comm = communicator();
  const bool writer = comm.rank() == 0;

  // Everything is validated before anything is written: plugins, the experiment, the folder.
  PluginHost host;
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  Experiment exp;
  RunOptions ro;
  std::unique_ptr<RunFolderLock> lock;
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  nlohmann::json continuation;  // a continuation's record (continuation.hpp); null for a plain resume
  if (resume) {
    ro.out_dir = vm["resume"].as<std::string>();
    ro.resume = true;
    if (!fs::exists(ro.out_dir + "/config.yaml")) throw Error(ro.out_dir + ": not a run folder (no config.yaml)");
    if (writer) {
      lock = std::make_unique<RunFolderLock>(ro.out_dir);
      if (const std::string fixed = clean_interrupted_writes(ro.out_dir); !fixed.empty())
        std::fprintf(stderr, "note: %s\n", fixed.c_str());
    }
    comm.barrier();  // the other ranks read the checkpoint rank 0 may just have recovered
    const std::string status = summary_status(ro.out_dir);
    // Relative paths in the config (plugins, data files, pretrained runs) are resolved against
    // the folder of the original experiment file, which the checkpoint (and the summary written
    // when the run started) records.
    std::string base_dir;
    int done = 0;  // epochs the checkpoint holds
    const std::string ckpt = ro.out_dir + "/checkpoint";
    if (fs::exists(ckpt + "/manifest.json")) {
      const Snapshot s = read_checkpoint(ckpt);
      base_dir = s.base_dir;
      done = s.progress.epoch;
    } else {
      // Stopped before its first checkpoint: the run starts over in the same folder.
      ro.resume = false;
      base_dir = recorded_base_dir(ro.out_dir);
    }
    exp.file = ro.out_dir + "/config.yaml";
    exp.base_dir = base_dir.empty() ? fs::absolute(ro.out_dir).string() : base_dir;
    const Node root = load_yaml_file(exp.file);
    const Node before = resolve_experiment(root, host, exp.base_dir);
    exp.config = before;
    if (!sets.empty()) {
      Node edited = root;
      for (const auto& s : sets) apply_set(edited, s);
      exp.config = resolve_experiment(edited, host, exp.base_dir);
    }
    // A continuation: only settings that leave the checkpoint meaningful may change.
    const std::vector<ConfigChange> changes = config_changes(before, exp.config);
    check_continuation(changes, sets);
    if (!continuation_needed(ro.out_dir, status, summary_stop_reason(ro.out_dir), done, exp.config, changes,
                             !sets.empty())) {
      if (writer)
        std::printf(
            "%s: the run has completed (%d epochs); nothing to resume. To train it further: unroll run "
            "--resume %s --set train.epochs=%d\n",
            ro.out_dir.c_str(), done, ro.out_dir.c_str(), done + 10);
      return kExitCompleted;
    }
    // Before anything in the folder changes; the data keeps the run's token vocabulary.
    Preflight pf = preflight_experiment(exp, host, ro.out_dir);
    ro.data = pf.data;
    ro.model = pf.model;  // built and checked once: the run initializes and trains it
    if (!changes.empty()) {
      ro.continuation = continuation_line(done, status, changes);
      continuation = continuation_record(done, status, changes);
    }
    comm.barrier();  // every rank has read the summary before rank 0 marks the run as running
    if (writer) {
      if (!changes.empty())
        write_file_atomic(exp.file, continued_config_text(read_file(exp.file), ro.continuation, exp.config));
      write_running_summary(ro.out_dir, exp.config.at("name").text(), exp.base_dir, continuation);
    }
  } else {
    exp = load_experiment(vm["file"].as<std::string>(), sets, host);
    if (vm.count("check")) {
      std::fputs(check_experiment(exp, host).c_str(), stdout);
      return 0;
    }
    if (vm.count("dry-run")) return dry_run(exp, host);  // before the run folder is made
    ro.out_dir = vm.count("out") ? vm["out"].as<std::string>() : default_run_dir(exp.config.at("name").text());
    comm.broadcast(ro.out_dir);  // rank 0's timestamped folder: the ranks' clocks may differ
    // An earlier run in --out is refused (naming it) before the data is read.
    if (writer && !vm.count("force") && !existing_run_outputs(ro.out_dir).empty())
      prepare_run_folder(ro.out_dir, false);
    // Validation, the data and the memory estimate, before the run folder is made or touched: a
    // run refused here leaves no trace (and an existing folder as it was).
    Preflight pf = preflight_experiment(exp, host);
    ro.data = pf.data;
    ro.model = pf.model;  // built and checked once: the run initializes and trains it
    if (writer) {
      prepare_run_folder(ro.out_dir, vm.count("force") > 0);
      lock = std::make_unique<RunFolderLock>(ro.out_dir);
      if (vm.count("force")) clear_run_outputs(ro.out_dir);
      // From here on the folder says what happened to the run, whatever happens to the process.
      write_running_summary(ro.out_dir, exp.config.at("name").text(), exp.base_dir);
      write_file_atomic(ro.out_dir + "/config.yaml", to_yaml(exp.config));
    }
  }
  ro.threads = vm["threads"].as<int>();
  ro.quiet = vm.count("quiet") > 0;
  auto train = [&]() -> int {
    install_interrupt_handlers();
    RunResult r = run_experiment(exp, host, ro);
    if (r.status == "interrupted") {
      if (writer) std::fprintf(stderr, "interrupted: resume with `unroll run --resume %s`\n", r.dir.c_str());
      return kExitInterrupted;
    }
    if (!ro.quiet && writer)
      std::printf("done: %d epochs (stop: %s); results in %s\n", r.epochs, r.stop_reason.c_str(), r.dir.c_str());
    return kExitCompleted;
  };
  // provenance.json (provenance.hpp): written by the process that owns the run folder, before
  // training starts and again with the outcome.
  std::unique_ptr<Provenance> provenance;
  if (writer)
    provenance = std::make_unique<Provenance>(ro.out_dir, exp, host, [&] {
      auto c = args;
      c.insert(c.begin(), "run");
      return c;
    }());
  if (provenance && !continuation.is_null()) provenance->record("continued", continuation);
  const std::string name = exp.config.at("name").text();
  int code = kExitCompleted;
  try {
    // Rank 0 still records a fatal signal, in-process (the handler needs no fork).
    if (comm.size() > 1)
      code = writer ? supervise_run(ro.out_dir, name, train, false) : train();
    else
      code = supervise_run(ro.out_dir, name, train, vm.count("in-process") == 0);
  } catch (...) {
    if (provenance) provenance->finish("failed");
    throw;
  }
  if (provenance)
    provenance->finish(code == kExitCompleted     ? "completed"
                       : code == kExitInterrupted ? "interrupted"
                       : code == kExitDiverged    ? "diverged"
                       : code == kExitCrashed     ? "crashed"
                                                  : "failed");
  // Curves (and grad_lags heatmaps) when matplotlib is there; a note, not a failure, when not.
  if (std::string why;
      writer && !ro.quiet && code == kExitCompleted && !plot_runs({ro.out_dir}, ro.out_dir + "/plots", why))
    std::printf("note: no plots (%s)\n", why.substr(0, 200).c_str());
  return code;
}

}  // namespace unroll::cli
