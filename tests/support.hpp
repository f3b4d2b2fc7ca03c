#pragma once
// Test helpers: the built-in plugins loaded once, and components made from YAML option text.
#include <memory>
#include <string>

#include "unroll/host/config.hpp"
#include "unroll/host/plugin_host.hpp"

namespace unroll::testing {

/// A PluginHost with every built-in plugin loaded (from <test exe>/../lib/unroll/plugins).
PluginHost& host();

/// A BuildContext for tests (seed 1, name as given).
class TestContext : public BuildContext {
 public:
  explicit TestContext(std::string n = "test", int input = 0);
  std::shared_ptr<Schedule> make_schedule(const Node& block) override;
};

/// Validate `yaml` (a flow mapping with the kind, e.g. "{kind: dense, units: 4}") and build it.
std::shared_ptr<Layer> make_layer(const std::string& yaml, int input_size, const std::string& name = "layer0");
std::shared_ptr<Loss> make_loss(const std::string& yaml);
std::shared_ptr<Initializer> make_initializer(const std::string& yaml);
std::shared_ptr<Optimizer> make_optimizer(const std::string& yaml);
std::shared_ptr<Schedule> make_schedule(const std::string& yaml);
std::shared_ptr<Regularizer> make_regularizer(const std::string& yaml);
std::shared_ptr<Dataset> make_dataset(const std::string& yaml);
/// Run each parameter's initializer block (as the trainer does) with seed 1.
void initialize(Layer& layer, uint64_t seed = 1);

/// A fresh temporary folder, removed when the object dies.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

}  // namespace unroll::testing
