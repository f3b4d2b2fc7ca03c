// last_step: keeps the last step of each sequence, y = x_{T-1} (features x B, one step).
// After a recurrent layer of a model whose loss is at the last step, it makes the layers above
// run on one step instead of T (PyTorch's out[-1], Keras' return_sequences=False): the same
// numbers, T times less work in the head.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class LastStep final : public Layer {
 public:
  explicit LastStep(int size) : size_(size) {}
  int output_size() const override { return size_; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode) override {
    steps_ = x.steps;
    y.resize(size_, 1, x.batch);
    y.data = x.step(x.steps - 1);
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (!need_dx) return;  // no parameters
    dx.resize(size_, steps_, dy.batch);
    dx.data.setZero();
    dx.step(steps_ - 1) = dy.data;
  }

 private:
  int size_;
  int steps_ = 1;  // of the last forward's input
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("last_step",
           "Keeps only the last step of each sequence: y = x_{T-1}, one step per sequence. Put it after the "
           "last recurrent layer when the loss is at the last step (train.loss_at: last), so the layers after it "
           "run on one step instead of T.");
  registry.add_layer(std::move(s), [](const Options&, BuildContext& c) -> std::unique_ptr<Layer> {
    return std::make_unique<LastStep>(c.input_size);
  });
}
