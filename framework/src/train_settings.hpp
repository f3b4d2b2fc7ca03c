#pragma once
// The `train:` block of an experiment: its schema (train_schema(), declared in
// unroll/host/experiment.hpp, printed by `unroll plugins --describe experiment` and the reference
// docs) and the settings the trainer reads from the validated block. Both live in
// train_settings.cpp, so an option is declared and read in one place, through Options, with the
// type and range the schema gives it.
#include <string>

#include "unroll/config_node.hpp"
#include "unroll/layer.hpp"

namespace unroll {

/// A metrics.csv column to watch and which way is better, as written (their nodes keep the
/// file:line:column for errors, since the columns are known only once the run is built).
struct MonitorSetting {
  Node metric;  // column name, e.g. val_loss
  Node mode;    // auto, min or max
};

/// Every setting of a validated `train:` block.
struct TrainSettings {
  int epochs = 1, batch = 32, eval_batch = 1000;
  int threads = 0;  // 0: --threads, else all cores
  bool shuffle = true;
  Node loss_at;  // auto, last or every (a node: the error for a dataset without per-step targets points at it)

  // Truncated BPTT (k1 = 0: full BPTT).
  int k1 = 0, k2 = 0;
  bool stateful = false;
  StepStorage memory;  // bptt.memory: full storage, or checkpoints every k steps / within a byte budget
  Node memory_node;    // where bptt.memory is written (for the error of a layer that cannot recompute)

  // Gradient clipping (0: off).
  double clip_norm = 0, clip_value = 0;

  bool grad_lags = false;  // diagnostics.grad_lags

  // Data-parallel runs: distributed.shard_optimizer (auto, true or false; a node for errors).
  Node shard_optimizer;

  // Stopping rules (0: off).
  double loss_below = 0, max_seconds = 0;
  int early_patience = 0;
  double early_min_delta = 0;
  MonitorSetting early;

  // Checkpoints.
  int checkpoint_every = 1;
  MonitorSetting best;        // the metric that chooses best/
  bool test_on_best = false;  // checkpoint.test_on: best (score the test split with best/'s parameters)
};

/// Read a `train:` block that train_schema() has validated (defaults filled in). Checks what the
/// schema cannot say by itself (k2 >= k1) and throws Error with the file:line:column.
TrainSettings read_train_settings(const Node& train);

}  // namespace unroll
