#pragma once
// What `unroll eval` and `unroll predict` share: both open a finished run's checkpoint, with the
// same options for which checkpoint, how many threads and which extra plugin folders.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "unroll/host/finished_run.hpp"

namespace unroll {
class PluginHost;
}

namespace unroll::cli {

/// Adds --checkpoint, --threads, --plugin-dir and the run folder (give it the positional slot
/// "run") to a command's options.
void add_finished_run_options(boost::program_options::options_description& opts);

/// The checkpoint a command reads: --checkpoint when given, else `best` when the run kept a best
/// checkpoint (early stopping or best-tracking), else `last`.
std::string chosen_checkpoint(const boost::program_options::variables_map& vm, const std::string& run_dir);

/// Loads the default plugins and --plugin-dir's, sets --threads, and opens `which` checkpoint of
/// the run folder with `sets` applied to its config (open_finished_run).
FinishedRun open_run_from_args(const boost::program_options::variables_map& vm, const std::string& which,
                               const std::vector<std::string>& sets, PluginHost& host);

}  // namespace unroll::cli
