#include "unroll/host/finished_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "unroll/error.hpp"
#include "unroll/host/bptt.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/config.hpp"
#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_data.hpp"
#include "unroll/npy_array.hpp"
#include "unroll/vocabulary.hpp"

namespace fs = std::filesystem;

namespace unroll {

FinishedRun open_finished_run(const std::string& run_dir, const std::string& which,
                              const std::vector<std::string>& sets, PluginHost& host) {
  if (which != "last" && which != "best") throw Error("--checkpoint must be 'best' or 'last', got '" + which + "'");
  FinishedRun run;
  run.dir = run_dir;
  if (!fs::exists(run_dir + "/config.yaml")) throw Error(run_dir + ": not a run folder (no config.yaml)");
  run.checkpoint_dir = run_dir + "/" + (which == "last" ? "checkpoint" : "best");
  if (!fs::exists(run.checkpoint_dir + "/manifest.json"))
    throw Error(run_dir + ": no " + (which == "last" ? "checkpoint/" : "best/") + " checkpoint in the run folder" +
                (which == "best" ? " (best/ is written once a monitored metric improves; try --checkpoint last)" : ""));
  const Snapshot s = read_checkpoint(run.checkpoint_dir);
  run.epoch = s.progress.epoch;
  run.exp.file = run_dir + "/config.yaml";
  run.exp.base_dir = s.base_dir.empty() ? fs::absolute(run_dir).string() : s.base_dir;
  Node root = load_yaml_file(run.exp.file);
  for (const auto& a : sets) apply_set(root, a);
  run.exp.config = resolve_experiment(root, host, run.exp.base_dir);
  HostBuildContext lctx(host, "loss", 0, 1, run.exp.base_dir);
  run.loss = host.build<Loss>(Kind::Loss, run.exp.config.at("loss"), lctx);
  run.class_names = run_class_names(run_dir);
  if (run.class_names.empty() && fs::exists(run_dir + "/vocab.txt"))  // tokens are the classes of a language model
    for (const auto& t : read_vocabulary(run_dir + "/vocab.txt").tokens) run.class_names.push_back(escape_token(t));
  return run;
}

void load_model(FinishedRun& run, int input_size, PluginHost& host, int input_vocab) {
  const Node& cfg = run.exp.config;
  const uint64_t seed = static_cast<uint64_t>(cfg.at("seed").as_int().value_or(1));
  // Token indices from other data (an .npy file of indices): the run's own vocabulary size.
  if (input_vocab == 0 && fs::exists(run.dir + "/vocab.txt"))
    input_vocab = static_cast<int>(read_vocabulary(run.dir + "/vocab.txt").tokens.size());
  run.model = std::make_unique<Model>(cfg.at("model"), input_size, host, seed, run.exp.base_dir, input_vocab);
  const Snapshot s = read_checkpoint(run.checkpoint_dir);
  auto put = [&](const char* what, const NamedTensors& from, const std::string& name, Matrix& into) {
    for (const auto& [n, m] : from)
      if (n == name) {
        if (m.rows() != into.rows() || m.cols() != into.cols())
          throw Error(run.checkpoint_dir + ": " + what + " '" + name + "' is " + std::to_string(m.rows()) + "x" +
                      std::to_string(m.cols()) + " in the checkpoint but " + std::to_string(into.rows()) + "x" +
                      std::to_string(into.cols()) + " in the model of the config (" + std::to_string(input_size) +
                      " input features): the checkpoint does not belong to this config or this data");
        into = m;
        return;
      }
    throw Error(run.checkpoint_dir + ": the checkpoint has no " + what + " '" + name +
                "' that the config's model has: it does not belong to this config");
  };
  for (Param* p : run.model->params()) put("parameter", s.params, p->name, p->value);
  for (auto& [name, m] : run.model->buffers()) put("buffer", s.buffers, name, *m);
  std::vector<std::string> known;
  for (Param* p : run.model->params()) known.push_back(p->name);
  for (const auto& [n, m] : s.params)
    if (std::find(known.begin(), known.end(), n) == known.end())
      throw Error(run.checkpoint_dir + ": the checkpoint's parameter '" + n +
                  "' is not in the config's model: it does not belong to this config");
}

std::shared_ptr<Dataset> run_dataset(const FinishedRun& run, const Node& data_block, PluginHost& host) {
  const uint64_t seed = static_cast<uint64_t>(run.exp.config.at("seed").as_int().value_or(1));
  HostBuildContext dctx(host, "data", 0, seed, run.exp.base_dir);
  const Node block =
      with_run_vocab(data_block, host.entry(Kind::Dataset, data_block.at("kind").text()).schema, run.dir);
  auto data = host.build<Dataset>(Kind::Dataset, block, dctx);
  check_run_vocab(*data, run.dir);
  return apply_run_data(std::move(data), run.dir);
}

namespace {

std::string ext_of(const std::string& f) { return fs::path(f).extension().string(); }

/// The run's data block when it is of `kind`, with `changes` applied; else a fresh block.
Node derived_block(const FinishedRun& run, const std::string& kind,
                   const std::vector<std::pair<std::string, std::string>>& changes, const std::string& origin) {
  const Node& own = run.exp.config.at("data");
  Node b = Node::map(SourceLoc{origin, 0, 0});
  if (own.at("kind").text() == kind) {
    for (const auto& [k, v] : own.entries())
      if (k != "validation" && k != "standardize") b.set(k, v);  // host keys: not the plugin's
  } else {
    b.set("kind", Node::scalar(kind, SourceLoc{origin, 0, 0}));
  }
  for (const auto& [k, v] : changes) b.set(k, Node::scalar(v, SourceLoc{origin, 0, 0}));
  return b;
}

}  // namespace

Node eval_data_block(const FinishedRun& run, const std::string& arg, PluginHost& host) {
  const std::string origin = "--data " + arg;
  Node block;
  const std::string ext = ext_of(arg);
  const std::string own = run.exp.config.at("data").at("kind").text();
  if (!arg.empty() && arg.front() == '{') {
    block = parse_yaml(arg, "--data");
  } else if (ext == ".yaml" || ext == ".yml") {
    block = load_yaml_file(arg);
  } else if (ext == ".csv") {
    if (own != "csv")
      throw Error(origin + ": the run trained on '" + own +
                  "' data, so it does not know which columns of a CSV file "
                  "are features and target; give a block: --data '{kind: csv, path: " +
                  arg + ", target: ...}'");
    block = derived_block(run, "csv", {{"path", fs::absolute(arg).string()}, {"test_path", ""}, {"test_fraction", "0"}},
                          origin);
  } else if (ext == ".txt") {
    if (own != "char_text")
      throw Error(origin + ": the run trained on '" + own + "' data, not on text; give a block: --data '{kind: ...}'");
    block = derived_block(run, "char_text", {{"path", fs::absolute(arg).string()}, {"test_fraction", "0"}}, origin);
  } else if (ext == ".npz") {
    if (own != "npy")
      throw Error(origin + ": the run trained on '" + own + "' data; give a block: --data '{kind: npy, npz: " + arg +
                  ", x: NAME, y: NAME}'");
    block = derived_block(run, "npy",
                          {{"npz", fs::absolute(arg).string()}, {"x_test", ""}, {"y_test", ""}, {"test_fraction", "0"}},
                          origin);
  } else {
    throw Error(origin +
                ": expected a YAML block ('{kind: npy, x: X.npy, y: y.npy}'), a .yaml file with one, or a "
                ".csv/.npz file, or a .txt file for a run on char_text (an .npy file holds inputs only: give the "
                "targets in a block)");
  }
  return validate_component(block, Kind::Dataset, host);
}

Node predict_data_block(const FinishedRun& run, const std::string& file, PluginHost& host) {
  const std::string origin = "--input " + file;
  const std::string path = fs::absolute(file).string();
  const std::string ext = ext_of(file);
  Node block;
  if (ext == ".npy") {
    const Node& own = run.exp.config.at("data");
    const std::string scale = own.at("kind").text() == "npy" ? own.at("scale").text() : "1";
    block = derived_block(run, "__fresh__", {}, origin);
    block.set("kind", Node::scalar("npy", SourceLoc{origin, 0, 0}));
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"x", path}, {"y", ""}, {"scale", scale}, {"inputs_only", "true"}})
      block.set(k, Node::scalar(v, SourceLoc{origin, 0, 0}));
  } else if (ext == ".npz") {
    block = derived_block(
        run, "npy",
        {{"npz", path}, {"y", ""}, {"x_test", ""}, {"y_test", ""}, {"test_fraction", "0"}, {"inputs_only", "true"}},
        origin);
    if (!block.has("x")) block.set("x", Node::scalar("x", SourceLoc{origin, 0, 0}));
  } else if (ext == ".csv") {
    block = derived_block(run, "csv",
                          {{"path", path}, {"test_path", ""}, {"test_fraction", "0"}, {"inputs_only", "true"}}, origin);
    if (!block.has("target")) block.set("target", Node::scalar("", SourceLoc{origin, 0, 0}));
    // The run's feature columns by name, in the run's order, wherever they sit in this file.
    std::string features;
    for (const auto& f : run_feature_names(run.dir)) features += (features.empty() ? "" : ",") + f;
    if (!features.empty()) block.set("features", Node::scalar(features, SourceLoc{origin, 0, 0}));
  } else if (ext == ".txt" && run.exp.config.at("data").at("kind").text() == "char_text") {
    // The text cut into windows as the run's was, read with the run's vocabulary (run_dataset).
    block = derived_block(run, "char_text", {{"path", path}, {"test_fraction", "0"}}, origin);
  } else {
    throw Error(origin + ": predict reads .npy, .npz or .csv inputs (and .txt for a run on char_text)");
  }
  return validate_component(block, Kind::Dataset, host);
}

