// Dropout as a layer stage (Srivastava et al. 2014), in its "inverted" form: in Train each unit
// is kept with probability 1-p and scaled by 1/(1-p), so Eval is the identity and needs no
// rescaling. `variational` (Gal & Ghahramani 2016) draws one mask per sequence and reuses it at
// every step, which is how dropout is applied between the layers of a recurrent model.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Dropout final : public Layer {
 public:
  Dropout(const Options& o, const BuildContext& c)
      : rate_(o.real("rate")),
        variational_(o.boolean("variational")),
        size_(c.input_size),
        rng_(Rng::derive(c.seed, c.name)) {}

  int output_size() const override { return size_; }
  // Masks come from the per-epoch stream only, so a resumed run draws the same masks.
  void set_epoch_rng(const Rng& rng) override {
    rng_ = rng;
    fresh_ = true;
  }
  // A new sequence: the variational mask is drawn again. Truncated-BPTT windows of one sequence
  // do not call this, so they share the sequence's mask.
  void reset_state(int) override { fresh_ = true; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(x.features(), x.steps, x.batch);
    masked_ = mode == Mode::Train && rate_ > 0;
    if (!masked_) {
      y.data = x.data;
      return;
    }
    if (variational_ && static_cast<Eigen::Index>(x.steps) * x.batch != x.data.cols())
      throw Error(name() + ": variational dropout needs steps*batch == columns, got " + std::to_string(x.steps) + "*" +
                  std::to_string(x.batch) + " != " + std::to_string(x.data.cols()));
    const Eigen::Index cols = variational_ ? x.batch : x.data.cols();
    if (!variational_ || fresh_ || mask_.rows() != x.features() || mask_.cols() != cols) {
      mask_.resize(x.features(), cols);
      const double keep = 1.0 - rate_;
      const auto scale = static_cast<Scalar>(1.0 / keep);
      for (Eigen::Index k = 0; k < mask_.size(); ++k) mask_.data()[k] = rng_.uniform() < keep ? scale : Scalar(0);
      fresh_ = false;
    }
    apply(x, y);
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (!need_dx) return;
    dx.resize(dy.features(), dy.steps, dy.batch);
    if (masked_)
      apply(dy, dx);
    else
      dx.data = dy.data;
  }

 private:
  void apply(const Seq& in, Seq& out) const {
    if (!variational_) {
      out.data.array() = in.data.array() * mask_.array();
      return;
    }
    for (int t = 0; t < in.steps; ++t) out.step(t).array() = in.step(t).array() * mask_.array();
  }

  double rate_;
  bool variational_;
  int size_;
  Rng rng_;
  Matrix mask_;  // features x columns, or features x batch when variational
  bool masked_ = false;
  bool fresh_ = true;  // draw a new variational mask at the next training forward
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("dropout",
           "inverted dropout: y = x * m / (1-p), m ~ Bernoulli(1-p) in train, y = x in eval "
           "(Srivastava et al. 2014; variational: Gal & Ghahramani 2016)");
  s.real("rate", 0.5, "probability p of dropping a unit").at_least(0).below(1);
  s.boolean("variational", false, "one mask per sequence, reused at every time step (Gal & Ghahramani 2016)");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) { return std::make_unique<Dropout>(o, c); });
}
