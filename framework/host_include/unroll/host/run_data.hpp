#pragma once
// What a run folder records about its data, so that eval and predict can treat new data exactly
// as the training data was treated:
//   standardize.json  per-feature mean and std (when the data block says `standardize: true`)
//   classes.json      the class names, index by index (when the dataset names its classes)
//   features.json     the input feature names (when the dataset has them: CSV columns)
//   vocab.txt         the token vocabulary (when the dataset has one: char_text; vocabulary.hpp)
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/dataset.hpp"
#include "unroll/schema.hpp"

namespace unroll {

/// The trainer's one call, after the validation hold-out is drawn: write RUN_DIR/classes.json
/// and features.json if the dataset names its classes and features; with `standardize: true`, fit the statistics on the
/// samples `train` of the Train split, write RUN_DIR/standardize.json and return the
/// standardized dataset. Otherwise `data` is returned as it is. With run_dir "" (the ranks of a
/// data-parallel run other than rank 0) nothing is written.
std::shared_ptr<Dataset> prepare_run_data(const Node& data_block, std::shared_ptr<Dataset> data,
                                          std::span<const std::size_t> train, const std::string& run_dir);

/// The same treatment for data given to a finished run (eval, predict): the run's
/// standardize.json is applied when the run has one.
std::shared_ptr<Dataset> apply_run_data(std::shared_ptr<Dataset> data, const std::string& run_dir);

/// The data block with the run's vocabulary: when RUN_DIR/vocab.txt exists and the dataset's
/// schema has a string option `vocab` left empty, it is set to that file, so the data is read
/// with the indices the run was trained with (resume, eval, predict).
Node with_run_vocab(const Node& data_block, const Schema& schema, const std::string& run_dir);

/// When RUN_DIR/vocab.txt exists and the dataset has a vocabulary, it must be the same tokens in
/// the same order (a `vocab` file given explicitly may differ from the run's): an Error names the
/// run's file, the first index that differs and the two tokens. Data without a vocabulary (token
/// indices in an .npy file) passes: the embedding layer checks every index's range.
void check_run_vocab(const Dataset& data, const std::string& run_dir);

class PluginHost;
class BuildContext;

/// The experiment's dataset, built from its `data` block. For a run being resumed or continued
/// (`resume_dir` not empty) it is read with the vocabulary the run was trained with
/// (with_run_vocab) and checked against it (check_run_vocab), so token indices stay stable.
std::shared_ptr<Dataset> build_run_dataset(const Node& data_block, PluginHost& host, BuildContext& ctx,
                                           const std::string& resume_dir);

/// RUN_DIR/classes.json, or empty when the run has none.
std::vector<std::string> run_class_names(const std::string& run_dir);
/// RUN_DIR/features.json, or empty when the run has none.
std::vector<std::string> run_feature_names(const std::string& run_dir);

}  // namespace unroll
