// dense: y = W x + b, applied to every column (all T steps of a sequence in one GEMM).
#include <unroll/linalg.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Dense final : public Layer {
 public:
  Dense(const std::string& name, int inputs, int units, bool bias, const Node& init, const Node& bias_init)
      : units_(units),
        bias_(bias),
        W_(name + ".W", units, inputs, /*fan_in=*/inputs, /*fan_out=*/units, init),
        b_(name + ".b", bias ? units : 0, 1, inputs, units, bias_init) {}

  int output_size() const override { return units_; }
  std::vector<Param*> params() override {
    if (bias_) return {&W_, &b_};
    return {&W_};
  }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(units_, x.steps, x.batch);
    // The bias goes in first and the product adds to it: one pass over y fewer than adding it after.
    if (bias_) y.data.colwise() = b_.value.col(0);
    gemm(y.data, W_.value, Trans::No, x.data, Trans::No, 1.0f, /*beta=*/bias_ ? 1.0f : 0.0f);
    if (mode == Mode::Train) x_ = &x.data;  // alive and unchanged until backward (layer.hpp)
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    gemm(W_.grad, dy.data, Trans::No, *x_, Trans::Yes, 1.0f, /*beta=*/1.0f);  // accumulate
    if (bias_) add_row_sums(b_.grad.col(0), dy.data);
    if (need_dx) {
      dx.resize(input_size(), dy.steps, dy.batch);
      gemm(dx.data, W_.value, Trans::Yes, dy.data, Trans::No);
    }
  }

 private:
  int units_;
  bool bias_;
  Param W_, b_;
  const Matrix* x_ = nullptr;  // input of the last train forward
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("dense", "Fully connected layer: y = W x + b (W is units x input).");
  s.integer("units", "Number of output features.").at_least(1);
  s.boolean("bias", true, "Add the bias vector b.");
  s.component("init", "initializer", "{kind: xavier_uniform}", "Initializer of W (fan_in = input, fan_out = units).");
  s.component("bias_init", "initializer", "{kind: constant, value: 0}", "Initializer of b.");
  registry.add_layer(
      std::move(s),
      [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
        if (c.input_size < 1)
          throw Error(c.name + ": dense needs at least one input feature, got " + std::to_string(c.input_size));
        return std::make_unique<Dense>(c.name, c.input_size, o.i("units"), o.boolean("bias"), o.block("init"),
                                       o.block("bias_init"));
      },
      [](const Options& o, int in) {  // memory estimate: W and b; it caches only a pointer to x
        const long long units = o.integer("units");
        return LayerFootprint{static_cast<int>(units), static_cast<double>(units) * (in + (o.boolean("bias") ? 1 : 0)),
                              0};
      });
}
