// A researcher's own NumPy arrays as a dataset: inputs X [N, F] or [N, T, F], targets y.
//
// The arrays stay in their file, in their own dtype (memory-mapped by unroll::NpyArray), and the
// samples of each batch are converted to float when the batch is made, so a file larger than RAM
// trains. What the targets mean follows from their shape and dtype (see targets_of below).
#include <unroll/npy_array.hpp>
#include <unroll/files.hpp>
#include <unroll/plugin.hpp>
#include <unroll/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace {

using unroll::Error;
using unroll::NpyArray;
using unroll::Split;

/// Where the arrays come from: .npy paths, or member names of one .npz archive.
struct Source {
  std::string npz;  // empty: x and y are .npy paths
  NpyArray open(const std::string& name) const {
    return npz.empty() ? NpyArray::open(name) : NpyArray::open_npz(npz, name);
  }
};

/// How targets are laid out. With inputs [N, F] (T = 1) or [N, T, F]:
///   [N] integers            class label per sample (at the last step)
///   [N, T] integers         a label at every step, -1 = masked (inputs must be 3-D)
///   [N] / [N, K] floats     K values per sample (at the last step)
///   [N, T, K] floats        K values at every step
/// `targets: labels` / `values` overrides the dtype rule (labels given as floats must be whole).
struct Layout {
  bool labels = true, every_step = false;
  std::size_t per_step = 1;  // K for values, 1 for labels
};

class NpyDataset final : public unroll::Dataset {
 public:
  struct Options {
    Source src;
    std::string x, y, x_test, y_test, targets = "auto";
    double test_fraction = 0, scale = 1;
    int classes = 0;
    bool inputs_only = false;
    uint64_t seed = 0;
    std::string name;
  };

