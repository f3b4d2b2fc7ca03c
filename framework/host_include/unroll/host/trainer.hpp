#pragma once
// The training loop. One fixed, readable update pipeline per (truncation window of a) batch:
//
//   forward (train) -> loss -> backward -> regularizer restore/penalties -> clip ->
//   gradient transforms -> lr = base_lr * schedule -> optimizer step -> constraints -> zero grads
//
// Sequences: full BPTT back-propagates through all T steps once per batch. Truncated BPTT
// (train.bptt.k1/k2, Williams & Peng 1990): every k1 steps the model is run forward over the
// last k2 steps, starting from the state saved at the window start (its gradient cut there), and
// the loss of the k1 new steps is back-propagated through the k2-step window, followed by an
// update. docs/bptt.md explains it with a picture.
#include <map>
#include <memory>
#include <string>

#include "unroll/host/experiment.hpp"

namespace unroll {

class PluginHost;
class Dataset;
class Model;

struct RunOptions {
  std::string out_dir;  // run folder; created if missing
  int threads = 0;      // 0: train.threads, else all cores
  bool quiet = false;   // no per-epoch lines on stdout
  /// Continue the run in out_dir from out_dir/checkpoint: parameters, buffers, optimizer and
  /// schedule state and the trainer's progress are restored, metrics.csv and log.txt continue.
  bool resume = false;
  /// The dataset the pre-flight check built (check.hpp), so its files are read once; null: the
  /// trainer builds it.
  std::shared_ptr<Dataset> data;
  /// The model the pre-flight check built for this experiment and `data` (not initialized); null:
  /// the trainer builds it.
  std::shared_ptr<Model> model;
  /// A continuation's line for log.txt (continuation.hpp); empty for a plain resume. The
  /// checkpoint's config then differs from config.yaml on purpose, and is not warned about.
  std::string continuation;
};

struct RunResult {
  std::string dir;
  std::string status = "completed";  // or "interrupted" (SIGINT/SIGTERM)
  std::string stop_reason;           // "epochs", "train_loss_below", "early_stopping", "max_seconds", "interrupted"
  int epochs = 0;
  std::map<std::string, double> final_metrics;  // last epoch's row plus test_loss/test_accuracy
};

/// Train the experiment, writing config.yaml, metrics.csv, summary.json, log.txt and a
/// checkpoint into opt.out_dir. Throws Error on bad input or divergence (after writing what
/// it has).
RunResult run_experiment(const Experiment& exp, PluginHost& host, const RunOptions& opt);

/// SIGINT/SIGTERM handlers that ask a running trainer to stop: it checks between batches,
/// saves the checkpoint of the last completed epoch, writes summary.json with status
/// "interrupted" and returns (RunResult::status). A second signal kills the process as usual.
void install_interrupt_handlers();
/// Ask the running trainer to stop (what the handlers do), or clear the request.
void request_interrupt();
void clear_interrupt();

/// Sets the run's thread count (requested, or every core for 0) and returns it. Also makes every
/// thread of the run flush subnormal floats to zero (FTZ + DAZ; docs/performance.md, "Subnormal
/// floats"), unless the environment sets UNROLL_KEEP_DENORMALS=1.
int configure_threads(int requested);

}  // namespace unroll
