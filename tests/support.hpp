#pragma once
// Test helpers: the built-in plugins loaded once, and components made from YAML option text.
#include <memory>
#include <string>

#include "unroll/host/config.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/trainer.hpp"
#include "unroll/rng.hpp"
#include <vector>

// UNROLL_TEST_ASAN: this build runs under AddressSanitizer, which keeps its own allocator. GCC
// says so with __SANITIZE_ADDRESS__, clang with __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define UNROLL_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNROLL_TEST_ASAN 1
#endif
#endif

namespace unroll::testing {

/// A PluginHost with every built-in plugin loaded (from <test exe>/../lib/unroll/plugins).
PluginHost& host();

/// A BuildContext for tests (seed 1, name as given).
class TestContext : public HostBuildContext {
 public:
  explicit TestContext(std::string n = "test", int input = 0) : HostBuildContext(host(), std::move(n), input, 1, ".") {}
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

/// Rows of a CSV file (no quoting: unroll's own outputs).
std::vector<std::vector<std::string>> read_csv(const std::string& path);
/// A metrics.csv without its `seconds` column, the one column allowed to differ between runs.
std::string metrics_without_seconds(const std::string& metrics_csv);
/// Write `text` to DIR/OUT.yaml, load it with `sets`, and train it (quiet) into DIR/OUT.
RunResult run_text(const struct TempDir& dir, const std::string& text, const std::string& out,
                   const std::vector<std::string>& sets = {}, int threads = 1);

/// A matrix of N(0, scale^2) draws from rng.
Matrix normal(Eigen::Index rows, Eigen::Index cols, Rng& rng, double scale = 1.0);
/// The same from a stream of its own, seeded with `seed`.
Matrix normal(Eigen::Index rows, Eigen::Index cols, uint64_t seed, double scale = 1.0);
/// Moves every parameter of a layer away from its structured initial value (zero biases,
/// orthogonal U): N(0, scale^2) draws from a stream seeded with `seed`.
void randomize(Layer& l, uint64_t seed, double scale = 0.5);

/// The message of the Error that loading experiment `text` (with `sets`) from a temporary
/// exp.yaml throws, with the temporary folder's path replaced by "exp.yaml"; "" if it loads.
std::string load_error(const std::string& text, const std::vector<std::string>& sets = {});

/// A fresh temporary folder, removed when the object dies.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

}  // namespace unroll::testing
