// The reference pages in docs/reference/ are generated from the plugin schemas; this test
// regenerates them in memory and fails when the committed pages differ, so they cannot drift.
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>

#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/reference_docs.hpp"

namespace fs = std::filesystem;
using namespace unroll;

TEST_CASE("docs/reference matches the plugin schemas", "[docs]") {
  // Built-in plugins only (as `unroll plugins --markdown` does), in a host of its own so that
  // fixture libraries other tests load cannot leak in.
  PluginHost h;
  h.load_directory(PluginHost::builtin_dir());
  const auto pages = reference_pages(h.registry());
  REQUIRE(pages.size() >= 8);  // one page per kind + train.md + README.md
  const fs::path dir = fs::path(UNROLL_SOURCE_DIR) / "docs" / "reference";
  const std::string fix = "; regenerate with `unroll plugins --markdown docs/reference` and commit the pages";
  for (const auto& [file, text] : pages) {
    INFO("docs/reference/" << file);
    INFO("must exist and equal the generated text" << fix);
    REQUIRE(fs::exists(dir / file));
    CHECK(read_file((dir / file).string()) == text);
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    INFO("docs/reference/" << entry.path().filename().string());
    INFO("a page no schema generates (stale?)" << fix);
    CHECK(pages.count(entry.path().filename().string()) == 1);
  }
  // The generator really reads the schemas: an option's doc line appears on its kind's page.
  CHECK_THAT(pages.at("initializers.md"), Catch::Contains("## pretrained") && Catch::Contains("`freeze`"));
  CHECK_THAT(pages.at("train.md"), Catch::Contains("`stop.early.patience`"));
}

TEST_CASE("no test name holds a semicolon, which ctest would split into tests that run nothing", "[docs]") {
  // catch_discover_tests passes each name through a CMake list, where ';' separates items: a
  // name with one became two ctest entries whose filters matched no test and still passed.
  const std::regex name_with_semicolon(R"re(TEST_CASE\("[^"]*;)re");
  for (const auto& entry : fs::directory_iterator(fs::path(UNROLL_SOURCE_DIR) / "tests")) {
    if (entry.path().extension() != ".cpp") continue;
    INFO(entry.path().string());
    CHECK_FALSE(std::regex_search(read_file(entry.path().string()), name_with_semicolon));
  }
}
