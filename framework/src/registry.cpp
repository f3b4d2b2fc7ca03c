#include "unroll/registry.hpp"

namespace unroll {

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::Layer: return "layer";
    case Kind::Loss: return "loss";
    case Kind::Initializer: return "initializer";
    case Kind::Optimizer: return "optimizer";
    case Kind::Schedule: return "schedule";
    case Kind::Regularizer: return "regularizer";
    case Kind::Dataset: return "dataset";
  }
  return "?";
}

std::string kind_plural(Kind k) { return k == Kind::Loss ? "losses" : kind_name(k) + "s"; }

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k{Kind::Layer,    Kind::Loss,        Kind::Initializer, Kind::Optimizer,
                                   Kind::Schedule, Kind::Regularizer, Kind::Dataset};
  return k;
}

}  // namespace unroll
