#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/report.hpp"
#include "unroll/host/sweep.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description opts("unroll sweep FILE [options]");
  opts.add_options()("help,h", "show this help")(
      "jobs,j", po::value<int>()->default_value(0), "runs in parallel (0: the file's `jobs`, else the number of cores)")(
      "threads-per-run", po::value<int>()->default_value(0),
      "threads per run (0: the file's `threads_per_run`, else cores / jobs, at least 1)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a value of the sweep or its base: --set train.epochs=2, --set seeds=3 (repeatable)")(
      "out,o", po::value<std::string>(), "sweep folder (default: sweeps/FILE-STEM; re-running resumes it)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "check", "resolve and validate every variant, list them, and stop")(
      "no-report", "do not write the report at the end")("file", po::value<std::string>(), "sweep YAML file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("file")) throw UsageError("missing the sweep file: unroll sweep FILE");
  if (vm["jobs"].as<int>() < 0 || vm["threads-per-run"].as<int>() < 0)
    throw UsageError("-j and --threads-per-run must be >= 0");
  const std::string file = vm["file"].as<std::string>();
  const auto plugin_dirs =
      vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>() : std::vector<std::string>{};

  PluginHost host;
  host.load_default(plugin_dirs);
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  SweepSpec spec = load_sweep(file, sets, host);
  for (const auto& n : spec.notes) std::fprintf(stderr, "sweep: note: %s\n", n.c_str());
  if (vm.count("check")) {
    std::printf("%zu variant(s) x %zu seed(s), all valid:\n", spec.variants.size(), spec.seeds.size());
    for (const auto& v : spec.variants) std::printf("  %s\n", v.name.c_str());
    return 0;
  }

  SweepOptions so;
  so.out_dir = vm.count("out") ? vm["out"].as<std::string>() : "sweeps/" + fs::path(file).stem().string();
  so.unroll_binary = boost::dll::program_location().string();
  for (const auto& d : plugin_dirs) so.plugin_dirs.push_back(fs::absolute(d).string());
  so.jobs = vm["jobs"].as<int>();
  so.threads_per_run = vm["threads-per-run"].as<int>();
  SweepResult r = run_sweep(spec, so);
  if (!vm.count("no-report")) {
    write_report(so.out_dir, report_options());
    std::printf("report: %s/report.md\n", so.out_dir.c_str());
  }
  return r.failed ? 1 : 0;
}

}  // namespace unroll::cli
