#pragma once
// The subcommands of the unroll CLI; each returns the process exit code.
#include <boost/program_options.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "unroll/host/experiment.hpp"
#include "unroll/host/report.hpp"

namespace unroll {
class PluginHost;
}

namespace unroll::cli {

/// Bad command-line usage (exit code 2), as opposed to unroll::Error (bad input, exit code 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parse a subcommand's arguments into vm: a parse error becomes a UsageError, and --help
/// prints the options and returns false (the command then exits 0).
bool parse_args(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
                const boost::program_options::positional_options_description* positional,
                boost::program_options::variables_map& vm);

int cmd_run(const std::vector<std::string>& args);
int cmd_plugins(const std::vector<std::string>& args);
int cmd_new_plugin(const std::vector<std::string>& args);
int cmd_check_plugin(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
/// One array task of `unroll sweep --slurm`: supervises one run of a sweep folder.
int cmd_sweep_task(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_predict(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
/// Draw the plots of `runs` into out_dir with tools/plot_run.py; false (and why, in message)
/// when python3, matplotlib or the script is missing or fails. On success message lists the files.
bool plot_runs(const std::vector<std::string>& runs, const std::string& out_dir, std::string& message);
/// `unroll run FILE --dry-run`: build data and model, print the model summary, train nothing.
int dry_run(const Experiment& exp, PluginHost& host);
/// Where `unroll report` finds its plot helper (shared by sweep and report).
ReportOptions report_options();

}  // namespace unroll::cli
