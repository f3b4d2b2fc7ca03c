#pragma once
// The memory a run will need, estimated from the validated config and the dataset's shape before
// the model is built, so that a layer needing tens of GB is refused by name instead of failing as
// std::bad_alloc or being killed by the OOM killer. Counted: every parameter with its gradient and
// two optimizer slots (Adam's m and v, the most a built-in optimizer keeps), each layer's output
// and the gradient flowing into it for max(batch, eval_batch) x steps columns, and what each layer
// caches for backward (its LayerFootprint; for a recurrent layer under train.bptt.memory, one
// segment's steps and the checkpoints, or the byte budget). Not counted: the dataset (already loaded when the
// estimate runs) and small per-batch temporaries.
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/dataset.hpp"

namespace unroll {

class PluginHost;

struct LayerMemory {
  std::string name, kind;
  int output_size = 0;
  double params = 0;
  double bytes = 0;  // parameters, gradients, optimizer state, activations and caches of this layer
  std::string note;  // how the cache was counted when not every step (train.bptt.memory)
};

struct MemoryEstimate {
  std::vector<LayerMemory> layers;
  double total_bytes = 0;
  /// One line per layer and the total, for --check and log.txt.
  std::string text() const;
};

/// Estimate from a resolved experiment config (load_experiment's) and the dataset's info.
/// Sizes are computed in floating point: a typo such as units: 2000000000 gives a huge number,
/// never an overflowed one.
MemoryEstimate estimate_memory(const Node& config, const DatasetInfo& data, const PluginHost& host);

/// MemAvailable from /proc/meminfo, in bytes; 0 when it cannot be read (then nothing is refused).
double available_memory();

/// Throws Error when the estimate exceeds `available` bytes (if > 0), naming the layer that
/// needs the most, with its location in the config, both sizes and the largest layers.
void check_memory(const MemoryEstimate& e, double available, const Node& config);

/// "1.5 GiB", "320 MiB", "12 KiB", "10 B".
std::string format_bytes(double bytes);

}  // namespace unroll
