#include "unroll/host/experiment.hpp"

#include <algorithm>
#include <filesystem>

#include "unroll/error.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/experiment_schema.hpp"
#include "unroll/host/plugin_host.hpp"

namespace fs = std::filesystem;

namespace unroll {

// Host-level schemas: the parts of an experiment that are not plugin components. Declared once,
// here, and printed by `unroll plugins --describe experiment`.
const Schema& experiment_top_schema() {
  static const Schema s = [] {
    Schema t("experiment", "An experiment file");
    t.string("name", "", "run name (default: the file name without .yaml)");
    t.string("description", "", "free text, copied to the run folder");
    t.integer("seed", 1, "experiment seed: every random stream derives from it").at_least(0).wide_int();
    return t;
  }();
  return s;
}

const Schema& data_host_schema() {
  static const Schema s = [] {
    Schema t("data", "host options of the data block");
    t.integer("validation", 0, "samples held out of the training split for validation (seeded)").at_least(0);
    t.boolean("standardize", false,
              "scale each input feature to mean 0, std 1 with statistics of the training "
              "split (after the validation hold-out), saved as standardize.json in the run folder");
    return t;
  }();
  return s;
}

const Schema& layer_host_schema() {
  static const Schema s = [] {
    Schema t("layer", "host options of every layer block");
    t.string("name", "", "instance name, the prefix of its parameter names (default: KIND + index, e.g. dense0)");
    return t;
  }();
  return s;
}

const std::vector<ExperimentSection>& experiment_sections() {
  static const std::vector<ExperimentSection> s{
      {"name", "a string", "the file name without .yaml", "run name"},
      {"description", "a string", "", "free text, copied to the run folder"},
      {"seed", "an integer >= 0", "1", "experiment seed: every random stream derives from it"},
      {"plugins", "a list of paths", "", "plugin libraries or folders to load, relative to the file"},
      {"data", "a dataset block", "", "required: the dataset, e.g. {kind: blobs}"},
      {"model", "a list of layer blocks", "", "required: the layers, input to output"},
      {"loss", "a loss block", "{kind: cross_entropy}", "the training loss"},
      {"optimizer", "an optimizer block", "{kind: sgd}", "how gradients become updates"},
      {"schedule", "a schedule block", "{kind: constant}", "the learning-rate schedule"},
      {"regularizers", "a list of regularizer blocks", "", "parameter-level regularizers (l2, max_norm, ...)"},
      {"train", "the train block", "every option at its default", "the training loop (--describe train)"},
  };
  return s;
}

namespace {
const std::string& section_default(const std::string& key) {
  for (const auto& sec : experiment_sections())
    if (sec.key == key) return sec.default_yaml;
  throw Error("no experiment section '" + key + "'");
}
}  // namespace

void check_run_name(const Node& name) {
  const std::string& s = name.text();
  const char* why = nullptr;
  if (s.empty())
    why = "is empty";
  else if (s == "." || s == "..")
    why = "is a relative folder";
  else if (s.find_first_of("/\\") != std::string::npos)
    why = "contains a path separator";
  else if (s.size() > 200)
    why = "is longer than 200 characters";
  else if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    why = "contains a control character";
  if (why)
    throw Error(name.loc().str() + ": the run name '" + s + "' " + why +
                "; it names the run folder runs/NAME-TIMESTAMP, so it must be a plain file name");
}

Node resolve_experiment(const Node& root_in, PluginHost& host, const std::string& base_dir) {
  if (!root_in.is_map()) throw Error(root_in.loc().str() + ": an experiment must be a mapping");
  const Node& root = root_in;
  // Every section is validated even when an earlier one has errors: the user sees all of the
  // file's mistakes at once (up to Diagnostics::kLimit), each with its file:line:column.
  Diagnostics diag;

  // plugins: extra libraries or folders, loaded before anything is validated.
  if (const Node* plugins = root.find("plugins"); plugins && !plugins->is_null()) {
    if (!plugins->is_sequence())
      diag.add(plugins->loc().str() + ": 'plugins' expects a list of paths");
    else
      for (const Node& p : plugins->items()) {
        fs::path path = p.text();
        if (path.is_relative()) path = fs::path(base_dir) / path;
        try {
          if (fs::is_directory(path))
            host.load_directory(path);
          else
            host.load_library(path);
        } catch (const Error& e) {
          diag.add(p.loc().str() + ": " + e.what());
        }
      }
  }

  std::vector<std::string> sections;
  for (const auto& sec : experiment_sections()) sections.push_back(sec.key);
  for (const auto& [key, value] : root.entries())
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      std::string hint = nearest(key, sections);
      diag.add(value.key_loc().str() + ": unknown key '" + key + "' in the experiment" +
               (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
               "; valid keys: name, description, seed, "
               "plugins, data, model, loss, optimizer, schedule, regularizers, train");
    }

  Node out = Node::map(root.loc());
  {
    Node top = Node::map(root.loc());
    for (const char* k : {"name", "description", "seed"})
      if (const Node* v = root.find(k)) top.set(k, *v);
    const size_t before = diag.count();
    top = validate_block(top, experiment_top_schema(), &host, diag);
    if (diag.count() == before) {
      if (!top.at("name").text().empty()) diag.attempt([&] { check_run_name(top.at("name")); });
      for (auto& [k, v] : top.entries()) out.set(k, v);
    }
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
    out.set(key, validate_component(block, kind, host, diag, extra));
  };

  if (root.find("data"))
    component("data", Kind::Dataset, "", &data_host_schema());
  else
    diag.add(root.loc().str() + ": the experiment has no 'data' block (e.g. data: {kind: fashion_mnist})");

  const Node* model = root.find("model");
  if (!model || !model->is_sequence() || model->items().empty()) {
    diag.add((model ? model->loc() : root.loc()).str() +
             ": 'model' must be a non-empty list of layers, e.g. [{kind: dense, units: 10}]");
  } else {
    Node layers = Node::sequence(model->loc());
    for (const Node& l : model->items()) {
      Node block = l;
      if (block.is_scalar()) {
        Node m = Node::map(block.loc());
        m.set("kind", block);
        block = m;
      }
      layers.push_back(validate_component(block, Kind::Layer, host, diag, &layer_host_schema()));
    }
    out.set("model", layers);
  }

  component("loss", Kind::Loss, section_default("loss").c_str());
  component("optimizer", Kind::Optimizer, section_default("optimizer").c_str());
  component("schedule", Kind::Schedule, section_default("schedule").c_str());

  Node regs = Node::sequence();
  if (const Node* r = root.find("regularizers"); r && !r->is_null()) {
    if (!r->is_sequence()) {
      diag.add(r->loc().str() + ": 'regularizers' expects a list of {kind: ...} blocks");
    } else {
      regs.set_loc(r->loc());
      for (const Node& item : r->items()) regs.push_back(validate_component(item, Kind::Regularizer, host, diag));
    }
  }
  out.set("regularizers", regs);

  const Node* train = root.find("train");
  out.set("train",
          validate_block(train && !train->is_null() ? *train : Node::map(root.loc()), train_schema(), &host, diag));
  diag.throw_if_any();
  return out;
}

Experiment load_experiment(const std::string& file, const std::vector<std::string>& sets, PluginHost& host) {
  Node root = load_composed(file);  // resolves `extends:` chains
  if (!root.is_map())
    throw Error(root.loc().str() + ": an experiment must be a mapping of sections (data, model, ...)");
  for (const auto& s : sets) apply_set(root, s);
  Experiment e;
  e.file = file;
  e.base_dir = fs::absolute(fs::path(file)).parent_path().string();
  e.config = resolve_experiment(root, host, e.base_dir);
  if (e.config.at("name").text().empty())
    e.config.set("name", Node::scalar(fs::path(file).stem().string(), SourceLoc{"file name", 0, 0}));
  check_run_name(e.config.at("name"));
  return e;
}

}  // namespace unroll
