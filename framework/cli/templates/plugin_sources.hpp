#pragma once
// Source templates of `unroll new-plugin KIND NAME`, one per component kind. Placeholders:
// @NAME@ (the component and target name) and @CLASS@ (NAME in CamelCase). Each template is a
// working, trivial component, so a fresh skeleton builds and passes `unroll check-plugin`.
namespace unroll::cli::templates {

inline constexpr const char* kLayer =
    R"TPL(// @NAME@: a layer plugin for unroll (skeleton written by `unroll new-plugin layer @NAME@`).
//
// As written it is a per-feature scale, y_i = s_i * x_i, with s initialized to 1: trivial, but it
// shows every part a layer has (options, a trainable parameter, forward, backward). Replace the
// arithmetic with your own and run `unroll check-plugin build/lib@NAME@.so`: it compares
// backward() with finite differences of forward() for dL/dx and every parameter.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public Layer {
 public:
  @CLASS@(const std::string& name, int input, const Node& init)
      // Param(name, rows, cols, fan_in, fan_out, initializer block): the host runs the
      // initializer after the model is built, with a random stream derived from (seed, name).
      : scale_(name + ".scale", input, 1, 1, 1, init) {}

  // Features per output column. The host checks what forward() produces against it.
  int output_size() const override { return input_size(); }

  // Every trainable parameter (the pointers must stay valid as long as the layer lives).
  std::vector<Param*> params() override { return {&scale_}; }

 protected:
  // x.data is input_size() x (T*B): T steps of B samples, step t in columns [t*B, (t+1)*B).
  // Resize y and fill it. In Mode::Train, keep whatever backward() will need.
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(output_size(), x.steps, x.batch);
    y.data = (x.data.array().colwise() * scale_.value.col(0).array()).matrix();
    if (mode == Mode::Train) x_ = x.data;
  }

  // dy = dL/dy (same shape as y). ACCUMULATE (+=, never =) every parameter's gradient into
  // p.grad; the trainer zeroes it once per update. If need_dx, resize dx and write dL/dx.
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    scale_.grad.col(0) += (dy.data.array() * x_.array()).rowwise().sum().matrix();
    if (need_dx) {
      dx.resize(input_size(), dy.steps, dy.batch);
      dx.data = (dy.data.array().colwise() * scale_.value.col(0).array()).matrix();
    }
  }

  // A recurrent cell derives RecurrentLayer (<unroll/recurrent.hpp>) instead, which owns the
  // state contract, or is written as equations (<unroll/cell.hpp>) with the backward derived:
  // `unroll new-plugin layer NAME --recurrent` scaffolds both. check-plugin then also checks 4
  // steps from a random non-zero state.

 private:
  Param scale_;
  Matrix x_;  // the input of the last training forward
};

}  // namespace

// The one entry point of the library: declare each component's options (type, default, range,
// one doc line each; `unroll plugins --describe @NAME@` prints them) and its factory.
UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Per-feature scale: y_i = s_i * x_i (replace with what your layer computes).");
  s.component("init", "initializer", "{kind: constant, value: 1}", "Initializer of the scale vector s.");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
    return std::make_unique<@CLASS@>(c.name, c.input_size, o.block("init"));
  });
}
)TPL";

inline constexpr const char* kLoss =
    R"TPL(// @NAME@: a loss plugin for unroll (skeleton written by `unroll new-plugin loss @NAME@`).
//
// As written it is the squared error 0.5 * weight * ||out - t||^2 per column, with class labels
// turned into one-hot targets. `unroll check-plugin build/lib@NAME@.so` checks the gradient
// against finite differences of the value, with labels and with real-valued targets.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public Loss {
 public:
  explicit @CLASS@(double weight) : weight_(weight) {}

  // out: outputs x columns (the columns the host chose: the last step or every step).
  // Return the SUM over columns of the per-column loss; a column whose label is -1 is padding
  // and contributes nothing. If grad is non-null, resize it to out's shape and write
  // d(sum)/d(out) into it. (The host divides by the column count, not you.)
  double evaluate(ConstMatRef out, const Targets& t, Matrix* grad) override {
    double sum = 0;
    if (grad) grad->setZero(out.rows(), out.cols());
    for (Eigen::Index j = 0; j < out.cols(); ++j) {
      if (t.has_labels() && t.labels[j] < 0) continue;
      for (Eigen::Index i = 0; i < out.rows(); ++i) {
        const double target = t.has_labels() ? (t.labels[j] == i ? 1.0 : 0.0) : t.values(i, j);
        const double d = out(i, j) - target;
        sum += 0.5 * weight_ * d * d;
        if (grad) (*grad)(i, j) = static_cast<Scalar>(weight_ * d);
      }
    }
    return sum;
  }

  // True when outputs are class scores (argmax = prediction), so the host reports accuracy.
  bool classifies() const override { return true; }

 private:
  double weight_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Squared error 0.5 * weight * ||out - t||^2 (replace with your loss).");
  s.real("weight", 1.0, "Factor on the loss and its gradient.").above(0);
  registry.add_loss(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Loss> {
    return std::make_unique<@CLASS@>(o.real("weight"));
  });
}
)TPL";