  explicit NpyDataset(const Options& o) : scale_(static_cast<float>(o.scale)), inputs_only_(o.inputs_only) {
    parts_[0].x = o.src.open(o.x);
    check_inputs(parts_[0].x);
    parts_[0].n = parts_[0].x.shape()[0];
    if (inputs_only_) return;  // inputs for `unroll predict`: no targets, no test split
    parts_[0].y = o.src.open(o.y);
    layout_ = layout_of(parts_[0].x, parts_[0].y, o.targets);
    check_targets(parts_[0]);
    if (!o.x_test.empty() || !o.y_test.empty()) {
      if (o.x_test.empty() || o.y_test.empty())
        throw Error("npy dataset: x_test and y_test must be given together (got only " +
                    (o.x_test.empty() ? o.y_test : o.x_test) + ")");
      if (o.test_fraction > 0)
        throw Error("npy dataset: give either test files (x_test, y_test) or test_fraction, not both");
      parts_[1].x = o.src.open(o.x_test);
      parts_[1].y = o.src.open(o.y_test);
      check_inputs(parts_[1].x);
      same_sample_shape(parts_[1].x, parts_[0].x);
      same_sample_shape(parts_[1].y, parts_[0].y);
      check_targets(parts_[1]);
      parts_[1].n = parts_[1].x.shape()[0];
      has_test_ = true;
    }
    const std::size_t n = parts_[0].x.shape()[0];
    parts_[0].n = n;
    if (o.test_fraction > 0) {
      // A seeded random subset, not the file's tail: researchers' files are often sorted by class.
      const auto n_test = static_cast<std::size_t>(std::llround(o.test_fraction * static_cast<double>(n)));
      if (n_test == 0 || n_test >= n)
        throw Error(parts_[0].x.source() + ": test_fraction " + std::to_string(o.test_fraction) + " of " +
                    std::to_string(n) + " samples leaves " + std::to_string(n_test) + " test samples");
      std::vector<std::size_t> perm(n);
      std::iota(perm.begin(), perm.end(), 0);
      unroll::Rng rng = unroll::Rng::derive(o.seed, o.name + "/test-split");
      for (std::size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
      parts_[1].ids.assign(perm.end() - static_cast<long>(n_test), perm.end());
      parts_[0].ids.assign(perm.begin(), perm.end() - static_cast<long>(n_test));
      std::sort(parts_[0].ids.begin(), parts_[0].ids.end());
      std::sort(parts_[1].ids.begin(), parts_[1].ids.end());
      parts_[1].x = parts_[0].x;
      parts_[1].y = parts_[0].y;
      parts_[0].n = parts_[0].ids.size();
      parts_[1].n = parts_[1].ids.size();
      has_test_ = true;
    }
    classes_ = layout_.labels ? count_classes(o.classes) : static_cast<int>(layout_.per_step);
  }

  unroll::DatasetInfo info() const override {
    const NpyArray& x = parts_[0].x;
    unroll::DatasetInfo i;
    i.input_size = static_cast<int>(x.shape().back());
    i.steps = x.ndim() == 3 ? static_cast<int>(x.shape()[1]) : 1;
    i.output_size = inputs_only_ ? 0 : classes_;
    i.labels = layout_.labels;
    i.every_step = layout_.every_step;
    i.has_test = has_test_;
    return i;
  }

  std::size_t size(Split s) const override { return s == Split::Test && !has_test_ ? 0 : part(s).n; }

  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const Part& p = part(s);
    const unroll::DatasetInfo in = info();
    const int B = static_cast<int>(indices.size()), T = in.steps, F = in.input_size;
    const int TY = layout_.every_step ? T : 1, K = static_cast<int>(layout_.per_step);
    x.resize(F, T, B);
    y.steps = TY;
    y.batch = B;
    if (layout_.labels) {
      y.labels.resize(static_cast<std::size_t>(TY) * B);
      y.values.resize(0, 0);
    } else {
      y.labels.clear();
      y.values.resize(K, static_cast<Eigen::Index>(TY) * B);
    }
    for (int b = 0; b < B; ++b) {
      if (indices[b] >= p.n)
        throw Error("npy dataset: sample " + std::to_string(indices[b]) + " requested, the split has " +
                    std::to_string(p.n));
      const std::size_t id = p.ids.empty() ? indices[b] : p.ids[indices[b]];
      for (int t = 0; t < T; ++t) {
        float* col = x.data.col(static_cast<Eigen::Index>(t) * B + b).data();
        p.x.to_float((id * T + t) * F, static_cast<std::size_t>(F), col);
        if (scale_ != 1.0f)
          for (int f = 0; f < F; ++f) col[f] *= scale_;
      }
      if (inputs_only_) {
        std::fill(y.labels.begin(), y.labels.end(), -1);  // every target masked
        continue;
      }
      for (int t = 0; t < TY; ++t) {
        const Eigen::Index c = static_cast<Eigen::Index>(t) * B + b;
        if (layout_.labels)
          y.labels[static_cast<std::size_t>(c)] = static_cast<int32_t>(p.y.integer(id * TY + t));
        else
          p.y.to_float((id * TY + t) * K, static_cast<std::size_t>(K), y.values.col(c).data());
      }
    }
  }

 private:
  struct Part {
    NpyArray x, y;
    std::vector<std::size_t> ids;  // sample ids in the arrays (test_fraction); empty = 0..n-1
    std::size_t n = 0;
  };

  const Part& part(Split s) const {
    if (s == Split::Test && !has_test_) throw Error("npy dataset: no test split (set x_test/y_test or test_fraction)");
    return parts_[s == Split::Train ? 0 : 1];
  }

