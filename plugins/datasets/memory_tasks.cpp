// Synthetic sequence tasks that need memory over time, the classic probes of what a recurrent
// network can learn with BPTT: delayed recall, the copy task and the adding problem. Every
// sequence is drawn once, at construction, from the stream derived from (experiment seed,
// instance name + "/data"); symbols are stored as bytes and one-hot encoded per batch.
#include <unroll/plugin.hpp>

namespace {

using unroll::Error;
using unroll::Split;

// Input symbol of a padding step: an all-zero input column (its label is -1).
constexpr uint8_t kPad = 255;

// Sequences of one-hot input symbols with a class label (or -1 = no loss) at every step.
// Shorter sequences are padded at the end (kPad inputs, -1 labels): exact for every-step
// losses, see docs/bptt.md.
class SymbolTask final : public unroll::Dataset {
 public:
  struct Part {
    std::vector<uint8_t> in;  // samples x steps, sample-major
    std::vector<int16_t> out;
    std::size_t samples = 0;
  };
  SymbolTask(unroll::DatasetInfo info, Part train, Part test) : info_(info), parts_{std::move(train), std::move(test)} {
    info_.has_test = parts_[1].samples > 0;
  }
  unroll::DatasetInfo info() const override { return info_; }
  std::size_t size(Split s) const override { return part(s).samples; }
  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const Part& p = part(s);
    const int T = info_.steps, B = static_cast<int>(indices.size());
    x.resize(info_.input_size, T, B);
    x.data.setZero();
    y.steps = T;
    y.batch = B;
    y.labels.resize(static_cast<std::size_t>(T) * B);
    y.values.resize(0, 0);
    for (int b = 0; b < B; ++b) {
      const std::size_t i = indices[b];
      if (i >= p.samples)
        throw Error("sequence task: sample " + std::to_string(i) + " requested, the split has " +
                    std::to_string(p.samples));
      for (int t = 0; t < T; ++t) {
        const std::size_t at = i * T + t, col = static_cast<std::size_t>(t) * B + b;
        if (p.in[at] != kPad) x.data(p.in[at], static_cast<Eigen::Index>(col)) = 1.0f;
        y.labels[col] = p.out[at];
      }
    }
  }

 private:
  const Part& part(Split s) const { return parts_[s == Split::Train ? 0 : 1]; }
  unroll::DatasetInfo info_;
  Part parts_[2];
};

unroll::Rng data_rng(const unroll::BuildContext& ctx) { return unroll::Rng::derive(ctx.seed, ctx.name + "/data"); }

// ---- delayed_recall ----

unroll::Schema delayed_recall_schema() {
  unroll::Schema s("delayed_recall",
                   "Delayed recall: a stream of random symbols (one-hot); the target at step t is the symbol seen "
                   "at step t - lag (no target before step lag); loss at every step");
  s.integer("lag", 5, "how many steps back the target symbol was shown").at_least(1);
  s.integer("alphabet", 4, "number of distinct symbols (input features and classes)").range(2, 255);
  s.integer("length", 20, "sequence length T; must exceed lag").at_least(2);
  s.integer("min_length", 0,
            "if > 0, each sequence's length is drawn from [min_length, length] and shorter ones are padded "
            "at the end and masked (variable-length batches)")
      .at_least(0);
  s.integer("samples", 1000, "training sequences").at_least(1);
  s.integer("test_samples", 200, "test sequences; 0 = no test split").at_least(0);
  return s;
}

std::unique_ptr<unroll::Dataset> make_delayed_recall(const unroll::Options& o, unroll::BuildContext& ctx) {
  const int L = o.i("lag"), A = o.i("alphabet"), T = o.i("length");
  const int min_len = o.i("min_length");
  if (T <= L)
    throw Error("delayed_recall: length (" + std::to_string(T) + ") must exceed lag (" + std::to_string(L) + ")");
  if (min_len > T)
    throw Error("delayed_recall: min_length (" + std::to_string(min_len) + ") exceeds length (" + std::to_string(T) +
                ")");
  unroll::Rng rng = data_rng(ctx);
  auto fill = [&](std::size_t n) {
    SymbolTask::Part p;
    p.samples = n;
    p.in.resize(n * T);
    p.out.resize(n * T);
    for (std::size_t i = 0; i < n; ++i) {
      const int len = min_len > 0 ? min_len + static_cast<int>(rng.below(T - min_len + 1)) : T;
      for (int t = 0; t < T; ++t) {
        const bool pad = t >= len;
        p.in[i * T + t] = pad ? kPad : static_cast<uint8_t>(rng.below(A));
        p.out[i * T + t] = (pad || t < L) ? int16_t(-1) : int16_t(p.in[i * T + t - L]);
      }
    }
    return p;
  };
  unroll::DatasetInfo info{.input_size = A, .steps = T, .output_size = A, .labels = true, .every_step = true};
  auto train = fill(o.integer("samples"));
  return std::make_unique<SymbolTask>(info, std::move(train), fill(o.integer("test_samples")));
}

// ---- copy ----

