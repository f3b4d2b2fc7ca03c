// Training tensors on transparent huge pages (unroll/host/huge_pages.hpp): `unroll run` restarts
// itself with glibc.malloc.hugetlb=1 in GLIBC_TUNABLES, says so in log.txt, records how much of
// its memory got 2 MiB pages in summary.json, and trains to the same numbers as on 4 KiB pages.
// glibc.malloc.hugetlb=0 in GLIBC_TUNABLES keeps 4 KiB pages.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/files.hpp"

using namespace unroll;
using namespace unroll::testing;

namespace {

// The kernel's transparent-huge-page mode, the bracketed word of "always [madvise] never".
std::string kernel_mode() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(f, line);
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

std::string memory_line(const std::string& run) {
  std::ifstream f(run + "/log.txt");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("memory: ", 0) == 0) return line;
  return "";
}

[[maybe_unused]] double huge_pages_mb(const std::string& run) {  // not asked under AddressSanitizer
  return nlohmann::json::parse(read_file(run + "/summary.json")).at("huge_pages_mb").get<double>();
}

}  // namespace

TEST_CASE("unroll run puts its large allocations on huge pages and trains to the same numbers",
          "[memory][huge_pages]") {
  TempDir t;
  // A 512 x 1024 weight (2 MiB, its gradient and momentum the same) and 4 MiB of data: large
  // enough for whole 2 MiB pages.
  write_file_atomic(t.file("exp.yaml"), R"(name: pages
seed: 3
data: {kind: blobs, classes: 4, features: 512, samples: 2000, test_samples: 20, validation: 0}
model:
  - {kind: dense, units: 1024}
  - {kind: tanh}
  - {kind: dense, units: 4}
loss: cross_entropy
optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
train: {epochs: 2, batch: 50, threads: 1}
)");
  auto run = [&](const std::string& env, const std::string& out) {
    const ShellResult r = shell("env " + env + " " + shell_quote(unroll_exe()) + " run " +
                                shell_quote(t.file("exp.yaml")) + " --quiet --out " + shell_quote(t.file(out)));
    INFO(r.out);
    REQUIRE(r.code == 0);
    return t.file(out);
  };
  const std::string mode = kernel_mode();
  INFO("kernel THP mode: " << mode);
  const std::string on = run("-u GLIBC_TUNABLES", "on");
  const std::string off = run("GLIBC_TUNABLES=glibc.malloc.hugetlb=0", "off");
  // Another tunable in GLIBC_TUNABLES is kept, and hugetlb=1 added to it.
  const std::string more = run("GLIBC_TUNABLES=glibc.malloc.tcache_count=7", "more");

  CHECK(metrics_without_seconds(on + "/metrics.csv") == metrics_without_seconds(off + "/metrics.csv"));
  CHECK(metrics_without_seconds(on + "/metrics.csv") == metrics_without_seconds(more + "/metrics.csv"));
#ifdef UNROLL_TEST_ASAN
  // The sanitizer's allocator replaces glibc's; the log says so rather than claim huge pages.
  CHECK(memory_line(on).find("AddressSanitizer") != std::string::npos);
#else
  if (mode == "never") {
    // The kernel refuses huge pages whatever glibc asks; the log names that as the reason.
    CHECK(memory_line(on) == "memory: 4 KiB pages (the kernel's transparent huge pages: never)");
    CHECK(huge_pages_mb(on) == 0);
  } else {
    if (mode == "madvise") {
      CHECK(memory_line(on) ==
            "memory: large allocations on 2 MiB pages (glibc.malloc.hugetlb=1, the kernel's transparent huge pages: "
            "madvise)");
      CHECK(memory_line(more) == memory_line(on));
      CHECK(memory_line(off) ==
            "memory: 4 KiB pages (GLIBC_TUNABLES sets glibc.malloc.hugetlb=0, the kernel's transparent huge pages: "
            "madvise)");
      CHECK(huge_pages_mb(off) == 0);  // madvise: only what glibc asks for
    }
    CHECK(huge_pages_mb(on) >= 4);  // the data and the weight's tensors at least
    CHECK(huge_pages_mb(more) >= 4);
  }
#endif
}
