#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "unroll/host/report.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

ReportOptions report_options() {
  ReportOptions o;
  // The plot helper: $UNROLL_PLOT_SCRIPT, else beside an installed host (share/unroll), else the
  // source tree this binary was built from.
  const fs::path exe_dir = boost::dll::program_location().parent_path().string();
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("UNROLL_PLOT_SCRIPT")) candidates.emplace_back(env);
  candidates.push_back(exe_dir / ".." / "share" / "unroll" / "plot_sweep.py");
#ifdef UNROLL_SOURCE_DIR
  candidates.push_back(fs::path(UNROLL_SOURCE_DIR) / "tools" / "plot_sweep.py");
#endif
  for (const auto& c : candidates)
    if (fs::exists(c)) {
      o.plot_script = c.string();
      break;
    }
  if (o.plot_script.empty()) o.plot_script = candidates.back().string();  // the warning names it
  return o;
}

int cmd_report(const std::vector<std::string>& args) {
  po::options_description opts("unroll report SWEEP_DIR [options]");
  opts.add_options()("help,h", "show this help")("no-plots", "write report.md and report.csv only")(
      "print", "also print report.md to stdout")("dir", po::value<std::string>(), "sweep folder");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("dir")) throw UsageError("missing the sweep folder: unroll report SWEEP_DIR");
  ReportOptions ro = report_options();
  if (vm.count("no-plots")) ro.plot_script.clear();
  const std::string dir = vm["dir"].as<std::string>();
  const std::string text = write_report(dir, ro);
  if (vm.count("print")) std::fputs(text.c_str(), stdout);
  std::printf("report: %s/report.md, %s/report.csv\n", dir.c_str(), dir.c_str());
  return 0;
}

}  // namespace unroll::cli
