#include "support.hpp"

#include <filesystem>
#include <random>

#include "unroll/rng.hpp"

namespace unroll::testing {

PluginHost& host() {
  static PluginHost* h = [] {
    auto* p = new PluginHost();
    p->load_directory(PluginHost::builtin_dir());
    return p;
  }();
  return *h;
}

TestContext::TestContext(std::string n, int input) {
  name = std::move(n);
  input_size = input;
  seed = 1;
  base_dir = ".";
}

std::shared_ptr<Schedule> TestContext::make_schedule(const Node& block) {
  const Node v = validate_component(block, Kind::Schedule, host());
  TestContext ctx("schedule");
  return host().build<Schedule>(Kind::Schedule, v, ctx);
}

namespace {
template <class T>
std::shared_ptr<T> make(Kind kind, const std::string& yaml, TestContext& ctx) {
  return host().build<T>(kind, validate_component(parse_yaml(yaml, "<test>"), kind, host()), ctx);
}
}  // namespace

std::shared_ptr<Layer> make_layer(const std::string& yaml, int input_size, const std::string& name) {
  TestContext ctx(name, input_size);
  auto layer = make<Layer>(Kind::Layer, yaml, ctx);
  layer->bind(LayerContext{name, input_size});
  initialize(*layer);
  return layer;
}
std::shared_ptr<Loss> make_loss(const std::string& yaml) {
  TestContext ctx("loss");
  return make<Loss>(Kind::Loss, yaml, ctx);
}
std::shared_ptr<Initializer> make_initializer(const std::string& yaml) {
  TestContext ctx("init");
  return make<Initializer>(Kind::Initializer, yaml, ctx);
}
std::shared_ptr<Optimizer> make_optimizer(const std::string& yaml) {
  TestContext ctx("optimizer");
  return make<Optimizer>(Kind::Optimizer, yaml, ctx);
}
std::shared_ptr<Schedule> make_schedule(const std::string& yaml) {
  TestContext ctx("schedule");
  return make<Schedule>(Kind::Schedule, yaml, ctx);
}
std::shared_ptr<Regularizer> make_regularizer(const std::string& yaml) {
  TestContext ctx("regularizer");
  return make<Regularizer>(Kind::Regularizer, yaml, ctx);
}
std::shared_ptr<Dataset> make_dataset(const std::string& yaml) {
  TestContext ctx("data");
  return make<Dataset>(Kind::Dataset, yaml, ctx);
}

void initialize(Layer& layer, uint64_t seed) {
  for (Param* p : layer.params()) {
    if (p->init.is_null()) continue;
    const Node v = validate_component(p->init, Kind::Initializer, host());
    TestContext ctx(p->name);
    auto init = host().build<Initializer>(Kind::Initializer, v, ctx);
    Rng rng = Rng::derive(seed, p->name);
    init->fill(*p, rng);
  }
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    auto p = base / ("unroll-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path = p.string();
      break;
    }
  }
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace unroll::testing
