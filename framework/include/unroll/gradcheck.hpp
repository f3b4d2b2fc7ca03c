#pragma once
// Finite-difference gradient checks for layers and losses: the test every differentiable plugin
// gets (tests/, and `unroll check-plugin` for out-of-tree plugins).
//
// Method (after Caffe's GradientChecker): the objective is L = sum_i r_i * y_i with fixed random
// weights r, accumulated in double. Each input, parameter and initial-state element is moved by
// +-step and the central difference is compared with the analytic gradient, element by element:
//
//     |analytic - numeric| <= rel_tol * max(|analytic|, |numeric|) + abs_tol
//
// A per-element test is what catches a wrong sign or a missing factor in ONE element (a
// whole-tensor relative error can hide it). Kinks (ReLU at 0): where the one-sided differences
// disagree, any analytic value between them (a subgradient) is accepted. Float forward passes
// with step 1e-2 keep rounding noise near 1e-5 on unit-scale values, far below abs_tol = 1e-3.
// The summary figure is mlpack's ||a - n|| / (||a|| + ||n||) over everything checked.
#include <cstdint>
#include <string>
#include <vector>

#include "unroll/layer.hpp"
#include "unroll/loss.hpp"

namespace unroll {

struct GradCheckOptions {
  int steps = 1;  // sequence length T (recurrent layers: > 1)
  int batch = 3;
  double step = 1e-2;  // finite-difference step
  double rel_tol = 1e-2;
  double abs_tol = 1e-3;
  double input_scale = 1.0;   // inputs ~ N(0, input_scale^2)
  bool nonzero_state = true;  // recurrent layers start from a random state, not zero
  uint64_t seed = 1;
  int max_per_tensor = 400;  // elements checked per tensor (a random subset when larger)
  /// > 0: the layer takes token indices (an embedding; layer.hpp): inputs are integers in
  /// [0, index_inputs), drawn with repeats so that gradients of repeated rows add up. An index
  /// has no gradient, so instead of finite differences on the input, dL/dx must be all zeros.
  int index_inputs = 0;
};

/// The comparison of one tensor's gradient (dL/dx, a parameter, an initial state): a wrong
/// factor in one tensor shows as that tensor failing while the others pass. Errors are over the
/// elements checked, kinks excluded; the relative error of an element is
/// |analytic - numeric| / max(|analytic|, |numeric|, abs_tol).
struct TensorCheck {
  std::string name;  // "dense0.W", "dense0.input", "lstm0.state1"
  long checked = 0;
  long failures = 0;
  double max_abs_error = 0;
  std::string max_abs_at{};  // "(3,1)": row, column of the tensor
  double max_rel_error = 0;
  std::string max_rel_at{};
};

struct GradCheckResult {
  bool ok = true;
  long checked = 0;
  long failures = 0;
  long kinks = 0;                    // elements accepted as subgradients at a kink
  double relative_error = 0;         // ||a - n|| / (||a|| + ||n||)
  std::string worst;                 // description of the worst element ("dense0.W(3,1): analytic ... numeric ...")
  std::vector<TensorCheck> tensors;  // in the order checked: input, parameters, initial states
  std::string summary() const;
  /// One line per tensor with a wrong element ("lstm0.b: 3 of 16 wrong, max abs error 0.41 at
  /// (5,0), max rel error 1 at (5,0)"), then the tensors that passed; "" when every tensor passed.
  std::string tensor_summary() const;
};

/// Check dL/dx, every parameter gradient and (recurrent layers) dL/d(initial state) of a layer
/// whose input size is layer.input_size(). Parameters keep the values they have. With
/// opt.index_inputs, dL/dx is checked to be zero instead (see GradCheckOptions).
GradCheckResult check_layer_gradients(Layer& layer, const GradCheckOptions& opt = {});

/// Check d(sum of losses)/d(outputs) for `outputs` x batch scores and random targets:
/// class labels in [0, outputs) when `labels`, else values ~ U(0, 1).
GradCheckResult check_loss_gradients(Loss& loss, int outputs, bool labels, const GradCheckOptions& opt = {});

}  // namespace unroll
