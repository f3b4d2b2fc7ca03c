#pragma once
// `unroll run --resume RUN_DIR --set KEY=VALUE ...`: continue a run — interrupted, failed,
// diverged or completed — with some of its settings changed, most often more epochs:
//
//   unroll run --resume runs/x-20260101-120000 --set train.epochs=30
//
// Only settings that leave the checkpoint meaningful may change. The checkpoint holds the
// model's parameters and buffers (their shapes come from model: and the data's features), the
// optimizer's and schedule's state (their layout comes from their kind), and the trainer's
// progress counted in epochs of one split of the data into batches of train.batch. So:
//
//   allowed   train.epochs, train.eval_batch, train.threads, train.stop.*, train.checkpoint.*,
//             train.clip.*, train.diagnostics.*, optimizer.* but its kind, schedule.* but its
//             kind, description
//   refused   model, data, seed, name, plugins, loss, regularizers, train.batch,
//             train.shuffle, train.loss_at, train.bptt, optimizer.kind, schedule.kind
//
// Every change is recorded: config.yaml holds the new values (and a comment line per
// continuation), summary.json and provenance.json a `continued` list, log.txt a line.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"

namespace unroll {

/// A value a continuation changes: its path in the resolved config ("optimizer.lr",
/// "model[0].units") and its YAML text before and after ("" when absent).
struct ConfigChange {
  std::string path, before, after;
};

/// Every leaf where two resolved configs differ, in config order. A list whose length changes
/// is one change at the list's path.
std::vector<ConfigChange> config_changes(const Node& before, const Node& after);

/// Whether a continuation may change `path`; when not, `why` says what the key fixes.
bool continuation_allows(const std::string& path, std::string* why = nullptr);

/// The keys a continuation may change, as one line for error messages and --help.
std::string continuation_allowed_keys();

/// Throws Error naming every refused change (path, old and new value, why) and listing the
/// allowed keys. `sets` are the --set arguments, quoted in the message.
void check_continuation(const std::vector<ConfigChange>& changes, const std::vector<std::string>& sets);

/// What a continuation decides before anything is written, from the run's state:
///   - completed, no --set at all: nothing to do (returns false; the caller says so and exits 0);
///   - train.epochs not above the epochs already trained (when it was changed, or when the run
///     completed and --set was given): Error — there would be nothing to train;
///   - completed by a stop rule (early stopping, train_loss_below, max_seconds) whose train.stop
///     settings are unchanged: Error — it would stop again after one epoch; the message names
///     the key to change;
///   - diverged, no change: Error — it would diverge again, bit for bit, from the same
///     checkpoint; the message suggests a lower optimizer.lr or train.clip.norm.
/// `status`/`stop_reason` come from summary.json, `done_epochs` from the checkpoint.
bool continuation_needed(const std::string& run_dir, const std::string& status, const std::string& stop_reason,
                         int done_epochs, const Node& config, const std::vector<ConfigChange>& changes, bool any_set);

/// The `continued` record of one continuation: {at_epoch, status, changes: [{key, from, to}], time}.
nlohmann::json continuation_record(int at_epoch, const std::string& status, const std::vector<ConfigChange>& changes);

/// One line for log.txt and config.yaml: "continued at epoch 10 (completed): train.epochs 10 -> 30".
std::string continuation_line(int at_epoch, const std::string& status, const std::vector<ConfigChange>& changes);

/// config.yaml's text for a continued run: the comment lines of the old text (earlier
/// continuations), "# " + `line`, then the new resolved config.
std::string continued_config_text(const std::string& old_text, const std::string& line, const Node& config);

}  // namespace unroll
