#pragma once
// Checkpoints: a folder with one .npy file per tensor (parameters, optimizer state, schedule
// state, layer buffers such as batch-norm running statistics) and manifest.json listing names,
// shapes and files, the trainer's progress (epoch, step, metrics rows, best metric, early-stopping
// counters), the resolved config (YAML text) and its hash. numpy.load reads any tensor. The
// folder is written under a temporary name and swapped in, so a crash mid-save keeps the previous
// checkpoint whole.
#include <string>
#include <utility>
#include <vector>

#include "unroll/checkpoint_reader.hpp"
#include "unroll/types.hpp"

namespace unroll {

class Model;
class Optimizer;
class Schedule;

/// The trainer's own progress, saved so that a resumed run continues exactly.
struct TrainProgress {
  int epoch = 0;                          // completed epochs
  long long step = 0;                     // updates done
  std::vector<std::string> columns;       // metrics.csv header
  std::vector<std::vector<double>> rows;  // metrics.csv rows so far (NaN allowed)
  std::string best_metric;                // what best/ is chosen by
  double best_value = 0;                  // NaN until the first epoch
  int best_epoch = 0;
  double early_best = 0;  // early stopping: best value so far (NaN: none yet)
  int early_bad = 0;      // epochs without improvement
  double seconds = 0;     // training wall-clock seconds so far
};

using NamedTensors = std::vector<std::pair<std::string, Matrix>>;

/// Everything a checkpoint holds, in memory (a copy, so it can be kept while training goes on).
struct Snapshot {
  TrainProgress progress;
  NamedTensors params, buffers, optimizer, schedule;
  std::string config_yaml;  // the resolved config as written to config.yaml
  std::string base_dir;     // folder of the original experiment file (relative paths)
};

/// Copy the current state. `schedule` may be null or have no state.
Snapshot capture(Model& model, Optimizer& optimizer, Schedule* schedule, const TrainProgress& progress);

/// Write a snapshot as a checkpoint folder `dir`: every file is written into DIR.tmp and synced
/// to disk, the manifest last; then DIR is renamed to DIR.old, DIR.tmp to DIR, the parent folder
/// is synced and DIR.old removed.
void save_checkpoint(const std::string& dir, const Snapshot& s);

// Finishing an interrupted save (recover_checkpoint), finding a run's checkpoint folder
// (find_checkpoint_dir) and the manifest's tensor tables are in <unroll/checkpoint_reader.hpp>.

/// Read a checkpoint folder (manifest + every .npy), after recover_checkpoint. Errors name the
/// folder and the file.
Snapshot read_checkpoint(const std::string& dir);

/// Write a snapshot's tensors back into a built model, optimizer and schedule, bit for bit.
/// Every parameter and buffer of the model must be in the snapshot with the same shape (errors
/// name both); the optimizer and schedule state maps are replaced.
void restore(const Snapshot& s, Model& model, Optimizer& optimizer, Schedule* schedule);

/// read_checkpoint + restore; returns the saved progress.
TrainProgress load_checkpoint(const std::string& dir, Model& model, Optimizer& optimizer, Schedule* schedule);

/// Hash of a config text as written in the manifest (FNV-1a 64, 16 hex digits).
std::string config_hash(const std::string& yaml);

/// A manifest.json, parsed and checked, without its tensors.
struct Manifest {
  TrainProgress progress;
  std::vector<TensorEntry> params, buffers, optimizer, schedule;
  std::string config_yaml, base_dir;
};
/// Parse manifest TEXT (`where` names it in errors). Errors for: bad JSON, missing or mistyped
/// fields, a negative epoch or step, a metrics row whose length differs from the column list
/// (or an empty one), a row count other than the epoch count, a best epoch outside [0, epoch],
/// a tensor file name that is not a plain name inside the folder, a negative shape.
Manifest parse_manifest(const std::string& text, const std::string& where);

}  // namespace unroll
