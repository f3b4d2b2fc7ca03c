#include "unroll/optimizer.hpp"

#include "unroll/error.hpp"

namespace unroll {

std::vector<ParamRange> whole(const std::vector<Param*>& params) {
  std::vector<ParamRange> out;
  out.reserve(params.size());
  for (Param* p : params) out.push_back(ParamRange{p, 0, p->value.size()});
  return out;
}

void Optimizer::step_range(const std::vector<ParamRange>&, double) {
  throw Error("this optimizer does not declare itself elementwise(), so its step cannot be split over ranks");
}

Matrix& StatefulOptimizer::slot(const Param& p, const char* suffix, float init) {
  key_.assign(p.name).append(suffix);  // reused buffer: no allocation per step
  auto it = state_.find(key_);
  if (it == state_.end())
    return state_.emplace(key_, Matrix::Constant(p.value.rows(), p.value.cols(), init)).first->second;
  if (it->second.rows() != p.value.rows() || it->second.cols() != p.value.cols())
    throw Error(name_ + ": state '" + key_ + "' is " + std::to_string(it->second.rows()) + "x" +
                std::to_string(it->second.cols()) + " but parameter " + p.name + " is " +
                std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols()) +
                " (a checkpoint from a different model?)");
  return it->second;
}

float& StatefulOptimizer::counter() { return state_.try_emplace("step", Matrix::Zero(1, 1)).first->second(0, 0); }

}  // namespace unroll
