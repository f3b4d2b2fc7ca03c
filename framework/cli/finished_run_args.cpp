#include "finished_run_args.hpp"

#include <filesystem>

#include "unroll/host/plugin_host.hpp"
#include "unroll/host/trainer.hpp"

namespace po = boost::program_options;

namespace unroll::cli {

void add_finished_run_options(po::options_description& opts) {
  opts.add_options()("checkpoint", po::value<std::string>(),
                     "best or last (default: best when the run has best/, else last)")(
      "threads,t", po::value<int>()->default_value(1), "threads for matrix products")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "run", po::value<std::string>(), "run folder");
}

std::string chosen_checkpoint(const po::variables_map& vm, const std::string& run_dir) {
  if (vm.count("checkpoint")) return vm["checkpoint"].as<std::string>();
  return std::filesystem::exists(run_dir + "/best/manifest.json") ? "best" : "last";
}

FinishedRun open_run_from_args(const po::variables_map& vm, const std::string& which,
                               const std::vector<std::string>& sets, PluginHost& host) {
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  configure_threads(vm["threads"].as<int>());
  return open_finished_run(vm["run"].as<std::string>(), which, sets, host);
}

}  // namespace unroll::cli
