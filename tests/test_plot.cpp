// unroll plot: learning curves of several runs overlaid, and the grad_lags heatmap of a
// recurrent run (PNG files drawn by tools/plot_run.py with matplotlib).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "support.hpp"
#include "unroll/files.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

TEST_CASE("unroll plot draws overlaid curves and the grad_lags heatmap", "[plot][cli]") {
  TempDir dir;
  const std::string exp = R"(seed: 1
data: {kind: delayed_recall, lag: 2, alphabet: 3, length: 6, samples: 64, test_samples: 16, validation: 16}
model: [{kind: elman, units: 8}, {kind: dense, units: 3}]
optimizer: {kind: sgd, lr: 0.1}
train: {epochs: 3, batch: 16, diagnostics: {grad_lags: true}}
)";
  run_text(dir, exp, "a");
  run_text(dir, exp, "b", {"optimizer.lr=0.3"});
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  const std::string cmd = exe + " plot " + dir.file("a") + " " + dir.file("b") + " --out " + dir.file("plots") + " > " +
                          dir.file("out") + " 2>&1";
  const int rc = WEXITSTATUS(std::system(cmd.c_str()));
  INFO(read_file(dir.file("out")));
  REQUIRE(rc == 0);  // needs /usr/bin/python3 with matplotlib (tools/setup installs it); the output says why not
  for (const char* f : {"curves.png", "grad_lags-a.png", "grad_lags-b.png"}) {
    INFO(f);
    REQUIRE(std::filesystem::exists(dir.file(std::string("plots/") + f)));
    CHECK(read_file(dir.file(std::string("plots/") + f)).substr(1, 3) == "PNG");
  }
  const std::string bad = exe + " plot " + dir.path + " > " + dir.file("out2") + " 2>&1";
  CHECK(WEXITSTATUS(std::system(bad.c_str())) == 1);
  CHECK_THAT(read_file(dir.file("out2")), Contains("not a run folder"));
}
