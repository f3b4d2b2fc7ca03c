// The plugin SDK: `unroll check-plugin` over every in-tree plugin and over broken fixtures,
// `unroll new-plugin`, and the whole out-of-tree path (install into a temporary prefix, build
// a scaffolded plugin against it, check it and run an experiment with the installed host).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/wait.h>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/files.hpp"

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
  CHECK_THAT(bad.out,
             Contains("FAIL  layer fixture_wrong_tanh") && Contains("wrong; worst") && Contains("0 passed, 1 failed"));
  const ShellResult good = shell(q(kBin) + " check-plugin " + q(fixture("good_plugin")));
  INFO(good.out);
  CHECK(good.code == 0);
  CHECK_THAT(good.out, Contains("PASS  layer fixture_identity"));
}

TEST_CASE("check-plugin: broken state carry, thread dependence, one wrong tensor and an option are caught", "[sdk]") {
  const ShellResult r = shell(q(kBin) + " check-plugin " + q(fixture("broken_contracts")));
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Contains("0 passed, 5 failed"));
  auto line = [&](const std::string& component) {
    const size_t at = r.out.find("FAIL  layer " + component);
    REQUIRE(at != std::string::npos);
    return r.out.substr(at, r.out.find('\n', at) - at);
  };
  // A recurrent layer that starts every forward from the state set before, not the last one.
  const std::string forgetful = line("fixture_forgetful");
  CHECK_THAT(forgetful, Contains("state carry: a forward over 2 + 4 steps differs from one 6-step forward") &&
                            Contains("max abs difference") && !Contains("set_state(state_at(1))"));
  CHECK_THAT(forgetful, !Contains("wrong; worst"));  // its gradients are right
  // Right with one thread, wrong when the batch is split.
  const std::string race = line("fixture_thread_race");
  CHECK_THAT(race, Contains("threads: the output with 2 threads differs from 1 thread") && !Contains("wrong; worst"));
  // One wrong tensor among three: the per-tensor summary names it and clears the others.
  const std::string bias = line("fixture_bad_bias");
  CHECK_THAT(bias, Contains("per tensor: fixture_bad_bias0.b: ") && Contains(" wrong, max abs error ") &&
                       Contains("max rel error") && Contains("correct: fixture_bad_bias0.input, fixture_bad_bias0.W"));
  // Right at the default scale 1 only: the option variant names the value.
  const std::string scaled = line("fixture_scaled");
  CHECK_THAT(scaled, Contains("with scale=2: gradients") && Contains("per tensor: fixture_scaled0.input: "));
  // A regularizer's penalty gradient wrong for one parameter: named, the others cleared.
  const size_t reg = r.out.find("FAIL  regularizer fixture_bad_l2");
  REQUIRE(reg != std::string::npos);
  CHECK_THAT(r.out.substr(reg, r.out.find('\n', reg) - reg),
             Contains("per tensor: check0.U: 36 of 36 wrong") && Contains("correct: check0.W, check0.b"));
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
    for (const std::string& f : {"my_" + kind + ".cpp", std::string("CMakeLists.txt"), std::string("experiment.yaml")})
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

TEST_CASE("README: the new-plugin and check-plugin examples name the library the scaffold produces", "[sdk][docs]") {
  // The README shows `unroll new-plugin KIND NAME DIR` and then `unroll check-plugin LIB`: LIB
  // must be the library that scaffold builds, which the scaffold itself names twice (the next
  // steps it prints, and the `plugins:` entry of its experiment.yaml).
  const std::string readme = unroll::read_file(std::string(UNROLL_SOURCE_DIR) + "/README.md");
  std::smatch np, cp;
  REQUIRE(std::regex_search(readme, np, std::regex(R"(unroll new-plugin (\w+) (\w+) (\S+))")));
  REQUIRE(std::regex_search(readme, cp, std::regex(R"(unroll check-plugin (\S+\.so))")));
  const std::string kind = np[1], name = np[2], readme_dir = np[3], readme_lib = cp[1];
  INFO("README: new-plugin " << kind << " " << name << " " << readme_dir << "; check-plugin " << readme_lib);

  TempDir tmp;
  const std::string dir = tmp.file(name);
  const ShellResult r = shell(q(kBin) + " new-plugin " + kind + " " + name + " " + q(dir));
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::smatch next;
  REQUIRE(std::regex_search(r.out, next, std::regex(R"(unroll check-plugin (\S+\.so))")));
  const std::string built = next[1];  // relative to the plugin folder: build/libNAME.so
  CHECK(readme_lib == readme_dir + "/" + built);
  CHECK_THAT(unroll::read_file(dir + "/experiment.yaml"), Contains("plugins: [" + built + "]"));
}

