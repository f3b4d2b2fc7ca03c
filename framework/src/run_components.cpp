#include "run_components.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "unroll/error.hpp"
#include "unroll/host/memory_estimate.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_data.hpp"
#include "unroll/host/run_marker.hpp"
#include "unroll/param_selection.hpp"
#include "unroll/rng.hpp"

namespace unroll {

void check_param_selection(const Node& block, const std::vector<Param*>& params) {
  const Node* pattern = block.find("params");
  if (!pattern || !pattern->is_scalar()) return;
  try {
    ParamSelection(pattern->text(), block.at("kind").text() + " regularizer").select(params);
  } catch (const Error& e) {
    throw Error(pattern->loc().str() + ": " + e.what());
  }
}

bool loss_every_step(const Node& loss_at, const DatasetInfo& info, const std::string& data_kind) {
  const std::string at = loss_at.text();
  const bool every = at == "auto" ? info.every_step : at == "every";
  if (every && !info.every_step && info.steps > 1)
    throw Error(loss_at.loc().str() + ": loss_at: every needs per-step targets, but dataset '" + data_kind +
                "' has targets at the last step only");
  return every;
}

RunComponents build_components(const Experiment& exp, PluginHost& host, const TrainSettings& s, uint64_t seed,
                               std::shared_ptr<Dataset> data, const std::string& resume_dir,
                               std::shared_ptr<Model> model) {
  const Node& cfg = exp.config;
  RunComponents c;
  HostBuildContext dctx(host, "data", 0, seed, exp.base_dir);
  marker::set_phase("load data");  // for a failure report (run_marker.hpp)
  c.data = data ? std::move(data) : build_run_dataset(cfg.at("data"), host, dctx, resume_dir);
  c.info = c.data->info();
  marker::set_phase("build");
  const DatasetInfo& info = c.info;

  c.every_step = loss_every_step(s.loss_at, info, cfg.at("data").at("kind").text());

  // Refuse a model that cannot fit, naming its largest layer, before any layer is allocated.
  check_memory(estimate_memory(cfg, info, host), available_memory(), cfg);
  c.model = model
                ? std::move(model)
                : std::make_shared<Model>(cfg.at("model"), info.input_size, host, seed, exp.base_dir, info.input_vocab);
  if (c.model->output_size() != info.output_size)
    throw Error(cfg.at("model").loc().str() + ": the model outputs " + std::to_string(c.model->output_size()) +
                " features, but dataset '" + cfg.at("data").at("kind").text() + "' has " +
                std::to_string(info.output_size) + (info.labels ? " classes" : " target features") +
                " (set the last layer's units to " + std::to_string(info.output_size) + ")");
  c.model->initialize(host, seed, exp.base_dir);
  c.params = c.model->params();

  HostBuildContext lctx(host, "loss", 0, seed, exp.base_dir);
  c.loss = host.build<Loss>(Kind::Loss, cfg.at("loss"), lctx);
  c.accuracy = info.labels && c.loss->classifies();
  HostBuildContext octx(host, "optimizer", 0, seed, exp.base_dir);
  c.optimizer = host.build<Optimizer>(Kind::Optimizer, cfg.at("optimizer"), octx);
  HostBuildContext sctx(host, "schedule", 0, seed, exp.base_dir);
  c.schedule = host.build<Schedule>(Kind::Schedule, cfg.at("schedule"), sctx);
  int r = 0;
  for (const Node& block : cfg.at("regularizers").items()) {
    HostBuildContext rctx(host, "regularizer" + std::to_string(r++), 0, seed, exp.base_dir);
    c.regularizers.push_back(host.build<Regularizer>(Kind::Regularizer, block, rctx));
    check_param_selection(block, c.params);
  }
  return c;
}

SampleSplit split_samples(Dataset& data, const DatasetInfo& info, const Node& data_block, uint64_t seed) {
  const size_t n_train = data.size(Split::Train);
  const Node& validation = data_block.at("validation");
  const size_t n_val = static_cast<size_t>(*validation.as_int());
  if (n_val >= n_train)
    throw Error(validation.loc().str() + ": validation (" + std::to_string(n_val) +
                ") must be smaller than the training set (" + std::to_string(n_train) + " samples)");
  std::vector<size_t> perm(n_train);
  std::iota(perm.begin(), perm.end(), 0);
  if (n_val > 0) {
    Rng split = Rng::derive(seed, "validation-split");
    for (size_t i = n_train - 1; i > 0; --i) std::swap(perm[i], perm[split.below(i + 1)]);
  }
  SampleSplit s;
  s.train.assign(perm.begin(), perm.end() - static_cast<long>(n_val));
  s.validation.assign(perm.end() - static_cast<long>(n_val), perm.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  if (info.has_test) {
    s.test.resize(data.size(Split::Test));
    std::iota(s.test.begin(), s.test.end(), 0);
  }
  return s;
}

}  // namespace unroll
