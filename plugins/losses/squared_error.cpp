// squared_error: sum over columns of 0.5 * ||y - t||^2; label targets become one-hot vectors.
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class SquaredError final : public Loss {
 public:
  double evaluate(ConstMatRef out, const Targets& t, Matrix* grad) override {
    const Eigen::Index n = out.rows(), cols = out.cols();
    if (grad) grad->resize(n, cols);
    double sum = 0;
    if (t.has_labels()) {
      if (static_cast<Eigen::Index>(t.labels.size()) != cols)
        throw Error("squared_error: " + std::to_string(t.labels.size()) + " labels for " + std::to_string(cols) +
                    " output columns");
      for (Eigen::Index j = 0; j < cols; ++j) {
        const int label = t.labels[j];
        if (label < 0) {  // padding
          if (grad) grad->col(j).setZero();
          continue;
        }
        if (label >= n)
          throw Error("squared_error: label " + std::to_string(label) + " is out of range for " + std::to_string(n) +
                      " outputs");
        // ||y - e_label||^2 = ||y||^2 - 2 y_label + 1, without building the one-hot vector.
        sum += 0.5 * (out.col(j).cast<double>().squaredNorm() - 2.0 * out(label, j) + 1.0);
        if (grad) {
          grad->col(j) = out.col(j);
          (*grad)(label, j) -= 1.0f;
        }
      }
      return sum;
    }
    if (t.values.rows() != n || t.values.cols() != cols)
      throw Error("squared_error: targets are " + std::to_string(t.values.rows()) + "x" +
                  std::to_string(t.values.cols()) + ", outputs are " + std::to_string(n) + "x" + std::to_string(cols));
    sum = 0.5 * (out.cast<double>() - t.values.cast<double>()).squaredNorm();
    if (grad) *grad = out - t.values;
    return sum;
  }
};

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_loss(
      Schema("squared_error",
             "Squared error: sum over columns of 0.5 * ||y - t||^2; class labels are read as "
             "one-hot targets, label -1 masks a column."),
      [](const Options&, BuildContext&) -> std::unique_ptr<Loss> { return std::make_unique<SquaredError>(); });
}
