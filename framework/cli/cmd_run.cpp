#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/trainer.hpp"

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
      "quiet,q", "no per-epoch output")("file", po::value<std::string>(), "experiment YAML file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("file")) throw UsageError("missing the experiment file: unroll run FILE");

  PluginHost host;
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  Experiment exp = load_experiment(vm["file"].as<std::string>(), sets, host);

  RunOptions ro;
  ro.out_dir = vm.count("out") ? vm["out"].as<std::string>() : default_run_dir(exp.config.at("name").text());
  ro.threads = vm["threads"].as<int>();
  ro.quiet = vm.count("quiet") > 0;
  RunResult r = run_experiment(exp, host, ro);
  if (!ro.quiet) std::printf("done: %d epochs (stop: %s); results in %s\n", r.epochs, r.stop_reason.c_str(), r.dir.c_str());
  return 0;
}

}  // namespace unroll::cli
