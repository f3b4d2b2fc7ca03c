// Element-wise activations: sigmoid, tanh, relu, identity. Each derivative is written in terms
// of the output y, so forward caches only y.
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

enum class Fn { Sigmoid, Tanh, Relu, Identity };

class Activation final : public Layer {
 public:
  Activation(Fn fn, int size) : fn_(fn), size_(size) {}
  int output_size() const override { return size_; }

 protected:
  // Element-wise, split over the run's threads in L1-sized blocks (wide batches and whole
  // sequences make these passes long enough to pay for it).
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(size_, x.steps, x.batch);
    for_each_block(
        [this](ConstArrayMap a, ArrayMap r) {
          switch (fn_) {
            case Fn::Sigmoid: r = (1.0f + (-a).exp()).inverse(); break;
            case Fn::Tanh: r = a.tanh(); break;
            case Fn::Relu: r = a.max(0.0f); break;
            case Fn::Identity: r = a; break;
          }
        },
        x.data, y.data);
    if (mode == Mode::Train) y_ = &y.data;  // our own output: alive until backward (layer.hpp)
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (!need_dx) return;  // no parameters: nothing else to do
    dx.resize(size_, dy.steps, dy.batch);
    for_each_block(
        [this](ConstArrayMap g, ConstArrayMap y, ArrayMap r) {
          switch (fn_) {
            case Fn::Sigmoid: r = g * y * (1.0f - y); break;
            case Fn::Tanh: r = g * (1.0f - y.square()); break;
            // y > 0 exactly when x > 0: the derivative at 0 is taken as 0.
            case Fn::Relu: r = (y > 0.0f).select(g, 0.0f); break;
            case Fn::Identity: r = g; break;
          }
        },
        dy.data, *y_, dx.data);
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
    registry.add_layer(Schema(a.kind, a.summary),
                       [fn = a.fn](const Options&, BuildContext& c) -> std::unique_ptr<Layer> {
                         return std::make_unique<Activation>(fn, c.input_size);
                       });
}
