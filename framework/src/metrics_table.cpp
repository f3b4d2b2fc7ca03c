#include "metrics_table.hpp"

#include <algorithm>
#include <sstream>

#include "unroll/error.hpp"

namespace unroll {

std::string fmt(double v, int precision) {
  if (std::isnan(v)) return "nan";
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

void Tally::add(const ConstMatRef& out, const Targets& y, double loss_sum) {
  loss += loss_sum;
  if (!y.has_labels()) {
    count += out.cols();
    return;
  }
  for (Eigen::Index j = 0; j < out.cols(); ++j) {
    if (y.labels[j] < 0) continue;  // masked (padding)
    ++count;
    Eigen::Index arg;
    out.col(j).maxCoeff(&arg);
    if (arg == y.labels[j]) ++correct;
  }
}

bool Monitor::improves(double v, double best, double min_delta) const {
  if (!std::isfinite(v)) return false;
  if (std::isnan(best)) return true;
  return maximize ? v > best + min_delta : v < best - min_delta;
}

bool BestSoFar::observe(const std::vector<double>& row, int epoch_no) {
  const double v = row[monitor.column];
  if (!monitor.improves(v, value, min_delta)) {
    ++bad;
    return false;
  }
  value = v;
  epoch = epoch_no;
  bad = 0;
  return true;
}

MetricsTable::MetricsTable(bool accuracy, bool validation, bool bits_per_symbol)
    : accuracy_(accuracy), validation_(validation), bits_per_symbol_(bits_per_symbol) {
  const double ln2 = std::log(2.0);
  columns_.push_back({"epoch", [](const EpochMeasures& m) { return static_cast<double>(m.epoch); }});
  columns_.push_back({"train_loss", [](const EpochMeasures& m) { return m.train.mean(); }});
  if (accuracy) columns_.push_back({"train_accuracy", [](const EpochMeasures& m) { return m.train.accuracy(); }});
  if (validation) {
    columns_.push_back({"val_loss", [](const EpochMeasures& m) { return m.val.mean(); }});
    if (accuracy) columns_.push_back({"val_accuracy", [](const EpochMeasures& m) { return m.val.accuracy(); }});
  }
  if (bits_per_symbol) {
    // Bits per symbol: the mean cross-entropy (nats per symbol) in bits.
    columns_.push_back({"train_bpc", [ln2](const EpochMeasures& m) { return m.train.mean() / ln2; }});
    if (validation) columns_.push_back({"val_bpc", [ln2](const EpochMeasures& m) { return m.val.mean() / ln2; }});
  }
  columns_.push_back({"lr", [](const EpochMeasures& m) { return m.lr; }});
  columns_.push_back({"grad_norm", [](const EpochMeasures& m) { return m.grad_norm; }});
  columns_.push_back({"clip_rate", [](const EpochMeasures& m) { return m.clip_rate; }});
  columns_.push_back({"seconds", [](const EpochMeasures& m) { return m.seconds; }});
  for (const Column& c : columns_) names_.push_back(c.name);
}

const std::vector<double>& MetricsTable::add(const EpochMeasures& m) {
  std::vector<double> row;
  row.reserve(columns_.size());
  for (const Column& c : columns_) row.push_back(c.value(m));
  rows_.push_back(std::move(row));
  return rows_.back();
}

size_t MetricsTable::find(const std::string& name) const {
  return static_cast<size_t>(std::find(names_.begin(), names_.end(), name) - names_.begin());
}

Monitor MetricsTable::monitor(const MonitorSetting& setting, bool validation, std::string& note) const {
  std::string name = setting.metric.text();
  size_t col = find(name);
  if (col == names_.size() && name.rfind("val_", 0) == 0 && !validation) {
    // No validation split: watch the training counterpart rather than fail every such run.
    const std::string alt = "train_" + name.substr(4);
    if (find(alt) != names_.size()) {
      note = "note: no validation split (data.validation is 0), so " + alt + " stands in for " + name;
      name = alt;
      col = find(alt);
    }
  }
  if (col == names_.size() || name == "epoch" || name == "seconds") {
    std::string have;
    for (size_t i = 1; i + 1 < names_.size(); ++i) have += (have.empty() ? "" : ", ") + names_[i];
    throw Error(setting.metric.loc().str() + ": metric '" + setting.metric.text() +
                "' is not a column of this run's metrics.csv (" + have + ")");
  }
  const std::string& mode = setting.mode.text();
  Monitor m;
  m.name = name;
  m.column = col;
  m.maximize = mode == "max" || (mode == "auto" && name.find("accuracy") != std::string::npos);
  return m;
}

std::map<std::string, double> MetricsTable::schedule_metrics(const EpochMeasures& m) const {
  std::map<std::string, double> out{{"train_loss", m.train.mean()}};
  if (validation_) {
    out["val_loss"] = m.val.mean();
    if (accuracy_) out["val_accuracy"] = m.val.accuracy();
  }
  return out;
}

std::map<std::string, double> MetricsTable::test_metrics(const Tally& test) const {
  std::map<std::string, double> out{{"test_loss", test.mean()}};
  if (accuracy_) out["test_accuracy"] = test.accuracy();
  if (bits_per_symbol_) out["test_bpc"] = test.mean() / std::log(2.0);
  return out;
}

std::map<std::string, double> MetricsTable::last_row() const {
  std::map<std::string, double> out;
  if (!rows_.empty())
    for (size_t i = 1; i < names_.size(); ++i) out[names_[i]] = rows_.back()[i];
  return out;
}

std::string MetricsTable::epoch_line(int epochs) const {
  const std::vector<double>& row = rows_.back();
  std::ostringstream line;
  line << "epoch " << static_cast<long long>(row[0]) << "/" << epochs;
  for (size_t i = 1; i + 1 < names_.size(); ++i) line << "  " << names_[i] << " " << fmt(row[i], 4);
  line << "  " << fmt(row.back(), 3) << "s";
  return line.str();
}

std::string MetricsTable::csv() const {
  // Appended piece by piece: GCC 12 misreads `(i ? "," : "") + std::string` as an overlapping
  // copy (-Wrestrict, a false positive: GCC bug 105651).
  std::string csv;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (i) csv += ',';
    csv += names_[i];
  }
  csv += "\n";
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) csv += ',';
      csv += fmt(row[i], i == 0 ? 6 : 8);
    }
    csv += "\n";
  }
  return csv;
}

}  // namespace unroll
