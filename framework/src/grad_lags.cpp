#include "grad_lags.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <sstream>

#include "metrics_table.hpp"
#include "unroll/communicator.hpp"
#include "unroll/host/model.hpp"

namespace unroll {

void GradLags::start_epoch() {
  sum_.clear();
  count_.clear();
}

void GradLags::add_window(Model& model, int start, int end) {
  size_t li = 0;
  for (auto& l : model.layers()) {
    if (!l->is_recurrent()) continue;
    std::vector<double> norms = l->hidden_grad_norms();
    if (communicator().size() > 1) {  // the norm over the global batch: sqrt of the summed squares
      for (double& v : norms) v *= v;
      communicator().allreduce_sum(std::span<double>(norms));
      for (double& v : norms) v = std::sqrt(v);
    }
    if (sum_.size() <= li) sum_.resize(li + 1);
    auto& sums = sum_[li];
    const int last = end - 1 - start;  // lag measured from the window's last step
    for (int s = 0; s < static_cast<int>(norms.size()); ++s) {
      const size_t lag = static_cast<size_t>(last - s);
      if (sums.size() <= lag) sums.resize(lag + 1, 0.0);
      sums[lag] += norms[s];
    }
    ++li;
  }
  if (count_.size() < sum_.size()) count_.resize(sum_.size(), 0);
  for (auto& c : count_) ++c;
}

void GradLags::end_epoch(int epoch) {
  for (size_t li = 0; li < sum_.size(); ++li)
    for (size_t lag = 0; lag < sum_[li].size(); ++lag)
      csv_ += std::to_string(epoch) + "," + std::to_string(li) + "," + std::to_string(lag) + "," +
              fmt(sum_[li][lag] / std::max<long>(1, count_[li])) + "\n";
}

void GradLags::keep_rows_up_to(const std::string& csv, int epoch) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line))
    if (!line.empty() && std::stoi(line) <= epoch) csv_ += line + "\n";
}

}  // namespace unroll