// Builds one plugin against the installed package: about 10-30 s on 2 cores.
TEST_CASE("sdk: install, build a plugin out of tree, check it and run it", "[sdk][install]") {
  TempDir tmp;
  const std::string prefix = tmp.file("prefix");
  const std::string same_compiler = " -DCMAKE_CXX_COMPILER=" + q(UNROLL_CXX_COMPILER);
  const ShellResult inst = shell("cmake --install " + q(UNROLL_BINARY_DIR) + " --prefix " + q(prefix));
  INFO(inst.out);
  REQUIRE(inst.code == 0);
  for (const std::string f : {"bin/unroll", "lib/libunroll_api.so", "lib/libunroll_host.so", "lib/libunroll_tools.so",
                              "lib/unroll/plugins/libunroll_dense.so", "include/unroll/checkpoint_reader.hpp",
                              "include/unroll/layer.hpp", "include/unroll/plugin.hpp",
                              "lib/cmake/unroll/unrollConfig.cmake", "lib/cmake/unroll/unrollConfigVersion.cmake",
                              "lib/cmake/unroll/unrollTargets.cmake", "lib/cmake/unroll/UnrollPlugin.cmake"})
    CHECK(fs::exists(prefix + "/" + f));
  const std::string bin = prefix + "/bin/unroll";
  // The SDK is the plugin API: no host header, and the exported target is the API library only.
  CHECK_FALSE(fs::exists(prefix + "/include/unroll/host"));
  const ShellResult targets = shell("cat " + q(prefix + "/lib/cmake/unroll/unrollTargets.cmake"));
  CHECK_THAT(targets.out, Contains("unroll::api") && !Contains("unroll_host") && !Contains("unroll_tools"));
  // An installed plugin needs the API library and nothing else of unroll.
  const ShellResult needed =
      shell("objdump -p " + q(prefix + "/lib/unroll/plugins/libunroll_pretrained.so") + " | grep NEEDED");
  INFO(needed.out);
  CHECK_THAT(needed.out, Contains("libunroll_api.so") && !Contains("libunroll_host") && !Contains("libunroll_tools"));

  // The installed host finds the installed plugins (RPATH $ORIGIN/../lib, plugins ../lib/unroll).
  const ShellResult list = shell("env -u LD_LIBRARY_PATH -u UNROLL_PLUGIN_PATH " + q(bin) + " plugins");
  INFO(list.out);
  REQUIRE(list.code == 0);
  CHECK_THAT(list.out, Contains("dense") && Contains(prefix + "/lib/unroll/plugins"));

  const std::string src = tmp.file("my_scale");
  REQUIRE(shell(q(bin) + " new-plugin layer my_scale " + q(src)).code == 0);
  const ShellResult cfg = shell("cmake -S " + q(src) + " -B " + q(src + "/build") +
                                " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + q(prefix) + same_compiler);
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
  const ShellResult cell_build = shell("cmake -S " + q(cell_src) + " -B " + q(cell_src + "/build") +
                                       " -DCMAKE_BUILD_TYPE=Release " + "-DCMAKE_PREFIX_PATH=" + q(prefix) +
                                       same_compiler + " && cmake --build " + q(cell_src + "/build") + " -j2");
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
