// The plugin SDK: `unroll check-plugin` over every in-tree plugin and over broken fixtures,
// `unroll new-plugin`, and the whole out-of-tree path (install into a temporary prefix, build
// a scaffolded plugin against it, check it and run an experiment with the installed host).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "spawn.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using unroll::testing::TempDir;

using unroll::testing::shell;
using unroll::testing::ShellResult;

namespace {

// Short names for the command lines below (spawn.hpp).
const std::string& kBin = unroll::testing::unroll_exe();
std::string q(const std::string& s) { return unroll::testing::shell_quote(s); }

std::string fixture(const std::string& name) {
  return std::string(UNROLL_BINARY_DIR) + "/test_plugins/libunroll_fixture_" + name + ".so";
}
int count(const std::string& text, const std::string& word) {
  int n = 0;
  for (size_t p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("check-plugin: every in-tree plugin passes", "[sdk]") {
  std::string libs;
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(UNROLL_BINARY_DIR) + "/lib/unroll/plugins"))
    if (e.path().extension() == ".so") libs += " " + q(e.path().string()), ++n;
  REQUIRE(n > 10);
  const ShellResult r = shell(q(kBin) + " check-plugin" + libs);
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK(count(r.out, "  FAIL  ") == 0);
  CHECK(count(r.out, "checking ") == n);
  // Gradient-checked components print their measured error.
  CHECK_THAT(r.out, Contains("PASS  layer lstm") && Contains("from a non-zero state") && Contains("relative error"));
  CHECK(count(r.out, "  PASS  ") >= 2 * n / 3);
}

TEST_CASE("check-plugin: a wrong gradient is caught", "[sdk]") {
  const ShellResult bad = shell(q(kBin) + " check-plugin " + q(fixture("wrong_gradient")));
  INFO(bad.out);
  CHECK(bad.code == 1);
  CHECK_THAT(bad.out, Contains("FAIL  layer fixture_wrong_tanh") && Contains("wrong; worst") &&
                          Contains("0 passed, 1 failed"));
  const ShellResult good = shell(q(kBin) + " check-plugin " + q(fixture("good_plugin")));
  INFO(good.out);
  CHECK(good.code == 0);
  CHECK_THAT(good.out, Contains("PASS  layer fixture_identity"));
}

TEST_CASE("check-plugin: refused libraries are reported, not crashed on", "[sdk]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {fixture("wrong_version"), "API version"},
      {fixture("wrong_abi"), "incompatible settings"},
      {fixture("not_a_plugin"), "is not an unroll plugin"},
      {fixture("throwing_plugin"), "failed to register"},
      {std::string(UNROLL_BINARY_DIR) + "/no_such_plugin.so", "does not exist"}};
  for (const auto& [lib, why] : cases) {
    const ShellResult r = shell(q(kBin) + " check-plugin " + q(lib));
    INFO(lib << "\n" << r.out);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Contains("FAIL  load: ") && Contains(why) && Contains(fs::path(lib).filename().string()));
  }
}

TEST_CASE("new-plugin: a skeleton for every kind, bad input refused", "[sdk]") {
  TempDir tmp;
  for (const std::string kind : {"layer", "loss", "initializer", "optimizer", "schedule", "regularizer", "dataset"}) {
    const std::string dir = tmp.file(kind);
    const ShellResult r = shell(q(kBin) + " new-plugin " + kind + " my_" + kind + " " + q(dir));
    INFO(r.out);
    REQUIRE(r.code == 0);
    for (const std::string f : {"my_" + kind + ".cpp", std::string("CMakeLists.txt"), std::string("experiment.yaml")})
      CHECK(fs::exists(dir + "/" + f));
    std::ifstream src(dir + "/my_" + kind + ".cpp");
    std::stringstream text;
    text << src.rdbuf();
    CHECK_THAT(text.str(), Contains("UNROLL_PLUGIN(registry)") && Contains("\"my_" + kind + "\""));
    CHECK(text.str().find('@') == std::string::npos);  // every placeholder replaced
    // The experiment validates with the component in place (its library is not built here,
    // so the unknown-kind message must name exactly this component).
    const ShellResult v = shell(q(kBin) + " run " + q(dir + "/experiment.yaml") + " --quiet --out " + q(dir + "/run"));
    CHECK(v.code == 1);
    CHECK_THAT(v.out, Contains("lib my_" + kind + ".so") || Contains("libmy_" + kind + ".so"));
  }
  // Existing files are not overwritten; bad kinds and names are usage errors.
  CHECK(shell(q(kBin) + " new-plugin layer my_layer " + q(tmp.file("layer"))).code == 1);
  CHECK(shell(q(kBin) + " new-plugin cell my_cell " + q(tmp.file("x"))).code == 2);
  CHECK(shell(q(kBin) + " new-plugin layer My-Cell " + q(tmp.file("y"))).code == 2);
}