  static void check_inputs(const NpyArray& x) {
    if (x.ndim() != 2 && x.ndim() != 3)
      throw Error(x.source() + ": inputs must be [N, F] or [N, T, F], got shape " + x.shape_text());
    for (std::size_t d : x.shape())
      if (d == 0) throw Error(x.source() + ": inputs have an empty dimension, shape " + x.shape_text());
    if (x.type() == NpyArray::Type::Bool) return;
    // One pass over the file (streamed through the page cache), so a NaN is reported here, with
    // its place, rather than as a diverged loss epochs later.
    if (!x.is_integer()) {
      const std::size_t F = x.shape().back(), chunk = F * 4096;
      std::vector<float> buf(chunk);
      for (std::size_t at = 0; at < x.size(); at += chunk) {
        const std::size_t c = std::min(chunk, x.size() - at);
        x.to_float(at, c, buf.data());
        for (std::size_t k = 0; k < c; ++k)
          if (!std::isfinite(buf[k])) throw Error(x.source() + ": " + non_finite(x, at + k, buf[k]));
      }
    }
  }

  // A whole, finite double as digits. Not through long long: a label of 1e30 has no long long
  // value, and converting it would be undefined behaviour inside the error message.
  static std::string whole_number(double v) {
    char text[400];
    std::snprintf(text, sizeof text, "%.0f", v);
    return text;
  }

  static std::string non_finite(const NpyArray& a, std::size_t i, double v) {
    std::string where;
    for (std::size_t d = a.ndim(), rest = i; d-- > 0;) {
      where = std::to_string(rest % a.shape()[d]) + (where.empty() ? "" : ", ") + where;
      rest /= a.shape()[d];
    }
    return std::string(std::isnan(v) ? "NaN" : "infinite value") + " at [" + where + "]";
  }

  static Layout layout_of(const NpyArray& x, const NpyArray& y, const std::string& targets) {
    const std::size_t N = x.shape()[0], T = x.ndim() == 3 ? x.shape()[1] : 1;
    const auto& ys = y.shape();
    if (ys.empty() || ys[0] != N)
      throw Error(y.source() + ": targets have shape " + y.shape_text() + " but the inputs " + x.source() + " have " +
                  std::to_string(N) + " samples (the first dimension must match)");
    const bool labels = targets == "auto" ? y.is_integer() : targets == "labels";
    Layout l;
    l.labels = labels;
    if (labels) {
      if (ys.size() == 1) return l;
      if (ys.size() == 2 && x.ndim() == 3 && ys[1] == T) {
        l.every_step = true;
        return l;
      }
      throw Error(y.source() + ": labels must be [N] (one per sample)" +
                  std::string(x.ndim() == 3
                                  ? " or [N, T] = [" + std::to_string(N) + ", " + std::to_string(T) + "] (one per step)"
                                  : "") +
                  ", got shape " + y.shape_text() +
                  (ys.size() == 2 && x.ndim() == 2
                       ? "; for real-valued targets [N, K] save floats or set targets: values"
                       : ""));
    }
    if (ys.size() == 1) return {false, false, 1};
    if (ys.size() == 2) return {false, false, ys[1]};
    if (ys.size() == 3 && x.ndim() == 3 && ys[1] == T) return {false, true, ys[2]};
    throw Error(y.source() + ": values must be [N], [N, K]" + std::string(x.ndim() == 3 ? " or [N, T, K]" : "") +
                ", got shape " + y.shape_text());
  }

