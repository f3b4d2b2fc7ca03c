// The plugin SDK: `unroll check-plugin` over every in-tree plugin and over broken fixtures,
// `unroll new-plugin`, and the whole out-of-tree path (install into a temporary prefix, build
// a scaffolded plugin against it, check it and run an experiment with the installed host).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using unroll::testing::TempDir;

namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr
};

Result sh(const std::string& cmd) {
  Result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }
const std::string kBin = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
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
  const Result r = sh(q(kBin) + " check-plugin" + libs);
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK(count(r.out, "  FAIL  ") == 0);
  CHECK(count(r.out, "checking ") == n);
  // Gradient-checked components print their measured error.
  CHECK_THAT(r.out, Contains("PASS  layer lstm") && Contains("from a non-zero state") && Contains("relative error"));
  CHECK(count(r.out, "  PASS  ") >= 2 * n / 3);
}

TEST_CASE("check-plugin: a wrong gradient is caught", "[sdk]") {
  const Result bad = sh(q(kBin) + " check-plugin " + q(fixture("wrong_gradient")));
  INFO(bad.out);
  CHECK(bad.code == 1);
  CHECK_THAT(bad.out, Contains("FAIL  layer fixture_wrong_tanh") && Contains("wrong; worst") &&
                          Contains("0 passed, 1 failed"));
  const Result good = sh(q(kBin) + " check-plugin " + q(fixture("good_plugin")));
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
    const Result r = sh(q(kBin) + " check-plugin " + q(lib));
    INFO(lib << "\n" << r.out);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Contains("FAIL  load: ") && Contains(why) && Contains(fs::path(lib).filename().string()));
  }
}

TEST_CASE("new-plugin: a skeleton for every kind, bad input refused", "[sdk]") {
  TempDir tmp;
  for (const std::string kind : {"layer", "loss", "initializer", "optimizer", "schedule", "regularizer", "dataset"}) {
    const std::string dir = tmp.file(kind);
    const Result r = sh(q(kBin) + " new-plugin " + kind + " my_" + kind + " " + q(dir));
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
    const Result v = sh(q(kBin) + " run " + q(dir + "/experiment.yaml") + " --quiet --out " + q(dir + "/run"));
    CHECK(v.code == 1);
    CHECK_THAT(v.out, Contains("lib my_" + kind + ".so") || Contains("libmy_" + kind + ".so"));
  }
  // Existing files are not overwritten; bad kinds and names are usage errors.
  CHECK(sh(q(kBin) + " new-plugin layer my_layer " + q(tmp.file("layer"))).code == 1);
  CHECK(sh(q(kBin) + " new-plugin cell my_cell " + q(tmp.file("x"))).code == 2);
  CHECK(sh(q(kBin) + " new-plugin layer My-Cell " + q(tmp.file("y"))).code == 2);
}

// Builds one plugin against the installed package: about 10-30 s on 2 cores.
TEST_CASE("sdk: install, build a plugin out of tree, check it and run it", "[sdk][install]") {
  TempDir tmp;
  const std::string prefix = tmp.file("prefix");
  const Result inst = sh("cmake --install " + q(UNROLL_BINARY_DIR) + " --prefix " + q(prefix));
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
  const Result targets = sh("cat " + q(prefix + "/lib/cmake/unroll/unrollTargets.cmake"));
  CHECK_THAT(targets.out, Contains("unroll::api") && !Contains("unroll_host") && !Contains("unroll_tools"));
  // An installed plugin needs the API library and nothing else of unroll.
  const Result needed = sh("objdump -p " + q(prefix + "/lib/unroll/plugins/libunroll_pretrained.so") + " | grep NEEDED");
  INFO(needed.out);
  CHECK_THAT(needed.out, Contains("libunroll_api.so") && !Contains("libunroll_host") && !Contains("libunroll_tools"));

  // The installed host finds the installed plugins (RPATH $ORIGIN/../lib, plugins ../lib/unroll).
  const Result list = sh("env -u LD_LIBRARY_PATH -u UNROLL_PLUGIN_PATH " + q(bin) + " plugins");
  INFO(list.out);
  REQUIRE(list.code == 0);
  CHECK_THAT(list.out, Contains("dense") && Contains(prefix + "/lib/unroll/plugins"));

  const std::string src = tmp.file("my_scale");
  REQUIRE(sh(q(bin) + " new-plugin layer my_scale " + q(src)).code == 0);
  const Result cfg = sh("cmake -S " + q(src) + " -B " + q(src + "/build") + " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" +
                        q(prefix));
  INFO(cfg.out);
  REQUIRE(cfg.code == 0);
  const Result build = sh("cmake --build " + q(src + "/build") + " -j2");
  INFO(build.out);
  REQUIRE(build.code == 0);
  const std::string lib = src + "/build/libmy_scale.so";
  REQUIRE(fs::exists(lib));

  const Result check = sh("env -u LD_LIBRARY_PATH " + q(bin) + " check-plugin " + q(lib));
  INFO(check.out);
  CHECK(check.code == 0);
  CHECK_THAT(check.out, Contains("PASS  layer my_scale") && Contains("relative error"));

  // The experiment the scaffold wrote, run from its folder with the installed host.
  const Result run = sh("cd " + q(src) + " && env -u LD_LIBRARY_PATH " + q(bin) +
                        " run experiment.yaml --quiet --set train.epochs=3 --out " + q(tmp.file("run")));
  INFO(run.out);
  CHECK(run.code == 0);
  CHECK(fs::exists(tmp.file("run") + "/metrics.csv"));
  CHECK(fs::exists(tmp.file("run") + "/summary.json"));

  // A recurrent scaffold: the same cell by hand and as equations, both through check-plugin.
  const std::string cell_src = tmp.file("my_cell");
  REQUIRE(sh(q(bin) + " new-plugin layer my_cell --recurrent " + q(cell_src)).code == 0);
  CHECK(fs::exists(prefix + "/share/unroll/examples/mgu.cpp"));
  const Result cell_build = sh("cmake -S " + q(cell_src) + " -B " + q(cell_src + "/build") +
                               " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + q(prefix) + " && cmake --build " +
                               q(cell_src + "/build") + " -j2");
  INFO(cell_build.out);
  REQUIRE(cell_build.code == 0);
  const Result cell_check = sh("env -u LD_LIBRARY_PATH " + q(bin) + " check-plugin " + q(cell_src + "/build/libmy_cell.so"));
  INFO(cell_check.out);
  CHECK(cell_check.code == 0);
  CHECK_THAT(cell_check.out, Contains("PASS  layer my_cell") && Contains("PASS  layer my_cell_eq"));

  // The same library through a user plugin folder instead of the experiment's plugins: list.
  const Result env = sh("UNROLL_PLUGIN_PATH=" + q(src + "/build") + " " + q(bin) + " plugins --describe my_scale");
  INFO(env.out);
  CHECK(env.code == 0);
  CHECK_THAT(env.out, Contains("layer my_scale"));
}