// Builds one plugin against the installed package: about 10-30 s on 2 cores.
TEST_CASE("sdk: install, build a plugin out of tree, check it and run it", "[sdk][install]") {
  TempDir tmp;
  const std::string prefix = tmp.file("prefix");
  const ShellResult inst = shell("cmake --install " + q(UNROLL_BINARY_DIR) + " --prefix " + q(prefix));
  INFO(inst.out);
  REQUIRE(inst.code == 0);
  for (const std::string f : {"bin/unroll", "lib/libunroll.so", "lib/unroll/plugins/libunroll_dense.so",
                              "include/unroll/layer.hpp", "include/unroll/plugin.hpp",
                              "lib/cmake/unroll/unrollConfig.cmake", "lib/cmake/unroll/unrollConfigVersion.cmake",
                              "lib/cmake/unroll/unrollTargets.cmake", "lib/cmake/unroll/UnrollPlugin.cmake"})
    CHECK(fs::exists(prefix + "/" + f));
  const std::string bin = prefix + "/bin/unroll";

  // The installed host finds the installed plugins (RPATH $ORIGIN/../lib, plugins ../lib/unroll).
  const ShellResult list = shell("env -u LD_LIBRARY_PATH -u UNROLL_PLUGIN_PATH " + q(bin) + " plugins");
  INFO(list.out);
  REQUIRE(list.code == 0);
  CHECK_THAT(list.out, Contains("dense") && Contains(prefix + "/lib/unroll/plugins"));

  const std::string src = tmp.file("my_scale");
  REQUIRE(shell(q(bin) + " new-plugin layer my_scale " + q(src)).code == 0);
  const ShellResult cfg = shell("cmake -S " + q(src) + " -B " + q(src + "/build") +
                                " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + q(prefix));
  INFO(cfg.out);
  REQUIRE(cfg.code == 0);
  const ShellResult build = shell("cmake --build " + q(src + "/build") + " -j2");
  INFO(build.out);
  REQUIRE(build.code == 0);
  const std::string lib = src + "/build/libmy_scale.so";
  REQUIRE(fs::exists(lib));

  const ShellResult check = shell("env -u LD_LIBRARY_PATH " + q(bin) + " check-plugin " + q(lib));
  INFO(check.out);
  CHECK(check.code == 0);
  CHECK_THAT(check.out, Contains("PASS  layer my_scale") && Contains("relative error"));

  // The experiment the scaffold wrote, run from its folder with the installed host.
  const ShellResult run = shell("cd " + q(src) + " && env -u LD_LIBRARY_PATH " + q(bin) +
                                " run experiment.yaml --quiet --set train.epochs=3 --out " + q(tmp.file("run")));
  INFO(run.out);
  CHECK(run.code == 0);
  CHECK(fs::exists(tmp.file("run") + "/metrics.csv"));
  CHECK(fs::exists(tmp.file("run") + "/summary.json"));

  // A recurrent scaffold: the same cell by hand and as equations, both through check-plugin.
  const std::string cell_src = tmp.file("my_cell");
  REQUIRE(shell(q(bin) + " new-plugin layer my_cell --recurrent " + q(cell_src)).code == 0);
  CHECK(fs::exists(prefix + "/share/unroll/examples/mgu.cpp"));
  const ShellResult cell_build =
      shell("cmake -S " + q(cell_src) + " -B " + q(cell_src + "/build") + " -DCMAKE_BUILD_TYPE=Release " +
            "-DCMAKE_PREFIX_PATH=" + q(prefix) + " && cmake --build " + q(cell_src + "/build") + " -j2");
  INFO(cell_build.out);
  REQUIRE(cell_build.code == 0);
  const ShellResult cell_check =
      shell("env -u LD_LIBRARY_PATH " + q(bin) + " check-plugin " + q(cell_src + "/build/libmy_cell.so"));
  INFO(cell_check.out);
  CHECK(cell_check.code == 0);
  CHECK_THAT(cell_check.out, Contains("PASS  layer my_cell") && Contains("PASS  layer my_cell_eq"));

  // The same library through a user plugin folder instead of the experiment's plugins: list.
  const ShellResult env =
      shell("UNROLL_PLUGIN_PATH=" + q(src + "/build") + " " + q(bin) + " plugins --describe my_scale");
  INFO(env.out);
  CHECK(env.code == 0);
  CHECK_THAT(env.out, Contains("layer my_scale"));
}
