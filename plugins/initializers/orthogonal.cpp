// orthogonal: Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of
// learning in deep linear neural networks", ICLR: random orthogonal weights, times a gain.
// Q comes from the Householder QR of a Gaussian matrix; multiplying Q's columns by the signs of
// diag(R) makes Q uniformly (Haar) distributed (Mezzadri 2007), not biased by the QR convention.
// A rows x cols matrix gets orthonormal columns (W^T W = I) when rows >= cols, else orthonormal
// rows (W W^T = I).
#include <unroll/eigen.hpp>  // first: Eigen under its GCC 12 pragma (eigen.hpp)
#include <Eigen/QR>
#include <algorithm>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Orthogonal final : public Initializer {
 public:
  explicit Orthogonal(double gain) : gain_(gain) {}
  void fill(Param& p, Rng& rng) override {
    const Eigen::Index rows = p.value.rows(), cols = p.value.cols();
    const Eigen::Index m = std::max(rows, cols), n = std::min(rows, cols);
    if (n == 0) return;
    // Double precision: the float result is then orthogonal to float rounding.
    Eigen::MatrixXd a(m, n);
    for (double& v : a.reshaped()) v = rng.normal();
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
    Eigen::MatrixXd q = Eigen::MatrixXd::Identity(m, n);
    qr.householderQ().applyThisOnTheLeft(q);  // the thin Q, m x n
    for (Eigen::Index k = 0; k < n; ++k)
      if (qr.matrixQR()(k, k) < 0) q.col(k) = -q.col(k);
    if (rows >= cols)
      p.value = (gain_ * q).cast<Scalar>();
    else
      p.value = (gain_ * q.transpose()).cast<Scalar>();
  }

 private:
  double gain_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("orthogonal",
           "Random orthogonal weights times gain: W^T W = gain^2 I (rows >= cols) or W W^T = gain^2 I "
           "(Saxe et al. 2014), from a sign-corrected QR of a Gaussian matrix.");
  s.real("gain", 1.0, "Scale factor on the orthogonal matrix.").above(0);
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext&) -> std::unique_ptr<Initializer> {
    return std::make_unique<Orthogonal>(o.real("gain"));
  });
}
