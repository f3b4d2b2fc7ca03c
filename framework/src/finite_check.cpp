#include "unroll/host/finite_check.hpp"

#include "unroll/host/model.hpp"
#include "unroll/optimizer.hpp"

namespace unroll {

std::string first_non_finite(Model& model, Optimizer& optimizer) {
  for (Param* p : model.params())
    if (!p->value.allFinite()) return "parameter '" + p->name + "'";
  for (auto& [name, m] : model.buffers())
    if (!m->allFinite()) return "buffer '" + name + "'";
  for (auto& [name, m] : optimizer.state())
    if (!m.allFinite()) return "optimizer state '" + name + "'";
  return "";
}

}  // namespace unroll
