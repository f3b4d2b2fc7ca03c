#pragma once
// `unroll run FILE --check`: everything a run does before it trains, and nothing it writes.
#include <string>

#include "unroll/host/experiment.hpp"

namespace unroll {

class PluginHost;

/// Check a loaded experiment (load_experiment has composed it and validated every block) as far
/// as a run would before training: build the dataset (reading its files, so a missing or
/// malformed data file is reported), estimate the memory the model needs (check_memory refuses
/// what does not fit in MemAvailable), then build the model and check its output against the
/// dataset's classes or targets. Writes nothing. Returns a short report (data shape, the memory estimate per
/// layer); throws Error on the first problem.
std::string check_experiment(const Experiment& exp, PluginHost& host);

}  // namespace unroll