inline constexpr const char* kInitializer =
    R"TPL(// @NAME@: an initializer plugin for unroll (skeleton written by `unroll new-plugin initializer @NAME@`).
//
// As written it draws w ~ N(0, std^2). `unroll check-plugin build/lib@NAME@.so` checks that what
// it produces is finite and the same for the same seed, and prints its mean and std.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public Initializer {
 public:
  explicit @CLASS@(double std) : std_(std) {}

  // Overwrite p.value (its shape is fixed; p.fan_in and p.fan_out are there for scaled
  // formulas). Draw random numbers ONLY from `rng`: the host derives it from (experiment seed,
  // parameter name), so the same seed gives the same weights.
  void fill(Param& p, Rng& rng) override {
    for (Eigen::Index k = 0; k < p.value.size(); ++k) p.value.data()[k] = static_cast<Scalar>(rng.normal(0.0, std_));
  }

 private:
  double std_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Gaussian weights w ~ N(0, std^2) (replace with your scheme; cite its paper here).");
  s.real("std", 0.05, "Standard deviation of the weights.").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<@CLASS@>(o.real("std"));
  });
}
)TPL";

inline constexpr const char* kOptimizer =
    R"TPL(// @NAME@: an optimizer plugin for unroll (skeleton written by `unroll new-plugin optimizer @NAME@`).
//
// As written it is plain gradient descent, w -= lr * g. `unroll check-plugin build/lib@NAME@.so`
// checks that 200 steps lower a quadratic and that frozen parameters are left alone.
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public ElementwiseOptimizer {
 public:
  explicit @CLASS@(double lr) : ElementwiseOptimizer("@NAME@"), lr_(lr) {}

  // The base learning rate from the options; the schedule multiplies it.
  double base_lr() const override { return lr_; }

  // One update of the given elements of each parameter that is not frozen, from its gradient
  // (already clipped and regularized; the host zeroes it afterwards). A plain run passes every
  // element of every parameter; a data-parallel run that shards the step passes each rank its
  // share, so the update of an element may use only that element (and scalars such as lr). An
  // update that needs whole tensors derives from StatefulOptimizer and overrides step() instead;
  // it then runs on every rank. Per-parameter state comes from slot(r, "/what"): a tensor
  // "dense0.W/what" of the parameter's shape that checkpoints save and restore.
  // for_each_block (<unroll/parallel.hpp>) splits the update over the run's threads in L1-sized
  // blocks.
  void step_range(const std::vector<ParamRange>& ranges, double lr) override {
    const float a = static_cast<float>(lr);
    for (const ParamRange& r : ranges) {
      if (r.param->frozen) continue;
      ArrayMap value = r.value(), grad = r.grad();
      for_each_block([a](ArrayMap w, ArrayMap g) { w -= a * g; }, value, grad);
    }
  }

 private:
  double lr_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Gradient descent w -= lr * g (replace with your update rule).");
  s.real("lr", 0.1, "Base learning rate.").above(0);
  registry.add_optimizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Optimizer> {
    return std::make_unique<@CLASS@>(o.real("lr"));
  });
}
)TPL";

inline constexpr const char* kSchedule =
    R"TPL(// @NAME@: a learning-rate schedule plugin for unroll (skeleton written by `unroll new-plugin schedule @NAME@`).
//
// As written it is inverse-time decay, factor = 1 / (1 + decay * epoch).
// `unroll check-plugin build/lib@NAME@.so` checks that the factor is finite and positive over
// 100 epochs.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public Schedule {
 public:
  explicit @CLASS@(double decay) : decay_(decay) {}

  // The multiplier of the optimizer's base lr, asked before every update. s.epoch is 0-based;
  // s.step counts updates so far; s.steps_per_epoch converts between the two; s.total_epochs
  // and s.total_steps are the run's length (a schedule that spans the run need not be told it).
  double factor(const ScheduleState& s) override { return 1.0 / (1.0 + decay_ * s.epoch); }

  // Override end_epoch(epoch, metrics) to react to "val_loss", "train_loss", ... and state()
  // to checkpoint counters (see <unroll/schedule.hpp>).

 private:
  double decay_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Inverse-time decay: factor = 1 / (1 + decay * epoch) (replace with your schedule).");
  s.real("decay", 0.1, "Decay per epoch.").at_least(0);
  registry.add_schedule(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Schedule> {
    return std::make_unique<@CLASS@>(o.real("decay"));
  });
}
)TPL";