namespace {

/// A CSV field, quoted when it holds a delimiter, quote or line break (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

/// Visit every batch of `split`: the model's outputs and the targets of the scored columns.
template <class F>
void each_batch(FinishedRun& run, Dataset& data, Split split, int batch, bool every_step, F&& f) {
  const std::size_t n = data.size(split);
  std::vector<std::size_t> idx;
  Seq x;
  Targets y, sel;
  for (std::size_t from = 0; from < n; from += static_cast<std::size_t>(batch)) {
    const std::size_t to = std::min(n, from + static_cast<std::size_t>(batch));
    idx.resize(to - from);
    for (std::size_t i = from; i < to; ++i) idx[i - from] = i;
    data.batch(split, idx, x, y);
    run.model->reset_state(x.batch);
    const Seq& out = run.model->forward(x, Mode::Eval);
    const int B = x.batch, T = x.steps;
    const int first = every_step ? 0 : T - 1;
    const Eigen::Index col0 = static_cast<Eigen::Index>(first) * B, ncols = static_cast<Eigen::Index>(T - first) * B;
    slice_targets(y, y.steps == 1 ? 0 : col0, ncols, T - first, sel);
    const auto cols = out.data.middleCols(output_is_last_step(out, T, every_step) ? 0 : col0, ncols);
    f(cols, sel, B, T - first);
  }
}

bool every_step_of(const FinishedRun& run, const DatasetInfo& info) {
  const std::string at = run.exp.config.at("train").at("loss_at").text();
  return at == "auto" ? info.every_step : at == "every";
}

}  // namespace

