#pragma once
// Datasets yield batches of (input sequence, targets). Data stays compact in memory (uint8 for
// images) and is converted to float per batch, into buffers the host reuses.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "unroll/types.hpp"
#include "unroll/vocabulary.hpp"

namespace unroll {

enum class Split { Train, Test };

struct DatasetInfo {
  int input_size = 0;   // features per step
  int steps = 1;        // T (1 for non-sequential data)
  int output_size = 0;  // classes (labels) or target features (values)
  bool labels = true;   // targets are class labels (else real-valued `values`)
  /// Targets at every step (labelling, language modelling) rather than the last step only.
  bool every_step = false;
  /// Whether a Test split exists.
  bool has_test = false;
  /// Also report the loss in bits per symbol (cross-entropy / ln 2), e.g. bits per character.
  bool bits_per_symbol = false;
  /// Inputs are token indices: one feature per step holding an integer in [0, input_vocab)
  /// (input_size is then 1), for an embedding layer. 0: inputs are ordinary features.
  int input_vocab = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual DatasetInfo info() const = 0;
  virtual std::size_t size(Split split) const = 0;
  /// Fill x (resized to input_size x steps*B) and y for the samples `indices` of `split`.
  virtual void batch(Split split, std::span<const std::size_t> indices, Seq& x, Targets& y) = 0;
  /// Names of the classes, index by index, when the labels stand for something (a CSV file's
  /// string labels): saved as classes.json in the run folder and used by predict to name its
  /// output columns. Empty (the default) when classes are plain indices.
  virtual std::vector<std::string> class_names() const { return {}; }
  /// Names of the input features, when the data has them (a CSV file's columns): saved as
  /// features.json in the run folder, so predict picks the same columns in the same order.
  virtual std::vector<std::string> feature_names() const { return {}; }
  /// The token vocabulary, when inputs or targets are tokens (char_text): saved as
  /// RUN_DIR/vocab.txt, and given back to the dataset through its `vocab` option (a file path)
  /// when the run's data is built again (resume, eval, predict), so indices keep their meaning.
  /// A dataset that reports one must have a string option `vocab`. Empty by default.
  virtual Vocabulary vocabulary() const { return {}; }
};

}  // namespace unroll
