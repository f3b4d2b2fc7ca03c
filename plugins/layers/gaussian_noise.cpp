// Additive Gaussian noise as a layer stage: training noise on inputs or hidden activations
// (Bishop 1995 showed that input noise acts as a Tikhonov regularizer). The identity in Eval.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class GaussianNoise final : public Layer {
 public:
  GaussianNoise(const Options& o, const BuildContext& c)
      : std_(o.real("std")), size_(c.input_size), rng_(Rng::derive(c.seed, c.name)) {}

  int output_size() const override { return size_; }
  void set_epoch_rng(const Rng& rng) override { rng_ = rng; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(x.features(), x.steps, x.batch);
    y.data = x.data;
    if (mode != Mode::Train || std_ == 0) return;
    for (Eigen::Index k = 0; k < y.data.size(); ++k) y.data.data()[k] += static_cast<Scalar>(std_ * rng_.normal());
  }

  // The noise does not depend on x: dy/dx = I.
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (need_dx) {
      dx.resize(dy.features(), dy.steps, dy.batch);
      dx.data = dy.data;
    }
  }

 private:
  double std_;
  int size_;
  Rng rng_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("gaussian_noise", "additive noise: y = x + n, n ~ N(0, std^2) in train, y = x in eval (Bishop 1995)");
  s.real("std", 0.1, "standard deviation of the noise").at_least(0);
  registry.add_layer(std::move(s),
                     [](const Options& o, BuildContext& c) { return std::make_unique<GaussianNoise>(o, c); });
}
