#pragma once
// A finished run folder, loaded back for `unroll eval` and `unroll predict`: its resolved
// config (config.yaml), the model built from it with a checkpoint's parameters, its loss, and
// what the run recorded about its data (standardize.json, classes.json; see run_data.hpp).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "unroll/host/experiment.hpp"
#include "unroll/host/model.hpp"
#include "unroll/dataset.hpp"
#include "unroll/loss.hpp"

namespace unroll {

class PluginHost;

struct FinishedRun {
  std::string dir;             // the run folder
  std::string checkpoint_dir;  // RUN_DIR/checkpoint or RUN_DIR/best
  Experiment exp;              // config.yaml (+ --set), relative paths as in the original file
  std::unique_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  std::vector<std::string> class_names;  // classes.json, empty when the run has none
  int epoch = 0;                         // epochs the checkpoint had completed
};

/// Load RUN_DIR's config (with `sets` applied; relative paths resolve against the folder of the
/// original experiment file, which the checkpoint records) and its loss and class names.
FinishedRun open_finished_run(const std::string& run_dir, const std::string& which,
                              const std::vector<std::string>& sets, PluginHost& host);

/// Build the run's model for inputs of `input_size` features (token indices of a vocabulary of
/// `input_vocab`, when > 0) and load the checkpoint into it.
/// Refuses, naming the tensor, a checkpoint whose parameters do not match the config's model
/// (missing, or of another shape, e.g. data with another number of features).
void load_model(FinishedRun& run, int input_size, PluginHost& host, int input_vocab = 0);

/// The data block for `unroll eval --data ARG`: a YAML block ("{kind: npy, x: ..., y: ...}"), a
/// .yaml file holding one, or a .csv / .npz file read the way the run read its own (the run's
/// csv or npy block with the file swapped in, its test split dropped).
Node eval_data_block(const FinishedRun& run, const std::string& arg, PluginHost& host);

/// The data block for `unroll predict --input FILE`: inputs only, no targets. FILE.npy is read
/// as [N, F] or [N, T, F] (with the run's `scale` when it trained on npy data); FILE.csv with
/// the run's feature columns when it trained on csv data, else every column; FILE.npz with the
/// run's array name for x.
Node predict_data_block(const FinishedRun& run, const std::string& file, PluginHost& host);

/// The run's own dataset (its data block), with the run's standardization applied.
std::shared_ptr<Dataset> run_dataset(const FinishedRun& run, const Node& data_block, PluginHost& host);

/// Metrics of a model over every sample `indices` of a split, as the trainer computes them:
/// "loss" (mean per scored column), "accuracy" for classifiers, "bpc" when the dataset asks for
/// bits per symbol, and "samples".
std::map<std::string, double> evaluate_run(FinishedRun& run, Dataset& data, Split split, int batch);

/// The model's outputs for every sample of `data`'s Train split, [N, T_out, K] in C order
/// (T_out = 1 for last-step outputs): softmax probabilities when the run's loss is
/// cross_entropy, else the raw outputs.
struct Predictions {
  std::size_t samples = 0;
  int steps = 1, outputs = 0;
  bool probabilities = false;
  std::vector<float> values;    // samples * steps * outputs
  std::vector<int32_t> labels;  // arg-max per (sample, step) when probabilities
};
Predictions predict_run(FinishedRun& run, Dataset& data, int batch);

/// Write predictions: FILE.npy (values as float32 [N, K] or [N, T, K], plus FILE.labels.npy
/// with the arg-max labels of a classifier) or FILE.csv (one row per sample, or per sample and
/// step: sample[,step], p_<class>... and label for classifiers, y0... for values). Atomic.
void write_predictions(const std::string& path, const Predictions& p, const std::vector<std::string>& class_names);

}  // namespace unroll