std::map<std::string, double> evaluate_run(FinishedRun& run, Dataset& data, Split split, int batch) {
  const DatasetInfo info = data.info();
  if (info.output_size != run.model->output_size())
    throw Error("the data has " + std::to_string(info.output_size) + (info.labels ? " classes" : " target features") +
                " but the run's model outputs " + std::to_string(run.model->output_size()));
  double loss = 0;
  long count = 0, correct = 0;
  each_batch(run, data, split, batch, every_step_of(run, info), [&](const auto& out, const Targets& y, int, int) {
    loss += run.loss->evaluate(out, y, nullptr);
    if (!y.has_labels()) {
      count += out.cols();
      return;
    }
    for (Eigen::Index j = 0; j < out.cols(); ++j) {
      if (y.labels[static_cast<std::size_t>(j)] < 0) continue;
      ++count;
      Eigen::Index arg;
      out.col(j).maxCoeff(&arg);
      if (arg == y.labels[static_cast<std::size_t>(j)]) ++correct;
    }
  });
  std::map<std::string, double> m;
  m["samples"] = static_cast<double>(data.size(split));
  m["loss"] = count ? loss / static_cast<double>(count) : NAN;
  if (info.labels && run.loss->classifies()) m["accuracy"] = count ? static_cast<double>(correct) / count : NAN;
  if (info.bits_per_symbol) m["bpc"] = m["loss"] / std::log(2.0);
  return m;
}

