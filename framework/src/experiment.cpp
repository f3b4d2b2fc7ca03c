#include "unroll/host/experiment.hpp"

#include <filesystem>

#include "unroll/error.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/plugin_host.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {

// Host-level schemas: the parts of an experiment that are not plugin components. Declared once,
// here, and printed by `unroll plugins --describe experiment`.
const Schema& top_schema() {
  static const Schema s = [] {
    Schema t("experiment", "An experiment file");
    t.string("name", "", "run name (default: the file name without .yaml)");
    t.string("description", "", "free text, copied to the run folder");
    t.integer("seed", 1, "experiment seed: every random stream derives from it").at_least(0);
    return t;
  }();
  return s;
}

const Schema& data_extra() {
  static const Schema s = [] {
    Schema t("data", "host options of the data block");
    t.integer("validation", 0, "samples held out of the training split for validation (seeded)").at_least(0);
    return t;
  }();
  return s;
}

const Schema& layer_extra() {
  static const Schema s = [] {
    Schema t("layer", "host options of every layer block");
    t.string("name", "", "instance name, the prefix of its parameter names (default: KIND + index, e.g. dense0)");
    return t;
  }();
  return s;
}

std::shared_ptr<const Schema> early_schema() {
  auto t = std::make_shared<Schema>("early", "Early stopping: stop when a metric has not improved for `patience` epochs");
  t->string("metric", "val_loss", "metrics.csv column to watch (val_* falls back to train_* without a validation split)");
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
  t->real("max_seconds", "wall-clock budget: stop after the first epoch that ends past this many seconds of "
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
  return t;
}

std::shared_ptr<const Schema> bptt_schema() {
  auto t = std::make_shared<Schema>("bptt", "Truncated back-propagation through time (Williams & Peng 1990)");
  t->integer("k1", 0, "every k1 steps, run a backward pass (0: full BPTT over the whole sequence)").at_least(0);
  t->integer("k2", 0, "... through the last k2 steps (0: k2 = k1); k2 >= k1").at_least(0);
  t->boolean("stateful", false, "carry the hidden state across consecutive batches of one stream");
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
  t->boolean("grad_lags", false, "write ||dL/dh|| at each time lag per epoch to grad_lags.csv (recurrent models)");
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
    t.integer("threads", 0, "threads for matrix products (0: --threads, else all cores)").at_least(0);
    t.block("stop", stop_schema(), "stopping rules");
    t.block("bptt", bptt_schema(), "truncated BPTT (sequences only; absent: full BPTT)");
    t.block("clip", clip_schema(), "gradient clipping");
    t.block("diagnostics", diagnostics_schema(), "extra measurements");
    t.block("checkpoint", checkpoint_schema(), "checkpoint frequency and the metric that chooses best/");
    return t;
  }();
  return s;
}

Node resolve_experiment(const Node& root_in, PluginHost& host, const std::string& base_dir) {
  if (!root_in.is_map()) throw Error(root_in.loc().str() + ": an experiment must be a mapping");
  Node root = root_in;

  // plugins: extra libraries or folders, loaded before anything is validated.
  if (const Node* plugins = root.find("plugins"); plugins && !plugins->is_null()) {
    if (!plugins->is_sequence()) throw Error(plugins->loc().str() + ": 'plugins' expects a list of paths");
    for (const Node& p : plugins->items()) {
      fs::path path = p.text();
      if (path.is_relative()) path = fs::path(base_dir) / path;
      try {
        if (fs::is_directory(path)) host.load_directory(path);
        else host.load_library(path);
      } catch (const Error& e) {
        throw Error(p.loc().str() + ": " + e.what());
      }
    }
  }

  static const std::vector<std::string> sections{"name",     "description", "seed",     "plugins", "data",
                                                 "model",    "loss",        "optimizer", "schedule",
                                                 "regularizers", "train"};
  for (const auto& [key, value] : root.entries())
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      std::string hint = nearest(key, sections);
      throw Error(value.key_loc().str() + ": unknown key '" + key + "' in the experiment" +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; valid keys: name, description, seed, "
                  "plugins, data, model, loss, optimizer, schedule, regularizers, train");
    }

  Node out = Node::map(root.loc());
  {
    Node top = Node::map(root.loc());
    for (const char* k : {"name", "description", "seed"})
      if (const Node* v = root.find(k)) top.set(k, *v);
    top = validate_block(top, top_schema(), &host);
    for (auto& [k, v] : top.entries()) out.set(k, v);
  }
  if (const Node* p = root.find("plugins")) out.set("plugins", *p);

  auto component = [&](const char* key, Kind kind, const char* def, const Schema* extra = nullptr) {
    const Node* given = root.find(key);
    Node block = (given && !given->is_null()) ? *given : parse_yaml(def, std::string("default ") + key);
    if (block.is_scalar()) {  // `loss: cross_entropy` is short for {kind: cross_entropy}
      Node m = Node::map(block.loc());
      m.set("kind", block);
      block = m;
    }
    out.set(key, validate_component(block, kind, host, extra));
  };

  const Node* data = root.find("data");
  if (!data) throw Error(root.loc().str() + ": the experiment has no 'data' block (e.g. data: {kind: fashion_mnist})");
  component("data", Kind::Dataset, "", &data_extra());

  const Node* model = root.find("model");
  if (!model || !model->is_sequence() || model->items().empty())
    throw Error((model ? model->loc() : root.loc()).str() +
                ": 'model' must be a non-empty list of layers, e.g. [{kind: dense, units: 10}]");
  Node layers = Node::sequence(model->loc());
  for (const Node& l : model->items()) {
    Node block = l;
    if (block.is_scalar()) {
      Node m = Node::map(block.loc());
      m.set("kind", block);
      block = m;
    }
    layers.push_back(validate_component(block, Kind::Layer, host, &layer_extra()));
  }
  out.set("model", layers);

  component("loss", Kind::Loss, "{kind: cross_entropy}");
  component("optimizer", Kind::Optimizer, "{kind: sgd}");
  component("schedule", Kind::Schedule, "{kind: constant}");

  Node regs = Node::sequence();
  if (const Node* r = root.find("regularizers"); r && !r->is_null()) {
    if (!r->is_sequence()) throw Error(r->loc().str() + ": 'regularizers' expects a list of {kind: ...} blocks");
    regs.set_loc(r->loc());
    for (const Node& item : r->items()) regs.push_back(validate_component(item, Kind::Regularizer, host));
  }
  out.set("regularizers", regs);

  const Node* train = root.find("train");
  out.set("train", validate_block(train && !train->is_null() ? *train : Node::map(root.loc()), train_schema(), &host));
  return out;
}

Experiment load_experiment(const std::string& file, const std::vector<std::string>& sets, PluginHost& host) {
  Node root = load_composed(file);  // resolves `extends:` chains
  if (!root.is_map()) throw Error(root.loc().str() + ": an experiment must be a mapping of sections (data, model, ...)");
  for (const auto& s : sets) apply_set(root, s);
  Experiment e;
  e.file = file;
  e.base_dir = fs::absolute(fs::path(file)).parent_path().string();
  e.config = resolve_experiment(root, host, e.base_dir);
  if (e.config.at("name").text().empty())
    e.config.set("name", Node::scalar(fs::path(file).stem().string(), SourceLoc{"file name", 0, 0}));
  return e;
}

}  // namespace unroll
