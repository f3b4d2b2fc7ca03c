// Small synthetic problems for checking that training works at all: XOR, Gaussian blobs and
// interleaved spirals. Every point is drawn once, at construction, from the stream derived from
// (experiment seed, instance name + "/data"), so a seed fixes the data.
#include <cmath>
#include <unroll/plugin.hpp>

namespace {

using unroll::Matrix;

// A split stored as float columns (these sets are tiny) with labels or real targets.
struct Part {
  Matrix x;
  std::vector<int32_t> labels;
  Matrix values;
};

class Table final : public unroll::Dataset {
 public:
  Table(unroll::DatasetInfo info, Part train, Part test) : info_(info), parts_{std::move(train), std::move(test)} {
    info_.has_test = parts_[1].x.cols() > 0;
  }
  unroll::DatasetInfo info() const override { return info_; }
  std::size_t size(unroll::Split s) const override { return static_cast<std::size_t>(part(s).x.cols()); }
  void batch(unroll::Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const Part& p = part(s);
    const int B = static_cast<int>(indices.size());
    x.resize(info_.input_size, 1, B);
    y.steps = 1;
    y.batch = B;
    y.labels.resize(info_.labels ? indices.size() : 0);
    y.values.resize(info_.labels ? 0 : info_.output_size, info_.labels ? 0 : B);
    for (int b = 0; b < B; ++b) {
      const auto i = static_cast<Eigen::Index>(indices[b]);
      if (i >= p.x.cols())
        throw unroll::Error("synthetic dataset: sample " + std::to_string(i) + " requested, the split has " +
                            std::to_string(p.x.cols()));
      x.data.col(b) = p.x.col(i);
      if (info_.labels)
        y.labels[b] = p.labels[i];
      else
        y.values.col(b) = p.values.col(i);
    }
  }

