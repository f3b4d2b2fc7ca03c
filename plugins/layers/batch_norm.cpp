// Batch normalization (Ioffe & Szegedy 2015) as a layer stage. Per feature, statistics are taken
// over all T*B columns of the batch: for sequences they are pooled over batch AND time, with one
// gamma/beta shared by every step (the layer sees a sequence as one wide batch, types.hpp).
// Running statistics follow PyTorch: running = (1-m)*running + m*batch, with the unbiased
// batch variance; they are buffers, so checkpoints save them.
//
// In a data-parallel run each rank sees only its slice of the batch. By default the statistics
// are the rank's own (as PyTorch's BatchNorm under DistributedDataParallel); with `sync: true`
// the sums behind the mean, the variance and the backward pass are added over every rank
// (unroll::communicator()), so the layer normalizes by the global batch exactly as one process
// would. A plugin sees the ranks only through <unroll/communicator.hpp>.
#include <cmath>
#include <span>
#include <vector>

#include <unroll/communicator.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class BatchNorm final : public Layer {
 public:
  BatchNorm(const Options& o, const BuildContext& c)
      : momentum_(o.real("momentum")),
        eps_(o.real("eps")),
        sync_(o.boolean("sync")),
        n_(c.input_size),
        gamma_(c.name + ".gamma", n_, 1, 1, 1, o.block("gamma_init")),
        beta_(c.name + ".beta", n_, 1, 1, 1, o.block("beta_init")),
        mean_name_(c.name + ".running_mean"),
        var_name_(c.name + ".running_var"),
        running_mean_(Matrix::Zero(n_, 1)),
        running_var_(Matrix::Ones(n_, 1)) {
    gamma_.value.setOnes();  // usable before the host runs the init blocks
  }

  int output_size() const override { return n_; }
  std::vector<Param*> params() override { return {&gamma_, &beta_}; }
  std::vector<std::pair<std::string, Matrix*>> buffers() override {
    return {{mean_name_, &running_mean_}, {var_name_, &running_var_}};
  }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    y.resize(n_, x.steps, x.batch);
    const auto gamma = gamma_.value.col(0).array();
    const auto beta = beta_.value.col(0).array();
    if (mode == Mode::Eval) {
      scale_ = gamma * (running_var_.col(0).array() + eps_).rsqrt();
      shift_ = beta - running_mean_.col(0).array() * scale_.array();
      y.data.array() = (x.data.array().colwise() * scale_.array()).colwise() + shift_.array();
      return;
    }
    Eigen::Index N = x.data.cols();
    if (synced()) {
      // Global mean first, then the squared deviations from it (the two-pass variance).
      sums_.assign(static_cast<size_t>(n_) + 1, 0.0);
      for (Eigen::Index i = 0; i < n_; ++i) sums_[i] = x.data.row(i).cast<double>().sum();
      sums_[n_] = static_cast<double>(N);
      communicator().allreduce_sum(std::span<double>(sums_));
      N = static_cast<Eigen::Index>(sums_[n_]);
      mean_.resize(n_);
      for (Eigen::Index i = 0; i < n_; ++i) mean_[i] = static_cast<Scalar>(sums_[i] / static_cast<double>(N));
    }
    if (N < 2)
      throw Error(name() + ": batch_norm needs more than one value per feature in training (got a batch of " +
                  std::to_string(N) + " column" + (sync_ ? "" : " on this rank") + "); use a larger batch" +
                  (sync_ ? "" : " or sync: true"));
    if (!synced()) mean_ = x.data.rowwise().mean();
    xhat_ = x.data.colwise() - mean_;
    var_ = xhat_.rowwise().squaredNorm();
    if (synced()) reduce(var_);
    var_ /= static_cast<Scalar>(N);
    n_total_ = N;
    inv_std_ = (var_.array() + eps_).rsqrt();
    xhat_.array().colwise() *= inv_std_.array();
    y.data.array() = (xhat_.array().colwise() * gamma).colwise() + beta;

    const auto m = static_cast<Scalar>(momentum_);
    running_mean_.col(0) = (1 - m) * running_mean_.col(0) + m * mean_;
    running_var_.col(0) =
        (1 - m) * running_var_.col(0) + (m * static_cast<Scalar>(N) / static_cast<Scalar>(N - 1)) * var_;
  }

  // With g = dL/dy, dx = gamma/(N*sigma) * (N*g - sum(g) - xhat * sum(g*xhat)), per feature.
  // Synchronized, the sums are the global batch's, while the parameter gradients take this
  // rank's part only: the host sums those over the ranks itself.
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    const auto N = static_cast<Scalar>(n_total_);
    sum_dy_ = dy.data.rowwise().sum();
    sum_dy_xhat_ = (dy.data.array() * xhat_.array()).rowwise().sum();
    gamma_.grad.col(0) += sum_dy_xhat_;
    beta_.grad.col(0) += sum_dy_;
    if (synced()) {
      reduce(sum_dy_);
      reduce(sum_dy_xhat_);
    }
    if (!need_dx) return;
    dx.resize(n_, dy.steps, dy.batch);
    scale_ = gamma_.value.col(0).array() * inv_std_.array() / N;
    dx.data.array() =
        (((dy.data.array() * N).colwise() - sum_dy_.array()) - xhat_.array().colwise() * sum_dy_xhat_.array())
            .colwise() *
        scale_.array();
  }

 private:
  bool synced() const { return sync_ && communicator().size() > 1; }
  // v summed over every rank (in double).
  void reduce(Vector& v) {
    sums_.assign(v.data(), v.data() + v.size());
    communicator().allreduce_sum(std::span<double>(sums_));
    for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = static_cast<Scalar>(sums_[static_cast<size_t>(i)]);
  }

  double momentum_, eps_;
  bool sync_;
  int n_;
  Eigen::Index n_total_ = 0;  // columns normalized together: this rank's, or every rank's (sync)
  std::vector<double> sums_;
  Param gamma_, beta_;
  std::string mean_name_, var_name_;
  Matrix running_mean_, running_var_;  // n x 1
  Matrix xhat_;                        // normalized input of the last train forward
  Vector mean_, var_, inv_std_, scale_, shift_, sum_dy_, sum_dy_xhat_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("batch_norm",
           "batch normalization: y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature over batch and time "
           "(Ioffe & Szegedy 2015)");
  s.real("momentum", 0.1, "running statistics: running = (1-m)*running + m*batch").range(0, 1);
  s.real("eps", 1e-5, "added to the variance for numerical stability").above(0);
  s.boolean("sync", false,
            "data-parallel runs: statistics over the global batch (summed across ranks) instead of each rank's slice");
  s.component("gamma_init", "initializer", "{kind: constant, value: 1}", "Initializer of the scale gamma.");
  s.component("beta_init", "initializer", "{kind: constant, value: 0}", "Initializer of the shift beta.");
  registry.add_layer(std::move(s), [](const Options& o, BuildContext& c) { return std::make_unique<BatchNorm>(o, c); });
}
