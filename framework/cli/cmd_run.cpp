#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/files.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/plugin_host.hpp"
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
}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("unroll run FILE [options]");
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a value: --set optimizer.lr=0.05, --set model[2]=null (repeatable)")(
      "out,o", po::value<std::string>(), "run folder (default: runs/NAME-TIMESTAMP)")(
      "threads,t", po::value<int>()->default_value(0), "threads for matrix products (0: train.threads, else all cores)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "quiet,q", "no per-epoch output")(
      "check", "validate only: compose, validate every block, load the dataset's shape, estimate memory; write "
               "nothing (exit 0: valid, 1: not)")(
      "resume", po::value<std::string>(),
      "continue the run in RUN_DIR from its checkpoint (uses RUN_DIR/config.yaml; no FILE)")("file", po::value<std::string>(), "experiment YAML file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  const bool resume = vm.count("resume") > 0;
  if (resume && (vm.count("file") || vm.count("set") || vm.count("out")))
    throw UsageError("--resume RUN_DIR takes no FILE, --set or --out: the run continues with RUN_DIR/config.yaml");
  if (!resume && !vm.count("file")) throw UsageError("missing the experiment file: unroll run FILE");
  if (resume && vm.count("check")) throw UsageError("--check validates an experiment FILE; it does not take --resume");
  if (const int t = vm["threads"].as<int>(); t < 0 || t > kMaxThreads)
    throw UsageError("--threads " + std::to_string(t) + ": expected 0 (all cores) to " + std::to_string(kMaxThreads));

  PluginHost host;
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  Experiment exp;
  RunOptions ro;
  if (resume) {
    ro.out_dir = vm["resume"].as<std::string>();
    ro.resume = true;
    const std::string ckpt = ro.out_dir + "/checkpoint";
    recover_checkpoint(ckpt);  // a save killed between its two renames left complete copies
    if (!fs::exists(ro.out_dir + "/config.yaml") || !fs::exists(ckpt + "/manifest.json"))
      throw Error(ro.out_dir + ": not a run folder with a checkpoint (needs config.yaml and checkpoint/manifest.json)");
    if (fs::exists(ro.out_dir + "/summary.json") &&
        read_file(ro.out_dir + "/summary.json").find("\"status\": \"completed\"") != std::string::npos) {
      std::printf("%s: the run has completed; nothing to resume\n", ro.out_dir.c_str());
      return 0;
    }
    // Relative paths in the config (plugins, data files, pretrained runs) are resolved against
    // the folder of the original experiment file, which the checkpoint records.
    const Snapshot s = read_checkpoint(ckpt);
    exp.file = ro.out_dir + "/config.yaml";
    exp.base_dir = s.base_dir.empty() ? fs::absolute(ro.out_dir).string() : s.base_dir;
    exp.config = resolve_experiment(load_yaml_file(exp.file), host, exp.base_dir);
  } else {
    const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
    exp = load_experiment(vm["file"].as<std::string>(), sets, host);
    if (vm.count("check")) {
      std::fputs(check_experiment(exp, host).c_str(), stdout);
      return 0;
    }
    ro.out_dir = vm.count("out") ? vm["out"].as<std::string>() : default_run_dir(exp.config.at("name").text());
  }
  ro.threads = vm["threads"].as<int>();
  ro.quiet = vm.count("quiet") > 0;
  install_interrupt_handlers();
  RunResult r = run_experiment(exp, host, ro);
  if (r.status == "interrupted") {
    std::fprintf(stderr, "interrupted: resume with `unroll run --resume %s`\n", r.dir.c_str());
    return 130;
  }
  if (!ro.quiet) std::printf("done: %d epochs (stop: %s); results in %s\n", r.epochs, r.stop_reason.c_str(), r.dir.c_str());
  return 0;
}

}  // namespace unroll::cli
