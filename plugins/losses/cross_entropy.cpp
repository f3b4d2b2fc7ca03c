// cross_entropy: softmax cross-entropy, -sum_i t_i log softmax(y)_i per column, computed with
// log-sum-exp so that scores of any magnitude neither overflow nor lose the loss.
#include <cmath>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class CrossEntropy final : public Loss {
 public:
  double evaluate(ConstMatRef out, const Targets& t, Matrix* grad) override {
    const Eigen::Index n = out.rows(), cols = out.cols();
    const bool labels = t.has_labels();
    if (labels && static_cast<Eigen::Index>(t.labels.size()) != cols)
      throw Error("cross_entropy: " + std::to_string(t.labels.size()) + " labels for " + std::to_string(cols) +
                  " output columns");
    if (!labels && (t.values.rows() != n || t.values.cols() != cols))
      throw Error("cross_entropy: targets are " + std::to_string(t.values.rows()) + "x" +
                  std::to_string(t.values.cols()) + ", outputs are " + std::to_string(n) + "x" + std::to_string(cols));
    if (grad) grad->resize(n, cols);

    double sum = 0;
    for (Eigen::Index j = 0; j < cols; ++j) {
      const int label = labels ? t.labels[j] : 0;
      if (labels && label < 0) {  // padding
        if (grad) grad->col(j).setZero();
        continue;
      }
      if (labels && label >= n)
        throw Error("cross_entropy: label " + std::to_string(label) + " is out of range for " + std::to_string(n) +
                    " outputs");
      // Shift by the max so exp() never overflows; the loss is formed in double from the
      // shifted scores, so it keeps its precision when the scores are ~1e4.
      const float m = out.col(j).maxCoeff();
      const double s = (out.col(j).array() - m).exp().cast<double>().sum();
      const double lse = std::log(s);  // log-sum-exp of the shifted scores
      if (labels) {
        sum += lse - (double(out(label, j)) - m);
        if (grad) {
          grad->col(j) = ((out.col(j).array() - m).exp() / float(s)).matrix();
          (*grad)(label, j) -= 1.0f;
        }
      } else {
        // -sum_i t_i (y_i - lse); its gradient is p * sum(t) - t (targets need not sum to 1).
        const double tsum = t.values.col(j).cast<double>().sum();
        sum += tsum * lse - ((out.col(j).array() - m).cast<double>() * t.values.col(j).array().cast<double>()).sum();
        if (grad) grad->col(j) = ((out.col(j).array() - m).exp() * float(tsum / s) - t.values.col(j).array()).matrix();
      }
    }
    return sum;
  }
};

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_loss(
      Schema("cross_entropy",
             "Softmax cross-entropy: sum over columns of -sum_i t_i log softmax(y)_i, via log-sum-exp; "
             "class labels (-1 masks a column) or probability targets."),
      [](const Options&, BuildContext&) -> std::unique_ptr<Loss> { return std::make_unique<CrossEntropy>(); });
}
