#pragma once
// The grad_lags diagnostic (train.diagnostics.grad_lags): how the gradient reaching a recurrent
// layer's hidden state shrinks or grows with the time lag, ||dL/dh_{t-lag}|| averaged over the
// windows of an epoch, per recurrent layer. Written to grad_lags.csv (epoch,layer,lag,grad_norm).
#include <string>
#include <vector>

namespace unroll {

class Model;

class GradLags {
 public:
  /// Forget the sums of the previous epoch.
  void start_epoch();
  /// Add the norms of a window that ran forward over steps [start, end) and back-propagated
  /// (lag 0 is its last step). The ranks of a data-parallel run backpropagate with the global
  /// batch's loss count, so each rank's dL/dh is its samples' columns of the global one.
  void add_window(Model& model, int start, int end);
  /// Append the epoch's means to the CSV text.
  void end_epoch(int epoch);
  /// A resumed run keeps the rows of the epochs its checkpoint holds (`csv` as written before).
  void keep_rows_up_to(const std::string& csv, int epoch);
  const std::string& csv() const { return csv_; }

 private:
  std::vector<std::vector<double>> sum_;  // per recurrent layer, per lag
  std::vector<long> count_;
  std::string csv_ = "epoch,layer,lag,grad_norm\n";
};

}  // namespace unroll
