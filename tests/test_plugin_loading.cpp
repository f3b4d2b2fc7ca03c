// The plugin loader against the fixture libraries of tests/fixtures/: a good plugin, and one of
// each kind of broken library it must refuse with a message naming the library.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "support.hpp"
#include "unroll/host/component_table.hpp"
#include "unroll/version.hpp"

using namespace unroll;
using Catch::Contains;

namespace {

std::string fixture(const std::string& name) {
  return std::filesystem::absolute(std::string(UNROLL_BINARY_DIR) + "/test_plugins/libunroll_fixture_" + name + ".so")
      .string();
}

// Whether the library is mapped into this process (read from /proc, which, unlike dlopen with
// RTLD_NOLOAD, does not itself take a reference).
bool is_mapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(path) != std::string::npos) return true;
  return false;
}

Options no_options(const PluginHost& h, const std::string& kind) {
  Node block = Node::map();
  block.set("kind", Node::scalar(kind));
  return Options(block, &h.entry(Kind::Layer, kind).schema);
}

}  // namespace

TEST_CASE("a good plugin registers its component, objects keep the library loaded", "[plugins]") {
  const std::string lib = fixture("good_plugin");
  REQUIRE(std::filesystem::exists(lib));
  std::shared_ptr<Layer> layer;
  {
    PluginHost h;
    h.load_library(lib);
    REQUIRE(h.loaded().size() == 1);
    REQUIRE(h.registry().names(Kind::Layer) == std::vector<std::string>{"fixture_identity"});
    REQUIRE(h.entry(Kind::Layer, "fixture_identity").library == lib);
    h.load_library(lib);  // loading again is a no-op, not a duplicate registration
    REQUIRE(h.loaded().size() == 1);

    testing::TestContext ctx("id0", 3);
    layer = h.create<Layer>(Kind::Layer, "fixture_identity", no_options(h, "fixture_identity"), ctx);
    layer->bind(LayerContext{"id0", 3});
  }
  // The host and its registry are gone; the layer's deleter still holds the library.
  REQUIRE(is_mapped(lib));
  Seq x, y;
  x.resize(3, 2, 2);
  x.data.setRandom();
  layer->forward(x, y, Mode::Eval);  // runs code from the plugin
  REQUIRE(y.data == x.data);
  REQUIRE(layer->output_size() == 3);
  layer.reset();
  REQUIRE_FALSE(is_mapped(lib));
}

TEST_CASE("loading a library that does not exist", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("no_such_library");
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) && Contains("does not exist"));
  REQUIRE(h.loaded().empty());
}

TEST_CASE("a shared library without the registration symbols is refused", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("not_a_plugin");
  REQUIRE(std::filesystem::exists(lib));
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) && Contains("is not an unroll plugin") &&
                                               Contains("unroll_plugin_info") && Contains("UNROLL_PLUGIN"));
  REQUIRE(h.loaded().empty());
  REQUIRE(h.registry().entries().empty());
  REQUIRE_FALSE(is_mapped(lib));  // refused libraries are unloaded again
}

TEST_CASE("a plugin built for another API version is refused before it registers", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("wrong_version");
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) &&
                                               Contains("API version " + std::to_string(UNROLL_API_VERSION + 1)) &&
                                               Contains("API version " + std::to_string(UNROLL_API_VERSION)));
  REQUIRE(h.registry().entries().empty());
  REQUIRE(h.loaded().empty());
}

TEST_CASE("a plugin with a different ABI fingerprint is refused before it registers", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("wrong_abi");
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) && Contains("incompatible settings") &&
                                               Contains("cxx11_abi=0;glibcxx_debug=1;fixture=wrong") &&
                                               Contains(UNROLL_ABI_FINGERPRINT));
  REQUIRE(h.registry().entries().empty());
  REQUIRE(h.loaded().empty());
}

TEST_CASE("a plugin built for another CPU is refused with both instruction sets named", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("other_cpu");
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) && Contains("it was compiled for the CPU instruction set ") &&
                                               Contains(std::string("but this host for ") + UNROLL_ISA + " ") &&
                                               Contains("UNROLL_NATIVE"));
  REQUIRE(h.registry().entries().empty());
}

TEST_CASE("a registration function that throws is reported, not propagated raw", "[plugins]") {
  PluginHost h;
  const std::string lib = fixture("throwing_plugin");
  REQUIRE_THROWS_AS(h.load_library(lib), Error);
  REQUIRE_THROWS_WITH(h.load_library(lib), Contains(lib) && Contains("failed to register") &&
                                               Contains("fixture registration failed on purpose"));
  REQUIRE(h.loaded().empty());
}

TEST_CASE("an unknown component kind lists the known ones", "[plugins]") {
  PluginHost h;
  REQUIRE_THROWS_WITH(h.entry(Kind::Layer, "fixture_identity"),
                      Contains("unknown layer 'fixture_identity'") && Contains("no plugin providing one is loaded"));
  h.load_library(fixture("good_plugin"));
  REQUIRE_THROWS_WITH(h.entry(Kind::Layer, "fixture_identiy"),
                      Contains("unknown layer 'fixture_identiy'") && Contains("known layers: fixture_identity"));
  REQUIRE_THROWS_WITH(h.entry(Kind::Loss, "fixture_identity"),
                      Contains("unknown loss 'fixture_identity'") && Contains("known losses: none"));
}

// What a plugin's registration function receives can add components and do nothing else: it is
// abstract (only the host's table makes one) and has no way to look up, list or remove them.
template <class R>
concept CanFind = requires(const R& r) {
  r.find(Kind::Layer, std::string());
};
template <class R>
concept CanList = requires(const R& r) {
  r.names(Kind::Layer);
  r.entries();
};
template <class R>
concept CanRemove = requires(R& r) {
  r.remove_library(std::string());
};
static_assert(std::is_abstract_v<Registry>);
static_assert(!CanFind<Registry> && !CanList<Registry> && !CanRemove<Registry>);
static_assert(CanFind<ComponentTable> && CanList<ComponentTable> && CanRemove<ComponentTable>);

TEST_CASE("the registry a plugin sees adds components into the host's table", "[plugins]") {
  ComponentTable table;
  Registry& seen_by_plugin = table;
  seen_by_plugin.add_loss(Schema("fixture_loss", "a loss"),
                          [](const Options&, BuildContext&) -> std::unique_ptr<Loss> { return nullptr; });
  REQUIRE(table.find(Kind::Loss, "fixture_loss") != nullptr);
  CHECK(table.names(Kind::Loss) == std::vector<std::string>{"fixture_loss"});
  CHECK_THROWS_WITH(
      seen_by_plugin.add_loss(Schema("fixture_loss", "again"),
                              [](const Options&, BuildContext&) -> std::unique_ptr<Loss> { return nullptr; }),
      Contains("registered twice"));
}
