#include "train_settings.hpp"

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "unroll/error.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/parallel.hpp"
#include "unroll/schema.hpp"

namespace unroll {

namespace {

std::shared_ptr<const Schema> early_schema() {
  auto t =
      std::make_shared<Schema>("early", "Early stopping: stop when a metric has not improved for `patience` epochs");
  t->string("metric", "val_loss",
            "metrics.csv column to watch (val_* falls back to train_* without a validation split)");
  t->choice("mode", "auto", {"auto", "min", "max"}, "lower or higher is better (auto: max for *accuracy, else min)");
  t->integer("patience", 0, "epochs without improvement before stopping (0: off)").at_least(0);
  t->real("min_delta", 0, "an improvement must beat the best value by more than this").at_least(0);
  return t;
}

std::shared_ptr<const Schema> stop_schema() {
  auto t = std::make_shared<Schema>("stop", "Stopping rules (the epoch limit always applies)");
  t->real("train_loss_below", "stop when the epoch's mean training loss falls below this (the textbook rule)")
      .above(0)
      .optional();
  t->real("max_seconds",
          "wall-clock budget: stop after the first epoch that ends past this many seconds of "
          "training (counted across --resume)")
      .above(0)
      .optional();
  t->block("early", early_schema(), "early stopping on a validation metric (off while patience is 0)");
  return t;
}

std::shared_ptr<const Schema> checkpoint_schema() {
  auto t = std::make_shared<Schema>("checkpoint", "Checkpoints: checkpoint/ (latest) and best/ (best by a metric)");
  t->integer("every", 1, "save checkpoint/ every this many epochs (and always at the end)").at_least(1);
  t->string("monitor", "val_loss",
            "metrics.csv column that chooses best/ (val_* falls back to train_* without a validation split)");
  t->choice("mode", "auto", {"auto", "min", "max"}, "lower or higher is better (auto: max for *accuracy, else min)");
  t->choice("test_on", "last", {"last", "best"},
            "the parameters the test split is scored with at the end: the last epoch's, or best/'s (the "
            "monitored epoch; what early stopping usually means)");
  return t;
}

std::shared_ptr<const Schema> memory_schema() {
  auto t = std::make_shared<Schema>(
      "memory", "What recurrent layers keep for backward (absent: every step): checkpoints and recomputation");
  t->integer("every", 0, "keep the state every this many steps and recompute the steps between them (0: off)")
      .at_least(0);
  t->string("budget", "",
            "bytes per recurrent layer for checkpoints and recomputed steps, e.g. 64MiB, 1.5GB, 5e8 (\"\": off); "
            "the longest segments that fit");
  return t;
}

std::shared_ptr<const Schema> bptt_schema() {
  auto t = std::make_shared<Schema>("bptt", "Truncated back-propagation through time (Williams & Peng 1990)");
  t->integer("k1", 0, "every k1 steps, run a backward pass (0: full BPTT over the whole sequence)").at_least(0);
  t->integer("k2", 0, "... through the last k2 steps (0: k2 = k1); k2 >= k1").at_least(0);
  t->boolean("stateful", false, "carry the hidden state across consecutive batches of one stream");
  t->block("memory", memory_schema(), "bounded-memory BPTT: keep some steps, recompute the rest in backward");
  return t;
}

std::shared_ptr<const Schema> clip_schema() {
  auto t = std::make_shared<Schema>("clip", "Gradient clipping, after the backward pass and before the optimizer");
  t->real("norm", 0, "rescale all gradients when their global L2 norm exceeds this (0: off)").at_least(0);
  t->real("value", 0, "clamp each gradient element to [-value, value] (0: off)").at_least(0);
  return t;
}

std::shared_ptr<const Schema> diagnostics_schema() {
  auto t = std::make_shared<Schema>("diagnostics", "Extra measurements written to the run folder");
  t->boolean("grad_lags", false,
             "write ||dL/dh|| at each time lag per epoch to grad_lags.csv, and at initialization as epoch 0 "
             "(recurrent models)");
  return t;
}

std::shared_ptr<const Schema> distributed_schema() {
  auto t = std::make_shared<Schema>("distributed", "Data-parallel runs (mpirun -np N unroll run ...)");
  t->choice("shard_optimizer", "false", {"false", "auto", "true"},
            "each rank steps 1/N of the parameters and keeps their optimizer state (reduce-scatter, step, "
            "allgather) instead of every rank stepping all of them; false: off (on one shared-memory node "
            "sharding measured slower); auto: when the optimizer is elementwise and no regularizer changes "
            "gradients (log.txt says which); true: required (an error otherwise)");
  return t;
}

}  // namespace

const Schema& train_schema() {
  static const Schema s = [] {
    Schema t("train", "The training loop");
    t.integer("epochs", 10, "maximum number of epochs").at_least(1);
    t.integer("batch", 32, "mini-batch size").at_least(1);
    t.integer("eval_batch", 1000, "batch size for validation and test passes").at_least(1);
    t.boolean("shuffle", true, "reshuffle the training samples every epoch (seeded)");
    t.choice("loss_at", "auto", {"auto", "last", "every"},
             "sequence loss at the last step or at every step (auto: what the dataset declares)");
    t.integer("threads", 0, "threads for matrix products (0: --threads, else all cores)").range(0, kMaxThreads);
    t.block("stop", stop_schema(), "stopping rules");
    t.block("bptt", bptt_schema(), "truncated BPTT (sequences only; absent: full BPTT)");
    t.block("clip", clip_schema(), "gradient clipping");
    t.block("diagnostics", diagnostics_schema(), "extra measurements");
    t.block("checkpoint", checkpoint_schema(), "checkpoint frequency and the metric that chooses best/");
    t.block("distributed", distributed_schema(), "data-parallel runs over MPI ranks");
    return t;
  }();
  return s;
}

namespace {
// The options of a nested block (train.stop, train.bptt, ...), typed by its own schema.
Options sub(const Options& o, const Schema& schema, const std::string& name) {
  return Options(o.block(name), schema.find(name)->block_schema.get());
}
// "64MiB", "1.5GB", "5e8", "1000000": a byte count, binary (KiB, MiB, GiB) or decimal (kB, MB, GB).
double parse_bytes(const Node& n) {
  const std::string text = n.text();
  if (text.empty()) return 0;
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  static const std::pair<const char*, double> units[] = {{"", 1},         {"B", 1},           {"kB", 1e3},
                                                         {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},
                                                         {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  for (const auto& [name, scale] : units)
    if (used > 0 && unit == name && v > 0 && std::isfinite(v)) return v * scale;
  throw Error(n.loc().str() + ": bptt.memory.budget '" + text +
              "' is not a positive byte count (a number with an optional unit: B, kB, MB, GB, KiB, MiB, GiB)");
}

MonitorSetting monitor_setting(const Options& o, const std::string& metric) {
  return MonitorSetting{o.block(metric), o.block("mode")};
}
}  // namespace

TrainSettings read_train_settings(const Node& train) {
  const Schema& schema = train_schema();
  const Options o(train, &schema);
  TrainSettings t;
  t.epochs = o.i("epochs");
  t.batch = o.i("batch");
  t.eval_batch = o.i("eval_batch");
  t.threads = o.i("threads");
  t.shuffle = o.boolean("shuffle");
  t.loss_at = o.block("loss_at");

  const Options bptt = sub(o, schema, "bptt");
  t.k1 = bptt.i("k1");
  t.k2 = bptt.i("k2");
  t.stateful = bptt.boolean("stateful");
  if (t.k2 && t.k1 && t.k2 < t.k1)
    throw Error(bptt.block("k2").loc().str() + ": bptt.k2 (" + std::to_string(t.k2) + ") must be >= k1 (" +
                std::to_string(t.k1) + ")");

  const Schema& bptt_schema = *schema.find("bptt")->block_schema;
  const Options memory = sub(bptt, bptt_schema, "memory");
  t.memory.every = memory.i("every");
  t.memory.budget_bytes = parse_bytes(memory.block("budget"));
  if (t.memory.every > 0 && t.memory.budget_bytes > 0)
    throw Error(memory.block("budget").loc().str() + ": bptt.memory takes every or budget, not both");
  t.memory_node = bptt.block("memory");

  const Options clip = sub(o, schema, "clip");
  t.clip_norm = clip.real("norm");
  t.clip_value = clip.real("value");
  t.grad_lags = sub(o, schema, "diagnostics").boolean("grad_lags");
  t.shard_optimizer = sub(o, schema, "distributed").block("shard_optimizer");

  const Schema& stop_schema = *schema.find("stop")->block_schema;
  const Options stop = sub(o, schema, "stop");
  if (stop.has("train_loss_below")) t.loss_below = stop.real("train_loss_below");
  if (stop.has("max_seconds")) t.max_seconds = stop.real("max_seconds");
  const Options early = sub(stop, stop_schema, "early");
  t.early_patience = early.i("patience");
  t.early_min_delta = early.real("min_delta");
  t.early = monitor_setting(early, "metric");

  const Options ck = sub(o, schema, "checkpoint");
  t.checkpoint_every = ck.i("every");
  t.best = monitor_setting(ck, "monitor");
  t.test_on_best = ck.string("test_on") == "best";
  return t;
}

}  // namespace unroll
