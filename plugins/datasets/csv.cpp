// A CSV file with a header row as a dataset: chosen feature columns in, one target column out.
// A target column of words ("setosa", "virginica") becomes class indices in sorted order, and
// the names are reported by class_names() so the run folder keeps them (classes.json).
#include <unroll/names.hpp>
#include <unroll/files.hpp>
#include <unroll/plugin.hpp>
#include <unroll/rng.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "csv_table.hpp"

namespace {

using unroll::Error;
using unroll::Split;
using unroll::csv::Table;

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

/// A number written in full ("3", "-0.5", "1e-3"), or nothing.
std::optional<double> number(const std::string& text) {
  const std::string s = trim(text);
  double v = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (s.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

std::string where(const Table& t, std::size_t row, std::size_t col) {
  return t.path + ":" + std::to_string(t.rows[row].line) + ":" + std::to_string(col + 1) + ": column '" +
         t.header[col] + "'";
}

/// Column index of a name, or of a 1-based column number when no column has that name.
std::size_t column_of(const Table& t, const std::string& item, const std::string& option) {
  for (std::size_t c = 0; c < t.header.size(); ++c)
    if (t.header[c] == item) return c;
  if (const auto n = number(item); n && *n >= 1 && *n <= static_cast<double>(t.header.size()) && *n == std::floor(*n))
    return static_cast<std::size_t>(*n) - 1;
  throw Error(t.path + ":1: " + option + ": no column '" + item + "'" +
              [&] {
                const std::string near = unroll::nearest(item, t.header);
                return near.empty() ? std::string() : " (did you mean '" + near + "'?)";
              }() +
              "; the header has " + std::to_string(t.header.size()) + " columns");
}

/// `features`: "" (every column but the target), or a comma-separated list of column names,
/// 1-based column numbers and inclusive ranges FIRST:LAST of either.
std::vector<std::size_t> feature_columns(const Table& t, const std::string& spec, const std::string& target) {
  std::vector<std::size_t> cols;
  if (trim(spec).empty()) {
    for (std::size_t c = 0; c < t.header.size(); ++c)
      if (t.header[c] != target) cols.push_back(c);
  } else {
    std::size_t at = 0;
    while (at <= spec.size()) {
      const std::size_t comma = std::min(spec.find(',', at), spec.size());
      const std::string item = trim(spec.substr(at, comma - at));
      at = comma + 1;
      if (item.empty()) continue;
      const std::size_t colon = item.find(':');
      if (colon == std::string::npos ||
          std::any_of(t.header.begin(), t.header.end(), [&](auto& h) { return h == item; })) {
        cols.push_back(column_of(t, item, "features"));
        continue;
      }
      const std::size_t a = column_of(t, trim(item.substr(0, colon)), "features");
      const std::size_t b = column_of(t, trim(item.substr(colon + 1)), "features");
      if (b < a) throw Error(t.path + ": features: range '" + item + "' runs backwards");
      for (std::size_t c = a; c <= b; ++c) cols.push_back(c);
    }
  }
  for (std::size_t c : cols)
    if (t.header[c] == target) throw Error(t.path + ": features include the target column '" + target + "'");
  if (cols.empty()) throw Error(t.path + ": no feature columns selected");
  return cols;
}

class CsvDataset final : public unroll::Dataset {
 public:
  struct Options {
    std::string path, test_path, features, target, targets = "auto";
    char delimiter = ',';
    double test_fraction = 0;
    bool inputs_only = false;
    uint64_t seed = 0;
    std::string name;
  };

  explicit CsvDataset(const Options& o) : inputs_only_(o.inputs_only) {
    Table train = unroll::csv::read_table(o.path, o.delimiter);
    if (train.rows.empty()) throw Error(o.path + ": the CSV file has a header but no data rows");
    std::size_t target_col = 0;
    const bool has_target =
        !o.target.empty() && std::find(train.header.begin(), train.header.end(), o.target) != train.header.end();
    if (!inputs_only_) target_col = column_of(train, o.target, "target");
    feature_names_.clear();
    cols_ = feature_columns(train, o.features, has_target || !inputs_only_ ? o.target : std::string());
    for (std::size_t c : cols_) feature_names_.push_back(train.header[c]);

    if (!inputs_only_) {
      // Labels or values: words make labels; whole numbers make labels under `auto`; else values.
      bool all_numbers = true, all_whole = true;
      for (std::size_t r = 0; r < train.rows.size(); ++r) {
        const auto& cell = train.rows[r].cells[target_col];
        if (cell.empty) throw Error(where(train, r, target_col) + ": missing target value");
        const auto v = number(cell.text);
        all_numbers = all_numbers && v.has_value();
        all_whole = all_whole && v && std::isfinite(*v) && *v == std::floor(*v);
      }
      labels_ = o.targets == "labels" || (o.targets == "auto" && (!all_numbers || all_whole));
      if (o.targets == "values" && !all_numbers)
        for (std::size_t r = 0; r < train.rows.size(); ++r)
          if (!number(train.rows[r].cells[target_col].text))
            throw Error(where(train, r, target_col) + ": '" + train.rows[r].cells[target_col].text +
                        "' is not a number (targets: values)");
      words_ = labels_ && !all_numbers;
      if (words_) {  // class index = position in the sorted set of words of the training file
        std::map<std::string, int> seen;
        for (const auto& row : train.rows) seen[trim(row.cells[target_col].text)] = 0;
        for (auto& [word, id] : seen) {
          id = static_cast<int>(names_.size());
          names_.push_back(word);
        }
        ids_ = std::move(seen);
      }
    }
    load(train, target_col, parts_[0]);

    if (!o.test_path.empty()) {
      if (o.test_fraction > 0) throw Error("csv dataset: give either test_path or test_fraction, not both");
      Table test = unroll::csv::read_table(o.test_path, o.delimiter);
      if (test.rows.empty()) throw Error(o.test_path + ": the CSV file has a header but no data rows");
      // The same columns by name, wherever they sit in the test file.
      std::vector<std::size_t> by_name;
      for (const auto& f : feature_names_) by_name.push_back(column_of(test, f, "features (as in " + o.path + ")"));
      std::swap(cols_, by_name);
      load(test, inputs_only_ ? 0 : column_of(test, o.target, "target"), parts_[1]);
      std::swap(cols_, by_name);
      has_test_ = true;
    } else if (o.test_fraction > 0) {
      split_off_test(o);
    }
    if (labels_ && !words_) {
      int most = 0;
      for (const auto& p : parts_)
        for (int32_t l : p.labels) most = std::max(most, l + 1);
      classes_ = most;
    } else {
      classes_ = labels_ ? static_cast<int>(names_.size()) : 1;
    }
    if (!inputs_only_ && labels_ && classes_ < 2)
      throw Error(o.path + ": the target column '" + o.target + "' holds " + std::to_string(classes_) +
                  " class(es); a classifier needs at least 2");
  }

  unroll::DatasetInfo info() const override {
    unroll::DatasetInfo i;
    i.input_size = static_cast<int>(cols_.size());
    i.steps = 1;
    i.output_size = inputs_only_ ? 0 : classes_;
    i.labels = labels_;
    i.has_test = has_test_;
    return i;
  }
  std::size_t size(Split s) const override { return s == Split::Test && !has_test_ ? 0 : parts_[s == Split::Test].n; }
  std::vector<std::string> class_names() const override { return names_; }
  std::vector<std::string> feature_names() const override { return feature_names_; }

  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    if (s == Split::Test && !has_test_) throw Error("csv dataset: no test split (set test_path or test_fraction)");
    const Part& p = parts_[s == Split::Test];
    const int B = static_cast<int>(indices.size()), F = static_cast<int>(cols_.size());
    x.resize(F, 1, B);
    y.steps = 1;
    y.batch = B;
    if (labels_) {
      y.labels.resize(indices.size());
      y.values.resize(0, 0);
    } else {
      y.labels.clear();
      y.values.resize(1, B);
    }
    for (int b = 0; b < B; ++b) {
      if (indices[b] >= p.n)
        throw Error("csv dataset: sample " + std::to_string(indices[b]) + " requested, the split has " +
                    std::to_string(p.n));
      const std::size_t id = p.ids.empty() ? indices[b] : p.ids[indices[b]];
      x.data.col(b) = Eigen::Map<const unroll::Vector>(p.x.data() + id * F, F);
      if (labels_)
        y.labels[b] = inputs_only_ ? -1 : p.labels[id];
      else
        y.values(0, b) = inputs_only_ ? NAN : p.values[id];
    }
  }

 private:
  struct Part {
    std::vector<float> x;  // n x F, row-major
    std::vector<int32_t> labels;
    std::vector<float> values;
    std::vector<std::size_t> ids;  // test_fraction: sample ids; empty = 0..n-1
    std::size_t n = 0;
  };

  void load(const Table& t, std::size_t target_col, Part& p) {
    const std::size_t F = cols_.size();
    p.n = t.rows.size();
    p.x.resize(p.n * F);
    for (std::size_t r = 0; r < p.n; ++r) {
      const auto& cells = t.rows[r].cells;
      for (std::size_t f = 0; f < F; ++f) {
        const std::size_t c = cols_[f];
        if (cells[c].empty) throw Error(where(t, r, c) + ": missing value");
        const auto v = number(cells[c].text);
        if (!v) throw Error(where(t, r, c) + ": '" + cells[c].text + "' is not a number");
        if (!std::isfinite(*v)) throw Error(where(t, r, c) + ": '" + cells[c].text + "' is not a finite number");
        p.x[r * F + f] = static_cast<float>(*v);
      }
      if (inputs_only_) continue;
      const auto& cell = cells[target_col];
      if (cell.empty) throw Error(where(t, r, target_col) + ": missing target value");
      if (words_) {
        const auto it = ids_.find(trim(cell.text));
        if (it == ids_.end())
          throw Error(where(t, r, target_col) + ": class '" + trim(cell.text) +
                      "' does not occur in the training file");
        p.labels.push_back(it->second);
        continue;
      }
      const auto v = number(cell.text);
      if (!v || !std::isfinite(*v))
        throw Error(where(t, r, target_col) + ": '" + cell.text + "' is not a finite number");
      if (labels_) {
        if (*v < 0 || *v != std::floor(*v) || *v > 1e9)
          throw Error(where(t, r, target_col) + ": label '" + cell.text + "' is not a class index (0, 1, 2, ...)");
        p.labels.push_back(static_cast<int32_t>(*v));
      } else {
        p.values.push_back(static_cast<float>(*v));
      }
    }
  }

  void split_off_test(const Options& o) {
    Part& train = parts_[0];
    const std::size_t n = train.n;
    const auto n_test = static_cast<std::size_t>(std::llround(o.test_fraction * static_cast<double>(n)));
    if (n_test == 0 || n_test >= n)
      throw Error(o.path + ": test_fraction " + std::to_string(o.test_fraction) + " of " + std::to_string(n) +
                  " rows leaves " + std::to_string(n_test) + " test rows");
    // A seeded random subset, not the file's tail: files are often sorted by class.
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    unroll::Rng rng = unroll::Rng::derive(o.seed, o.name + "/test-split");
    for (std::size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
    Part& test = parts_[1];
    test = train;  // shares nothing with the file; rows are small next to tensors
    test.ids.assign(perm.end() - static_cast<long>(n_test), perm.end());
    train.ids.assign(perm.begin(), perm.end() - static_cast<long>(n_test));
    std::sort(train.ids.begin(), train.ids.end());
    std::sort(test.ids.begin(), test.ids.end());
    train.n = train.ids.size();
    test.n = test.ids.size();
    has_test_ = true;
  }

  bool inputs_only_;
  bool labels_ = true, words_ = false, has_test_ = false;
  int classes_ = 0;
  std::vector<std::size_t> cols_;
  std::vector<std::string> feature_names_, names_;
  std::map<std::string, int> ids_;
  Part parts_[2];
};

unroll::Schema schema() {
  unroll::Schema s("csv",
                   "A CSV file with a header row (parsed by libcsv): feature columns by name, number or range; one "
                   "target column, whose words become classes in sorted order (saved as classes.json)");
  s.string("path", "", "the CSV file; relative to the experiment file").required = true;
  s.string("target", "", "name of the target column").required = true;
  s.string("features", "",
           "feature columns: comma-separated names, 1-based numbers and inclusive ranges FIRST:LAST; empty = every "
           "column but the target");
  s.choice("targets", "auto", {"auto", "labels", "values"},
           "what the target holds (auto: words or whole numbers = class labels, other numbers = values)");
  s.string("test_path", "", "a CSV file with the same columns as the test split; empty = none");
  s.real("test_fraction", 0, "without test_path: this fraction of the rows (a seeded random subset) is the test split")
      .range(0, 1)
      .below(1);
  s.string("delimiter", ",", "field separator (one character; \"\\t\" for tab-separated files)");
  s.boolean("inputs_only", false, "read the feature columns only, no target (what `unroll predict` uses)");
  return s;
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    CsvDataset::Options d;
    d.path = unroll::resolve_path(o.string("path"), ctx.base_dir);
    d.test_path = unroll::resolve_path(o.string("test_path"), ctx.base_dir);
    d.target = o.string("target");
    d.features = o.string("features");
    d.targets = o.string("targets");
    d.test_fraction = o.real("test_fraction");
    d.inputs_only = o.boolean("inputs_only");
    std::string delim = o.string("delimiter");
    if (delim == "\\t") delim = "\t";
    if (delim.size() != 1) throw Error("csv dataset: delimiter must be one character, got '" + delim + "'");
    d.delimiter = delim[0];
    if (d.path.empty()) throw Error("csv dataset: option 'path' is required");
    if (d.target.empty() && !d.inputs_only) throw Error("csv dataset: option 'target' (the target column) is required");
    d.seed = ctx.seed;
    d.name = ctx.name;
    return std::make_unique<CsvDataset>(d);
  });
}
