// unroll plot RUN_DIR [RUN_DIR ...]: learning curves overlaid, and the grad_lags heatmaps of
// recurrent runs, drawn by tools/plot_run.py (matplotlib).
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "commands.hpp"
#include "unroll/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

namespace {

// $UNROLL_PLOT_RUN_SCRIPT, else beside an installed host (share/unroll), else the source tree.
std::string plot_script() {
  const fs::path exe_dir = boost::dll::program_location().parent_path().string();
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("UNROLL_PLOT_RUN_SCRIPT")) candidates.emplace_back(env);
  candidates.push_back(exe_dir / ".." / "share" / "unroll" / "plot_run.py");
#ifdef UNROLL_SOURCE_DIR
  candidates.push_back(fs::path(UNROLL_SOURCE_DIR) / "tools" / "plot_run.py");
#endif
  for (const auto& c : candidates)
    if (fs::exists(c)) return c.string();
  return candidates.back().string();
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

bool plot_runs(const std::vector<std::string>& runs, const std::string& out_dir, std::string& message) {
  const std::string python = "/usr/bin/python3", script = plot_script();
  if (!fs::exists(python)) {
    message = python + " not found";
    return false;
  }
  if (!fs::exists(script)) {
    message = script + " not found";
    return false;
  }
  std::string cmd = quoted(python) + " " + quoted(script) + " " + quoted(out_dir);
  for (const auto& r : runs) {
    // Two appends, not `" " + quoted(r)`: GCC 12 flags that temporary with a false -Wrestrict
    // (GCC bug 105651).
    cmd += ' ';
    cmd += quoted(r);
  }
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    message = "cannot start " + python;
    return false;
  }
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  message = out;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int cmd_plot(const std::vector<std::string>& args) {
  po::options_description opts("unroll plot RUN_DIR [RUN_DIR ...] [options]");
  opts.add_options()("help,h", "show this help")(
      "out,o", po::value<std::string>(), "folder for the PNG files (default: RUN_DIR/plots for one run, else plots/)")(
      "runs", po::value<std::vector<std::string>>(), "run folders");
  po::positional_options_description pos;
  pos.add("runs", -1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("runs")) throw UsageError("missing the run folder: unroll plot RUN_DIR [RUN_DIR ...]");
  const auto runs = vm["runs"].as<std::vector<std::string>>();
  for (const auto& r : runs)
    if (!fs::exists(fs::path(r) / "metrics.csv")) throw Error(r + ": not a run folder (no metrics.csv)");
  const std::string out = vm.count("out")    ? vm["out"].as<std::string>()
                          : runs.size() == 1 ? runs[0] + "/plots"
                                             : "plots";
  std::string message;
  if (!plot_runs(runs, out, message))
    throw Error("cannot plot (" + message.substr(0, 600) +
                "); plots need /usr/bin/python3 with matplotlib "
                "(Debian: python3-matplotlib, installed by tools/setup)");
  std::fputs(message.c_str(), stdout);
  return 0;
}

}  // namespace unroll::cli