  void check_targets(const Part& p) const {
    const NpyArray& y = p.y;
    if (y.shape()[0] != p.x.shape()[0])
      throw Error(y.source() + ": " + std::to_string(y.shape()[0]) + " targets, but " + p.x.source() + " has " +
                  std::to_string(p.x.shape()[0]) + " samples");
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double v = y.at(i);
      if (!std::isfinite(v)) throw Error(y.source() + ": " + non_finite(y, i, v));
      if (!layout_.labels) continue;
      if (v != std::floor(v))
        throw Error(y.source() + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                    " is not a whole number");
      const double lowest = layout_.every_step ? -1 : 0;
      if (v < lowest || v > 1e9)
        throw Error(y.source() + ": label " + whole_number(v) + " at index " + std::to_string(i) +
                    " is out of range (classes are 0, 1, ...; -1 masks a step of an every-step task)");
    }
  }

  int count_classes(int given) const {
    int most = 0;
    for (int s = 0; s < (has_test_ ? 2 : 1); ++s) {
      const NpyArray& y = parts_[s].y;
      for (std::size_t i = 0; i < y.size(); ++i) {
        const int64_t l = y.integer(i);
        if (given > 0 && l >= given)
          throw Error(y.source() + ": label " + std::to_string(l) + " at index " + std::to_string(i) +
                      " is not below the number of classes (" + std::to_string(given) + ")");
        most = std::max<int>(most, static_cast<int>(l) + 1);
      }
    }
    if (given == 0 && most < 2)
      throw Error(parts_[0].y.source() + ": the labels hold " + std::to_string(most) +
                  " class(es); a classifier needs at least 2 (set classes: if some never occur)");
    return given > 0 ? given : most;
  }

  static void same_sample_shape(const NpyArray& test, const NpyArray& train) {
    if (test.ndim() != train.ndim() ||
        !std::equal(test.shape().begin() + 1, test.shape().end(), train.shape().begin() + 1))
      throw Error(test.source() + ": shape " + test.shape_text() + " does not match the training array " +
                  train.source() + " " + train.shape_text() + " beyond the first (sample) dimension");
  }

  float scale_;
  bool inputs_only_;
  Layout layout_;
  Part parts_[2];
  bool has_test_ = false;
  int classes_ = 0;
};

unroll::Schema schema() {
  unroll::Schema s("npy",
                   "NumPy arrays (.npy files or a .npz archive): inputs x [N, F] or [N, T, F] of any numeric dtype, "
                   "memory-mapped and converted per batch; targets y: integer labels [N] (or [N, T] per step, -1 = "
                   "masked) or float values [N, K] (or [N, T, K] per step)");
  s.string("x", "", "inputs: a .npy file (relative to the experiment file), or an array name in `npz`").required = true;
  s.string("y", "", "targets: a .npy file, or an array name in `npz`").required = true;
  s.string("x_test", "", "test inputs (same form as x); empty = no test files");
  s.string("y_test", "", "test targets; given together with x_test");
  s.string("npz", "", "a .npz archive (np.savez or np.savez_compressed); x, y, x_test, y_test then name its arrays");
  s.real("test_fraction", 0,
         "without test files: this fraction of the samples (a seeded random subset) is the test split")
      .range(0, 1)
      .below(1);
  s.choice("targets", "auto", {"auto", "labels", "values"},
           "what y holds (auto: integer dtype = class labels, float dtype = real values)");
  s.integer("classes", 0, "number of classes; 0 = largest label + 1").at_least(0);
  s.real("scale", 1.0, "factor applied to every input element (1/255 for uint8 pixels)").above(0);
  s.boolean("inputs_only", false, "read x only, no targets (what `unroll predict` uses)");
  return s;
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    NpyDataset::Options d;
    d.src.npz = unroll::resolve_path(o.string("npz"), ctx.base_dir);
    // Inside an archive the names are member names; otherwise they are paths.
    auto name = [&](const char* key) {
      return d.src.npz.empty() ? unroll::resolve_path(o.string(key), ctx.base_dir) : o.string(key);
    };
    d.x = name("x");
    d.y = name("y");
    d.x_test = name("x_test");
    d.y_test = name("y_test");
    d.inputs_only = o.boolean("inputs_only");
    if (d.x.empty() || (d.y.empty() && !d.inputs_only)) throw Error("npy dataset: options 'x' and 'y' are required");
    d.targets = o.string("targets");
    d.test_fraction = o.real("test_fraction");
    d.classes = o.i("classes");
    d.scale = o.real("scale");
    d.seed = ctx.seed;
    d.name = ctx.name;
    return std::make_unique<NpyDataset>(d);
  });
}
