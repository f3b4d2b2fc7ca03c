#pragma once
// The pre-flight check of `unroll run`: everything a run does before it trains, and nothing it
// writes. `run FILE --check` is this check alone; `run FILE --dry-run` is this check plus the
// model summary; a plain `run` makes the same check before it creates or touches the run folder,
// so that a run refused by validation, its data or the memory estimate leaves no trace.
#include <memory>
#include <string>

#include "unroll/host/experiment.hpp"

namespace unroll {

class Dataset;
class Model;
class PluginHost;

/// What the check built and found.
struct Preflight {
  /// The dataset, built once: the run that follows trains on it rather than reading its files
  /// again (a supervised run's child inherits it across the fork).
  std::shared_ptr<Dataset> data;
  /// The model, built and its initializer blocks validated, not initialized: the run that
  /// follows initializes and trains this one, so no block is validated or built twice.
  std::shared_ptr<Model> model;
  /// The short report --check prints: data shape and the memory estimate per layer.
  std::string report;
};

/// Check a loaded experiment (load_experiment has composed it and validated every block) as far
/// as a run would before training: build the dataset (reading its files, so a missing or
/// malformed data file is reported), estimate the memory the model needs (check_memory refuses
/// what does not fit in MemAvailable), then build the model and check its output against the
/// dataset's classes or targets, and validate and build every initializer block of its
/// parameters. Writes nothing. Data that cannot be built is thrown as its Error (nothing else can
/// be checked without it); after that every problem is collected, as validation does, and thrown
/// at once as a ConfigErrors (diagnostics.hpp: one message each at its file:line:column, up to
/// Diagnostics::kLimit, the rest counted). A model that does not fit is not built, so its own
/// checks wait for the next run of the check.
/// `resume_dir`: the run folder being resumed or continued, whose token vocabulary the data
/// keeps (run_data.hpp), or "". `data`: the dataset already built from this experiment's data
/// block and seed (a sweep checks many variants of one dataset), or null to build it here.
Preflight preflight_experiment(const Experiment& exp, PluginHost& host, const std::string& resume_dir = "",
                               std::shared_ptr<Dataset> data = nullptr);

/// preflight_experiment's report (what `unroll run FILE --check` prints).
std::string check_experiment(const Experiment& exp, PluginHost& host);

}  // namespace unroll
