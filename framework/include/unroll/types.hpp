#pragma once
// Core value types shared by the host and every plugin.
//
// Layout rule: values are float Eigen matrices with one column per sample. A batch of
// sequences of T steps and B samples is ONE matrix of shape (features x T*B), step t in
// columns [t*B, (t+1)*B). A feed-forward layer therefore treats a whole sequence as one wide
// batch (one GEMM for all steps); a recurrent layer walks the steps with Seq::step(t).
#include "unroll/eigen.hpp"
#include <cstdint>
#include <vector>

namespace unroll {

using Scalar = float;
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// Train or eval: regularizer stages (dropout, noise, batch norm) behave differently.
enum class Mode { Train, Eval };

/// A batch of sequences: `data` is features x (steps*batch), step-major (see file comment).
struct Seq {
  Matrix data;
  int steps = 1;
  int batch = 0;

  int features() const { return static_cast<int>(data.rows()); }
  /// Resize for (features, steps, batch); no allocation when the shape is unchanged.
  void resize(int features, int steps_, int batch_) {
    steps = steps_;
    batch = batch_;
    data.resize(features, static_cast<Eigen::Index>(steps_) * batch_);
  }
  auto step(int t) { return data.middleCols(static_cast<Eigen::Index>(t) * batch, batch); }
  auto step(int t) const { return data.middleCols(static_cast<Eigen::Index>(t) * batch, batch); }
};

/// Targets for a batch. Classification datasets fill `labels` (one int per column, -1 =
/// masked/padding); regression-style datasets fill `values` (outputs x columns). Columns
/// follow the same step-major layout as Seq; `steps` is 1 for last-step targets.
struct Targets {
  std::vector<int32_t> labels;
  Matrix values;
  int steps = 1;
  int batch = 0;

  bool has_labels() const { return !labels.empty(); }
  Eigen::Index columns() const { return static_cast<Eigen::Index>(steps) * batch; }
};

}  // namespace unroll