inline constexpr const char* kRegularizer =
    R"TPL(// @NAME@: a parameter regularizer plugin for unroll (skeleton written by `unroll new-plugin regularizer @NAME@`).
//
// As written it is an L2 penalty 0.5 * lambda * ||W||^2 on weight matrices (parameters whose
// name ends in ".W"). `unroll check-plugin build/lib@NAME@.so` checks the penalty's gradient
// against finite differences of the penalty and that restore() undoes perturb().
//
// (A regularizer that acts on activations, like dropout, is a Layer instead: write it with
// `unroll new-plugin layer NAME` and use its train/eval Mode.)
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

bool is_weight(const Param& p) { return p.name.size() > 2 && p.name.compare(p.name.size() - 2, 2, ".W") == 0; }

class @CLASS@ final : public Regularizer {
 public:
  explicit @CLASS@(double lambda) : lambda_(lambda) {}

  // Add the penalty's gradient INTO p.grad (+=) and return the penalty, both scaled by
  // batch_weight (the host's factor relating the penalty to one batch's loss).
  double add_penalty_gradient(const std::vector<Param*>& params, double batch_weight) override {
    const double w = lambda_ * batch_weight;
    double sum = 0;
    for (Param* p : params) {
      if (!is_weight(*p)) continue;
      sum += p->value.cast<double>().squaredNorm();
      p->grad += static_cast<Scalar>(w) * p->value;
    }
    return 0.5 * w * sum;
  }

  // Other hooks (see <unroll/regularizer.hpp>), called in this order around each update:
  // perturb (weight noise; remember what to undo) -> forward/backward -> restore ->
  // add_penalty_gradient -> clip -> transform_gradients -> optimizer step -> after_step.

 private:
  double lambda_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "L2 penalty 0.5 * lambda * ||W||^2 on weight matrices (replace with your regularizer).");
  s.real("lambda", 1e-3, "Penalty strength.").at_least(0);
  registry.add_regularizer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Regularizer> {
    return std::make_unique<@CLASS@>(o.real("lambda"));
  });
}
)TPL";

inline constexpr const char* kDataset =
    R"TPL(// @NAME@: a dataset plugin for unroll (skeleton written by `unroll new-plugin dataset @NAME@`).
//
// As written it is two Gaussian blobs in the plane, labelled 0 and 1. `unroll check-plugin
// build/lib@NAME@.so` checks that batches have the shapes info() declares and that the same
// seed gives the same data.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class @CLASS@ final : public Dataset {
 public:
  @CLASS@(int samples, double spread, uint64_t seed) : x_(2, samples), labels_(samples) {
    // Draw everything from a stream derived from the experiment seed: the same seed, the same data.
    Rng rng = Rng::derive(seed, "@NAME@/data");
    for (int i = 0; i < samples; ++i) {
      labels_[i] = i % 2;
      const double centre = labels_[i] ? 1.0 : -1.0;
      x_(0, i) = static_cast<Scalar>(rng.normal(centre, spread));
      x_(1, i) = static_cast<Scalar>(rng.normal(centre, spread));
    }
  }

  // Shapes of what batch() produces: features per step, steps T, classes (or target features).
  DatasetInfo info() const override {
    DatasetInfo i;
    i.input_size = 2;
    i.steps = 1;
    i.output_size = 2;
    i.labels = true;
    i.has_test = false;
    return i;
  }

  std::size_t size(Split split) const override { return split == Split::Train ? labels_.size() : 0; }

  // Fill x (input_size x steps*B, step-major) and y for the given samples. Sequences: step t of
  // sample b goes to column t*B + b; targets at every step use the same layout (y.steps = T).
  void batch(Split split, std::span<const std::size_t> indices, Seq& x, Targets& y) override {
    if (split != Split::Train) throw Error("@NAME@: there is no test split");
    const int B = static_cast<int>(indices.size());
    x.resize(2, 1, B);
    y.steps = 1;
    y.batch = B;
    y.labels.resize(B);
    y.values.resize(0, 0);
    for (int b = 0; b < B; ++b) {
      if (indices[b] >= labels_.size()) throw Error("@NAME@: sample " + std::to_string(indices[b]) + " out of range");
      x.data.col(b) = x_.col(static_cast<Eigen::Index>(indices[b]));
      y.labels[b] = labels_[indices[b]];
    }
  }

 private:
  Matrix x_;
  std::vector<int32_t> labels_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("@NAME@", "Two Gaussian blobs in the plane, 2 classes (replace with your data).");
  s.integer("samples", 200, "Training samples.").at_least(2);
  s.real("spread", 0.5, "Standard deviation of each blob.").above(0);
  registry.add_dataset(std::move(s), [](const Options& o, BuildContext& c) -> std::unique_ptr<Dataset> {
    return std::make_unique<@CLASS@>(o.i("samples"), o.real("spread"), c.seed);
  });
}
)TPL";

}  // namespace unroll::cli::templates