Predictions predict_run(FinishedRun& run, Dataset& data, int batch) {
  const DatasetInfo info = data.info();
  Predictions p;
  p.samples = data.size(Split::Train);
  p.outputs = run.model->output_size();
  p.probabilities = run.exp.config.at("loss").at("kind").text() == "cross_entropy";
  const bool every = every_step_of(run, info);
  p.steps = every ? info.steps : 1;
  p.values.resize(p.samples * static_cast<std::size_t>(p.steps) * static_cast<std::size_t>(p.outputs));
  std::size_t first_sample = 0;
  each_batch(run, data, Split::Train, batch, every, [&](const auto& out, const Targets&, int B, int T) {
    Matrix o = out;
    if (p.probabilities) {  // softmax per column, stable
      for (Eigen::Index j = 0; j < o.cols(); ++j) {
        o.col(j).array() -= o.col(j).maxCoeff();
        o.col(j) = o.col(j).array().exp().matrix();
        o.col(j) /= o.col(j).sum();
      }
    }
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        const Eigen::Index c = static_cast<Eigen::Index>(t) * B + b;
        float* dst = p.values.data() + ((first_sample + b) * static_cast<std::size_t>(p.steps) + t) * p.outputs;
        for (int k = 0; k < p.outputs; ++k) dst[k] = o(k, c);
      }
    first_sample += static_cast<std::size_t>(B);
  });
  if (p.probabilities) {
    p.labels.resize(p.samples * static_cast<std::size_t>(p.steps));
    for (std::size_t r = 0; r < p.labels.size(); ++r) {
      const float* v = p.values.data() + r * p.outputs;
      p.labels[r] = static_cast<int32_t>(std::max_element(v, v + p.outputs) - v);
    }
  }
  return p;
}

void write_predictions(const std::string& path, const Predictions& p, const std::vector<std::string>& names) {
  const std::string ext = fs::path(path).extension().string();
  std::vector<std::size_t> shape{p.samples};
  if (p.steps > 1) shape.push_back(static_cast<std::size_t>(p.steps));
  if (ext == ".npy") {
    shape.push_back(static_cast<std::size_t>(p.outputs));
    write_npy_array(path, p.values.data(), shape);
    if (p.probabilities) {
      shape.pop_back();
      write_npy_array(fs::path(path).replace_extension(".labels.npy").string(), p.labels.data(), shape);
    }
    return;
  }
  if (ext != ".csv") throw Error(path + ": --out must end in .npy or .csv");
  // The text is appended piece by piece: GCC 12 misreads `"," + std::string` here as an
  // overlapping copy (-Wrestrict, a false positive: GCC bug 105651).
  std::string csv = p.steps > 1 ? "sample,step" : "sample";
  for (int k = 0; k < p.outputs; ++k) {
    const bool named = p.probabilities && static_cast<std::size_t>(k) < names.size();
    std::string column = p.probabilities ? "p_" : "y";
    column += named ? names[static_cast<std::size_t>(k)] : std::to_string(k);
    csv += ',';
    csv += csv_field(column);
  }
  if (p.probabilities) csv += ",label";
  csv += "\n";
  char num[32];
  for (std::size_t n = 0; n < p.samples; ++n)
    for (int t = 0; t < p.steps; ++t) {
      const std::size_t r = n * static_cast<std::size_t>(p.steps) + static_cast<std::size_t>(t);
      csv += std::to_string(n);
      if (p.steps > 1) {
        csv += ',';
        csv += std::to_string(t);
      }
      for (int k = 0; k < p.outputs; ++k) {
        std::snprintf(num, sizeof num, ",%.7g", static_cast<double>(p.values[r * p.outputs + k]));
        csv += num;
      }
      if (p.probabilities) {
        const auto l = static_cast<std::size_t>(p.labels[r]);
        csv += ',';
        csv += csv_field(l < names.size() ? names[l] : std::to_string(l));
      }
      csv += "\n";
    }
  write_file_atomic(path, csv);
}

}  // namespace unroll
