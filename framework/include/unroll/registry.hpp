#pragma once
// The registry: what a plugin's registration function fills in. Each entry is a component kind
// name, its schema and a factory. The host wraps every object a factory makes so that the
// object keeps its plugin library loaded: nothing a plugin made may outlive the code it runs.
// The host's side (finding and listing components) is unroll/host/component_table.hpp.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "unroll/dataset.hpp"
#include "unroll/initializer.hpp"
#include "unroll/layer.hpp"
#include "unroll/loss.hpp"
#include "unroll/optimizer.hpp"
#include "unroll/regularizer.hpp"
#include "unroll/schedule.hpp"
#include "unroll/schema.hpp"

namespace unroll {

enum class Kind { Layer, Loss, Initializer, Optimizer, Schedule, Regularizer, Dataset };
/// "layer", "loss", ... (the word used in docs and in Component options).
std::string kind_name(Kind k);
/// "layers", "losses", ... (for messages that list names).
std::string kind_plural(Kind k);
const std::vector<Kind>& all_kinds();

/// What a factory knows besides its own options.
class BuildContext {
 public:
  virtual ~BuildContext() = default;
  std::string name;      // instance name: "dense0", "optimizer", "schedule", "data"
  int input_size = 0;    // layers: features per column coming in
  uint64_t seed = 0;     // experiment seed
  std::string base_dir;  // folder of the experiment file, for relative paths in options
  /// Build a nested schedule block (for composing schedules such as warm-up).
  virtual std::shared_ptr<Schedule> make_schedule(const Node& block) = 0;
};

template <class T>
using Factory = std::function<std::unique_ptr<T>(const Options&, BuildContext&)>;

/// What a layer will allocate, known from its options and input size before it is built. The
/// host adds these up into a memory estimate (parameters, their gradients and optimizer state,
/// activations for batch x steps) and refuses a run that cannot fit, naming the layer, before
/// anything is allocated. A layer registered without one is assumed to have no parameters and
/// to output `units` features if its schema has that option, else as many as it takes in.
struct LayerFootprint {
  int output_size = 0;              // features per column of its output
  double params = 0;                // trainable parameter elements, not counting gradients (a double: a
                                    // typo such as units: 2000000000 gives a huge count, not an overflow)
  long long floats_per_column = 0;  // floats it caches per column (step x sample) for backward, besides its output
  // Recurrent layers: floats of carried state per sample (H for h; 2H for h and c), 0 for any other
  // layer. With train.bptt.memory the estimate then counts floats_per_column for one segment's
  // steps only, plus a checkpoint of state_floats per segment (recurrent.hpp).
  long long state_floats = 0;
};
using FootprintFn = std::function<LayerFootprint(const Options&, int input_size)>;

/// What a plugin's registration function fills in: one call per component it provides. This is
/// all a plugin sees of the host's component tables; looking components up and building them is
/// the host's business (its table implements `add`).
class Registry {
 public:
  /// `footprint` (optional) feeds the memory estimate; see LayerFootprint.
  void add_layer(Schema s, Factory<Layer> f, FootprintFn footprint = {}) {
    add(Kind::Layer, std::move(s), erase(std::move(f)), std::move(footprint));
  }
  void add_loss(Schema s, Factory<Loss> f) { add(Kind::Loss, std::move(s), erase(std::move(f)), {}); }
  void add_initializer(Schema s, Factory<Initializer> f) {
    add(Kind::Initializer, std::move(s), erase(std::move(f)), {});
  }
  void add_optimizer(Schema s, Factory<Optimizer> f) { add(Kind::Optimizer, std::move(s), erase(std::move(f)), {}); }
  void add_schedule(Schema s, Factory<Schedule> f) { add(Kind::Schedule, std::move(s), erase(std::move(f)), {}); }
  void add_regularizer(Schema s, Factory<Regularizer> f) {
    add(Kind::Regularizer, std::move(s), erase(std::move(f)), {});
  }
  void add_dataset(Schema s, Factory<Dataset> f) { add(Kind::Dataset, std::move(s), erase(std::move(f)), {}); }

  /// A factory with its product's type erased: returns a new T* for the kind it was added as.
  using ErasedFactory = std::function<void*(const Options&, BuildContext&)>;

 protected:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  virtual ~Registry() = default;
  /// Record a component. Throws Error when (kind, name) is already registered.
  virtual void add(Kind kind, Schema schema, ErasedFactory make, FootprintFn footprint) = 0;

 private:
  template <class T>
  static ErasedFactory erase(Factory<T> f) {
    return [f = std::move(f)](const Options& o, BuildContext& c) -> void* { return f(o, c).release(); };
  }
};

}  // namespace unroll
