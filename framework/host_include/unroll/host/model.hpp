#pragma once
// A model: the layer list of an experiment, with the activation buffers between layers kept
// across batches (no allocation per batch once shapes settle).
#include <memory>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/layer.hpp"

namespace unroll {

class Diagnostics;
class PluginHost;
class Schema;
struct Param;

/// Validate, in place, the initializer blocks of a parameter (`init` and each of its `blocks`)
/// that validation has not produced yet: those a plugin assembled (an LSTM's forget-gate block, a
/// cell's `params:` entries, which the layer's schema sees only as a mapping). The blocks the
/// experiment's schemas saw were validated with the experiment and carry Node::validated(), so
/// no block is validated twice. Errors go to `diag`, each at the block's file:line:column.
void validate_initializers(Param& p, const PluginHost& host, Diagnostics& diag);

/// Run a parameter's initializer (`init`, then each of its `blocks` on its rows) with streams
/// derived from (seed, name) and (seed, "name[block]"). Nothing happens for a null `init` and no
/// blocks. Blocks not validated yet are validated first (validate_initializers; ConfigErrors).
void initialize_param(Param& p, const PluginHost& host, uint64_t seed, const std::string& base_dir);

/// A layer block with the data's vocabulary filled in. A layer that takes token indices (an
/// embedding) declares an integer option `vocab`; left at 0 it gets `input_vocab`, the data's
/// (DatasetInfo::input_vocab), when that is > 0. An explicit vocab smaller than the data's is an
/// Error at the block's location: the data's indices would fall outside it. Other blocks are
/// returned as they are.
Node with_data_vocab(const Node& block, const Schema& schema, int input_vocab);

class Model {
 public:
  /// Build the layers of `model` (validated layer blocks) for inputs of `input_size` features.
  /// Layer names: the block's `name`, else KIND + index ("dense0", "relu1"). `input_vocab`:
  /// the data's token vocabulary when its inputs are token indices (see with_data_vocab).
  Model(const Node& model, int input_size, const PluginHost& host, uint64_t seed, const std::string& base_dir,
        int input_vocab = 0);

  /// Run every parameter's initializer with a stream derived from (seed, parameter name).
  void initialize(const PluginHost& host, uint64_t seed, const std::string& base_dir);

  const Seq& forward(const Seq& x, Mode mode);
  /// Back-propagate dL/d(output); parameter gradients accumulate. The first layer's dx is not
  /// computed (nobody needs it).
  void backward(const Seq& dy);

  std::vector<Param*> params();
  std::vector<std::pair<std::string, Matrix*>> buffers();
  std::vector<std::shared_ptr<Layer>>& layers() { return layers_; }
  int input_size() const { return input_size_; }
  int output_size() const { return layers_.back()->output_size(); }
  bool recurrent() const;
  /// New sequences: every layer's reset_state (recurrent layers zero their state, variational
  /// dropout draws a new mask).
  void reset_state(int batch);
  /// Give every layer its random stream for this epoch (dropout masks, noise), derived from
  /// (seed, layer name, epoch) and, for ranks other than 0 of a data-parallel run, the rank.
  void set_epoch(uint64_t seed, int epoch, int rank = 0);
  /// One line per layer: name, kind, output size, parameter count.
  std::string describe() const;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
  std::vector<std::string> kinds_;
  std::vector<Seq> acts_;   // acts_[i] = output of layer i
  std::vector<Seq> grads_;  // grads_[i] = dL/d(input of layer i)
  Seq dtop_;
  int input_size_;
};

}  // namespace unroll