 private:
  const Part& part(unroll::Split s) const { return parts_[s == unroll::Split::Train ? 0 : 1]; }
  unroll::DatasetInfo info_;
  Part parts_[2];
};

unroll::Rng data_rng(const unroll::BuildContext& ctx) { return unroll::Rng::derive(ctx.seed, ctx.name + "/data"); }

// ---- xor ----

unroll::Schema xor_schema() {
  unroll::Schema s("xor",
                   "XOR of two bits, y = x1 xor x2 (Rumelhart, Hinton & Williams 1986): the 4 points, "
                   "repeated with optional Gaussian input noise; the test split is the 4 clean points");
  s.integer("repeat", 1, "copies of the 4 points in the training split").at_least(1);
  s.real("noise", 0.0, "std of Gaussian noise added to each training input").at_least(0);
  s.choice("targets", "values", {"values", "labels"},
           "values: one output in {0, 1} (sigmoid + squared error); labels: 2 classes");
  return s;
}

std::unique_ptr<unroll::Dataset> make_xor(const unroll::Options& o, unroll::BuildContext& ctx) {
  const bool labels = o.string("targets") == "labels";
  const int repeat = o.i("repeat");
  const double noise = o.real("noise");
  unroll::Rng rng = data_rng(ctx);
  auto fill = [&](int copies, double std) {
    Part p;
    p.x.resize(2, 4 * copies);
    p.values.resize(labels ? 0 : 1, labels ? 0 : 4 * copies);
    for (int c = 0; c < 4 * copies; ++c) {
      const int a = (c >> 1) & 1, b = c & 1;
      p.x(0, c) = static_cast<float>(a + (std > 0 ? rng.normal(0, std) : 0.0));
      p.x(1, c) = static_cast<float>(b + (std > 0 ? rng.normal(0, std) : 0.0));
      if (labels)
        p.labels.push_back(a ^ b);
      else
        p.values(0, c) = static_cast<float>(a ^ b);
    }
    return p;
  };
  unroll::DatasetInfo info{.input_size = 2, .steps = 1, .output_size = labels ? 2 : 1, .labels = labels};
  Part train = fill(repeat, noise);
  return std::make_unique<Table>(info, std::move(train), fill(1, 0.0));
}

// ---- blobs ----

unroll::Schema blobs_schema() {
  unroll::Schema s(
      "blobs", "Gaussian blobs: class k's points are x ~ N(mu_k, spread^2 I), centres mu_k ~ U[-box, box]^features");
  s.integer("classes", 3, "number of blobs (classes)").at_least(2);
  s.integer("features", 2, "input dimension").at_least(1);
  s.integer("samples", 100, "training points per class").at_least(1);
  s.integer("test_samples", 50, "test points per class; 0 = no test split").at_least(0);
  s.real("spread", 1.0, "standard deviation of each blob").at_least(0);
  s.real("box", 5.0, "centres are drawn uniformly from [-box, box] in each coordinate").above(0);
  return s;
}

std::unique_ptr<unroll::Dataset> make_blobs(const unroll::Options& o, unroll::BuildContext& ctx) {
  const int K = o.i("classes"), D = o.i("features");
  const double spread = o.real("spread"), box = o.real("box");
  unroll::Rng rng = data_rng(ctx);
  Matrix centres(D, K);
  for (int k = 0; k < K; ++k)
    for (int d = 0; d < D; ++d) centres(d, k) = static_cast<float>(rng.uniform(-box, box));
  auto fill = [&](int per_class) {
    Part p;
    p.x.resize(D, static_cast<Eigen::Index>(K) * per_class);
    for (int c = 0; c < K * per_class; ++c) {
      const int k = c % K;  // classes interleaved, so any prefix is balanced
      for (int d = 0; d < D; ++d) p.x(d, c) = static_cast<float>(centres(d, k) + rng.normal(0, spread));
      p.labels.push_back(k);
    }
    return p;
  };
  unroll::DatasetInfo info{.input_size = D, .steps = 1, .output_size = K, .labels = true};
  Part train = fill(o.i("samples"));
  return std::make_unique<Table>(info, std::move(train), fill(o.i("test_samples")));
}

// ---- spirals ----

unroll::Schema spirals_schema() {
  unroll::Schema s("spirals",
                   "K interleaved spirals (two-spirals problem, Lang & Witbrock 1988): arm k at t ~ U[0,1] is "
                   "t * (cos, sin)(2 pi (turns t + k / K)) + N(0, noise^2)");
  s.integer("classes", 2, "number of spiral arms (classes)").at_least(2);
  s.integer("samples", 100, "training points per arm").at_least(1);
  s.integer("test_samples", 50, "test points per arm; 0 = no test split").at_least(0);
  s.real("turns", 1.0, "revolutions of each arm").above(0);
  s.real("noise", 0.0, "std of Gaussian noise added to each coordinate").at_least(0);
  return s;
}

std::unique_ptr<unroll::Dataset> make_spirals(const unroll::Options& o, unroll::BuildContext& ctx) {
  const int K = o.i("classes");
  const double turns = o.real("turns"), noise = o.real("noise");
  unroll::Rng rng = data_rng(ctx);
  auto fill = [&](int per_class) {
    Part p;
    p.x.resize(2, static_cast<Eigen::Index>(K) * per_class);
    for (int c = 0; c < K * per_class; ++c) {
      const int k = c % K;
      const double t = rng.uniform();
      const double angle = 2 * M_PI * (turns * t + static_cast<double>(k) / K);
      p.x(0, c) = static_cast<float>(t * std::cos(angle) + (noise > 0 ? rng.normal(0, noise) : 0.0));
      p.x(1, c) = static_cast<float>(t * std::sin(angle) + (noise > 0 ? rng.normal(0, noise) : 0.0));
      p.labels.push_back(k);
    }
    return p;
  };
  unroll::DatasetInfo info{.input_size = 2, .steps = 1, .output_size = K, .labels = true};
  Part train = fill(o.i("samples"));
  return std::make_unique<Table>(info, std::move(train), fill(o.i("test_samples")));
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(xor_schema(), make_xor);
  registry.add_dataset(blobs_schema(), make_blobs);
  registry.add_dataset(spirals_schema(), make_spirals);
}
