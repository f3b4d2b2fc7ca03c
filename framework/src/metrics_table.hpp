#pragma once
// The metrics table of a run: one row per epoch, what metrics.csv holds and what the stop rules,
// best/ and the summary read. Each column is a name and a function of what the epoch measured
// (EpochMeasures), so a new metric kind is one more entry in MetricsTable's constructor.
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unroll/linalg.hpp"
#include "unroll/types.hpp"
#include "train_settings.hpp"

namespace unroll {

/// Loss and correctly classified columns, summed over batches.
struct Tally {
  double loss = 0;
  long count = 0, correct = 0;
  double mean() const { return count ? loss / count : NAN; }
  double accuracy() const { return count ? static_cast<double>(correct) / count : NAN; }
  /// Add the loss `loss_sum` of the output columns `out` against targets `y` (same columns):
  /// non-masked columns count, and those whose largest output is the label are correct.
  void add(const ConstMatRef& out, const Targets& y, double loss_sum);
};

/// What one epoch measured; a metrics row is computed from it.
struct EpochMeasures {
  int epoch = 0;         // 1-based
  Tally train, val;      // val is empty without a validation split
  double lr = 0;         // the learning rate of the epoch's last update
  double grad_norm = 0;  // mean global gradient norm per update (before clipping)
  double clip_rate = 0;  // fraction of updates that were clipped
  double seconds = 0;    // wall clock of training and validation
};

/// A metrics.csv column that a rule watches (best/, early stopping), and which way is better.
struct Monitor {
  std::string name;
  size_t column = 0;
  bool maximize = false;
  /// Whether `v` beats `best` (NaN: nothing yet) by more than `min_delta`.
  bool improves(double v, double best, double min_delta = 0) const;
};

/// The best value of a monitored column so far, and the epochs since it last improved.
struct BestSoFar {
  Monitor monitor;
  double min_delta = 0;
  double value = NAN;
  int epoch = 0;  // 1-based epoch of `value`; 0: none yet
  int bad = 0;    // epochs since the last improvement
  /// Look at the row of `epoch`; true when it improved on the best.
  bool observe(const std::vector<double>& row, int epoch);
};

class MetricsTable {
 public:
  /// The columns of a run, fixed for its length: epoch, train_loss, train_accuracy (when the loss
  /// classifies labels), val_loss and val_accuracy (with a validation split), train_bpc and val_bpc
  /// (datasets of symbols), lr, grad_norm, clip_rate, seconds.
  MetricsTable(bool accuracy, bool validation, bool bits_per_symbol);

  const std::vector<std::string>& columns() const { return names_; }
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  /// Replace the rows (a resumed run continues the checkpoint's).
  void set_rows(std::vector<std::vector<double>> rows) { rows_ = std::move(rows); }
  /// Append the row of an epoch and return it.
  const std::vector<double>& add(const EpochMeasures& m);
  /// Index of a column, or columns().size() when there is none.
  size_t find(const std::string& name) const;

  /// The column a rule watches, `mode` auto meaning max for accuracies. A val_* metric without
  /// a validation split falls back to its train_* column, and `note` says so. An Error at the
  /// setting's place when the column does not exist.
  Monitor monitor(const MonitorSetting& setting, bool validation, std::string& note) const;

  /// The metrics a schedule sees at the end of an epoch (reduce-on-plateau watches one of them).
  std::map<std::string, double> schedule_metrics(const EpochMeasures& m) const;
  /// The test metrics of a tally over the test split: test_loss, test_accuracy, test_bpc.
  std::map<std::string, double> test_metrics(const Tally& test) const;
  /// The last row by name, every column but epoch (empty before the first epoch).
  std::map<std::string, double> last_row() const;

  /// "epoch 3/10  train_loss 0.4  ...  0.12s", the last row as the log shows it.
  std::string epoch_line(int epochs) const;
  /// metrics.csv: header and every row.
  std::string csv() const;

 private:
  struct Column {
    std::string name;
    std::function<double(const EpochMeasures&)> value;
  };
  std::vector<Column> columns_;
  std::vector<std::string> names_;
  std::vector<std::vector<double>> rows_;
  bool accuracy_, validation_, bits_per_symbol_;
};

/// A number as the log and metrics.csv print it ("nan" for NaN).
std::string fmt(double v, int precision = 6);

}  // namespace unroll
