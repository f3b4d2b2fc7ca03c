// Element-wise activations: sigmoid, tanh, relu, identity. Each derivative is written in terms
// of the output y, so forward caches only y.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

enum class Fn { Sigmoid, Tanh, Relu, Identity };

class Activation final : public Layer {
 public:
  Activation(Fn fn, int size) : fn_(fn), size_(size) {}
  int output_size() const override { return size_; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(size_, x.steps, x.batch);
    auto a = x.data.array();
    switch (fn_) {
      case Fn::Sigmoid: y.data = (1.0f + (-a).exp()).inverse().matrix(); break;
      case Fn::Tanh: y.data = a.tanh().matrix(); break;
      case Fn::Relu: y.data = a.max(0.0f).matrix(); break;
      case Fn::Identity: y.data = x.data; break;
    }
    if (mode == Mode::Train) y_ = &y.data;  // our own output: alive until backward (layer.hpp)
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (!need_dx) return;  // no parameters: nothing else to do
    dx.resize(size_, dy.steps, dy.batch);
    auto g = dy.data.array();
    auto y = y_->array();
    switch (fn_) {
      case Fn::Sigmoid: dx.data = (g * y * (1.0f - y)).matrix(); break;
      case Fn::Tanh: dx.data = (g * (1.0f - y.square())).matrix(); break;
      // y > 0 exactly when x > 0: the derivative at 0 is taken as 0.
      case Fn::Relu: dx.data = (y > 0.0f).select(g, 0.0f).matrix(); break;
      case Fn::Identity: dx.data = dy.data; break;
    }
  }

 private:
  Fn fn_;
  int size_;
  const Matrix* y_ = nullptr;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  const struct {
    const char* kind;
    Fn fn;
    const char* summary;
  } all[] = {
      {"sigmoid", Fn::Sigmoid, "Logistic sigmoid, element-wise: y = 1 / (1 + exp(-x))."},
      {"tanh", Fn::Tanh, "Hyperbolic tangent, element-wise: y = tanh(x)."},
      {"relu", Fn::Relu, "Rectified linear unit, element-wise: y = max(0, x) (Nair & Hinton 2010); derivative 0 at 0."},
      {"identity", Fn::Identity, "Identity: y = x (a linear output layer needs no activation; useful in ablations)."},
  };
  for (const auto& a : all)
    registry.add_layer(Schema(a.kind, a.summary), [fn = a.fn](const Options&, BuildContext& c) -> std::unique_ptr<Layer> {
      return std::make_unique<Activation>(fn, c.input_size);
    });
}
