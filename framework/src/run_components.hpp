#pragma once
// What an experiment builds for a run, through the plugin host: the dataset, the model
// (initialized), the loss, the optimizer, the schedule and the regularizers; and how the samples
// are split into training, validation and test. Errors name the place in the experiment file.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train_settings.hpp"
#include "unroll/dataset.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/model.hpp"
#include "unroll/loss.hpp"
#include "unroll/optimizer.hpp"
#include "unroll/regularizer.hpp"
#include "unroll/schedule.hpp"

namespace unroll {

class PluginHost;

struct RunComponents {
  std::shared_ptr<Dataset> data;
  DatasetInfo info;
  std::shared_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  std::shared_ptr<Optimizer> optimizer;
  std::shared_ptr<Schedule> schedule;
  std::vector<std::shared_ptr<Regularizer>> regularizers;
  std::vector<Param*> params;
  bool every_step = false;  // loss at every step of a sequence (train.loss_at, or what the dataset declares)
  bool accuracy = false;    // labels and a classifying loss: accuracy columns
};

/// Build every component of `exp` with the experiment seed. `data` and `model`: the dataset and
/// the (uninitialized) model the pre-flight check built (check.hpp), or null to build them here;
/// `resume_dir`: the run folder being resumed, whose vocab.txt the data reuses (run_data.hpp), or "".
RunComponents build_components(const Experiment& exp, PluginHost& host, const TrainSettings& s, uint64_t seed,
                               std::shared_ptr<Dataset> data = nullptr, const std::string& resume_dir = "",
                               std::shared_ptr<Model> model = nullptr);

/// Whether the loss is taken at every step of a sequence: `loss_at` (train.loss_at: auto, last or
/// every) against what the dataset declares. Throws, at loss_at's place in the file, for `every`
/// on a dataset whose targets are at the last step only (`data_kind` names it).
bool loss_every_step(const Node& loss_at, const DatasetInfo& info, const std::string& data_kind);

/// A regularizer block's `params` pattern (param_selection.hpp) against the model's parameters:
/// a pattern that matches nothing throws, at the pattern's place in the file. Checked before
/// training (and by --check), not at the first update.
void check_param_selection(const Node& regularizer_block, const std::vector<Param*>& params);

/// The samples of a run (indices into the dataset's splits).
struct SampleSplit {
  std::vector<size_t> train, validation, test;
};

/// The training split's seeded train/validation split (the `data.validation` last samples of a
/// permutation held out, both sorted) and every test sample.
SampleSplit split_samples(Dataset& data, const DatasetInfo& info, const Node& data_block, uint64_t seed);

}  // namespace unroll