unroll::Schema copy_schema() {
  unroll::Schema s("copy",
                   "Copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): `symbols` random symbols, "
                   "`delay` blanks, a delimiter, then blanks during which the network outputs the symbols in order");
  s.integer("symbols", 10, "length S of the sequence to copy").at_least(1);
  s.integer("alphabet", 8, "distinct data symbols; inputs have alphabet + 2 features (blank, delimiter)").range(2, 253);
  s.integer("delay", 0, "blank steps between the sequence and the delimiter (T = 2 symbols + delay + 1)").at_least(0);
  s.integer("samples", 1000, "training sequences").at_least(1);
  s.integer("test_samples", 200, "test sequences; 0 = no test split").at_least(0);
  return s;
}

std::unique_ptr<unroll::Dataset> make_copy(const unroll::Options& o, unroll::BuildContext& ctx) {
  const int S = o.i("symbols"), A = o.i("alphabet"), delay = o.i("delay");
  const int T = 2 * S + delay + 1, blank = A, delimiter = A + 1, cue = S + delay;
  unroll::Rng rng = data_rng(ctx);
  auto fill = [&](std::size_t n) {
    SymbolTask::Part p;
    p.samples = n;
    p.in.assign(n * T, static_cast<uint8_t>(blank));
    p.out.assign(n * T, -1);
    for (std::size_t i = 0; i < n; ++i) {
      uint8_t* in = &p.in[i * T];
      for (int t = 0; t < S; ++t) in[t] = static_cast<uint8_t>(rng.below(A));
      in[cue] = static_cast<uint8_t>(delimiter);
      for (int t = 0; t < S; ++t) p.out[i * T + cue + 1 + t] = in[t];
    }
    return p;
  };
  unroll::DatasetInfo info{.input_size = A + 2, .steps = T, .output_size = A, .labels = true, .every_step = true};
  auto train = fill(o.integer("samples"));
  return std::make_unique<SymbolTask>(info, std::move(train), fill(o.integer("test_samples")));
}

// ---- adding ----

class Adding final : public unroll::Dataset {
 public:
  struct Part {
    std::vector<float> value;     // samples x steps
    std::vector<int32_t> marked;  // two marked steps per sample
    std::size_t samples = 0;
  };
  Adding(int T, Part train, Part test) : T_(T), parts_{std::move(train), std::move(test)} {}
  unroll::DatasetInfo info() const override {
    return {.input_size = 2,
            .steps = T_,
            .output_size = 1,
            .labels = false,
            .every_step = false,
            .has_test = parts_[1].samples > 0};
  }
  std::size_t size(Split s) const override { return part(s).samples; }
  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const Part& p = part(s);
    const int B = static_cast<int>(indices.size());
    x.resize(2, T_, B);
    x.data.row(1).setZero();
    y.steps = 1;
    y.batch = B;
    y.labels.clear();
    y.values.resize(1, B);
    for (int b = 0; b < B; ++b) {
      const std::size_t i = indices[b];
      if (i >= p.samples)
        throw Error("adding: sample " + std::to_string(i) + " requested, the split has " + std::to_string(p.samples));
      for (int t = 0; t < T_; ++t) x.data(0, static_cast<Eigen::Index>(t) * B + b) = p.value[i * T_ + t];
      float sum = 0;
      for (int m = 0; m < 2; ++m) {
        const int t = p.marked[2 * i + m];
        x.data(1, static_cast<Eigen::Index>(t) * B + b) = 1.0f;
        sum += p.value[i * T_ + t];
      }
      y.values(0, b) = sum;
    }
  }

 private:
  const Part& part(Split s) const { return parts_[s == Split::Train ? 0 : 1]; }
  int T_;
  Part parts_[2];
};

unroll::Schema adding_schema() {
  unroll::Schema s("adding",
                   "Adding problem (Hochreiter & Schmidhuber 1997): inputs (v_t ~ U[0,1], marker_t); one marker in "
                   "each half of the sequence; target at the last step = sum of the two marked values");
  s.integer("length", 50, "sequence length T").at_least(2);
  s.integer("samples", 1000, "training sequences").at_least(1);
  s.integer("test_samples", 200, "test sequences; 0 = no test split").at_least(0);
  return s;
}

std::unique_ptr<unroll::Dataset> make_adding(const unroll::Options& o, unroll::BuildContext& ctx) {
  const int T = o.i("length"), half = T / 2;
  unroll::Rng rng = data_rng(ctx);
  auto fill = [&](std::size_t n) {
    Adding::Part p;
    p.samples = n;
    p.value.resize(n * T);
    p.marked.resize(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      for (int t = 0; t < T; ++t) p.value[i * T + t] = static_cast<float>(rng.uniform());
      p.marked[2 * i] = static_cast<int32_t>(rng.below(half));
      p.marked[2 * i + 1] = half + static_cast<int32_t>(rng.below(T - half));
    }
    return p;
  };
  auto train = fill(o.integer("samples"));
  return std::make_unique<Adding>(T, std::move(train), fill(o.integer("test_samples")));
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(delayed_recall_schema(), make_delayed_recall);
  registry.add_dataset(copy_schema(), make_copy);
  registry.add_dataset(adding_schema(), make_adding);
}
