#pragma once
// The model summary printed at the start of a run and by `unroll run FILE --dry-run`, like
// Keras's model.summary(): one row per layer with its name, kind, output shape (features x
// steps) and parameter count, then the totals and an estimate of the memory training takes.
#include <string>

#include "unroll/config_node.hpp"
#include "unroll/host/model.hpp"

namespace unroll {

/// The summary of `model` (built from the layer blocks `model_blocks`) for sequences of `steps`
/// steps in batches of `batch`, trained with the optimizer kind `optimizer`. Output shapes are
/// measured: one zero sequence goes through the layers in eval mode, so a sequence reducer
/// (last_step) shows 1 step. The memory estimate counts parameters, their gradients and the
/// optimizer's state (2 tensors per parameter for adam/adamw, 1 otherwise), and the outputs
/// and output gradients of every layer for one batch; a layer's own caches (e.g. an LSTM's
/// gates) come on top.
std::string model_summary(Model& model, const Node& model_blocks, int steps, int batch, const std::string& optimizer);

}  // namespace unroll
