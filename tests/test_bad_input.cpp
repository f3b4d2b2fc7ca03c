// Hostile and odd input to the experiment loader: integers that do not fit, YAML that would
// overflow the stack or fill memory (self-referencing aliases, alias bombs, deep nesting), files
// that are not files, merge keys, run names that are paths. Each must end in a clear error at
// file:line:col, quickly. The same inputs seed the loader fuzzer (tests/fuzz/corpus/loader/).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "support.hpp"
#include "unroll/error.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"

using namespace unroll;
using Catch::Matchers::Contains;

namespace {

const char* kBase = R"(name: bad
data: {kind: blobs, classes: 3, samples: 20}
model:
  - {kind: dense, units: 8}
  - {kind: dense, units: 3}
train: {epochs: 1, batch: 16}
)";

// The message of the Error that loading `text` (with `sets`) throws; "" if it loads.
std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  return testing::load_error(text, sets);
}

std::string error_of_path(const std::string& path) {
  try {
    load_experiment(path, {}, testing::host());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("integers that do not fit in 32 bits are errors at their place, not truncated", "[input][config]") {
  CHECK(error_of(kBase).empty());
  // 4294967297 = 2^32 + 1 used to train with batch 1.
  CHECK_THAT(error_of(kBase, {"train.batch=4294967297"}), Contains("--set train.batch=4294967297") &&
                                                              Contains("'batch' of 'train' is too large") &&
                                                              Contains("32-bit"));
  // 4294967300 used to build 4 units; 2147483648 a negative size.
  std::string t = kBase;
  t.replace(t.find("units: 8"), 8, "units: 4294967300");
  CHECK_THAT(error_of(t), Contains("exp.yaml:4:26") && Contains("'units' of layer 'dense' is too large"));
  t = kBase;
  t.replace(t.find("units: 8"), 8, "units: 2147483648");
  CHECK_THAT(error_of(t), Contains("exp.yaml:4:26") && Contains("too large"));
  // 1e12 is an integral float: accepted as an integer, then bounded like one.
  t = kBase;
  t.replace(t.find("batch: 16"), 9, "batch: 1e12");
  CHECK_THAT(error_of(t), Contains("exp.yaml:6:27") && Contains("'batch' of 'train' is too large"));
  // A seed is 64-bit (declared wide): large seeds are fine.
  CHECK(error_of(std::string(kBase) + "seed: 4294967297\n").empty());
}

TEST_CASE("a list index too large for an integer is a clean error", "[input][config]") {
  CHECK_THAT(error_of(kBase, {"model[99999999999999999999]=1"}),
             Contains("model[99999999999999999999]=1") && Contains("not a usable list index"));
  CHECK_THAT(error_of(kBase, {"model[99999]=null"}), Contains("out of range"));
}

TEST_CASE("a self-referencing alias is an error, in a file or through --set", "[input][config][yaml]") {
  CHECK_THAT(error_of("model: &a [*a]\n"), Contains("exp.yaml:1:12") && Contains("refers to a node that contains it"));
  CHECK_THAT(error_of("data: &d {kind: blobs, x: *d}\n"), Contains("self-referencing"));
  CHECK_THAT(error_of(kBase, {"model=&a [*a]"}), Contains("--set model=&a [*a]") && Contains("contains it"));
  // An ordinary alias still works.
  std::string t = kBase;
  t.replace(t.find("{kind: dense, units: 3}"), 23, "&last {kind: dense, units: 3}");
  CHECK(error_of(t + "extra_layers: *last\n").find("unknown key 'extra_layers'") != std::string::npos);
}

TEST_CASE("an alias bomb fails quickly, even under an unknown key", "[input][config][yaml]") {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i)
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + [&] {
      std::string s;
      for (int k = 0; k < 10; ++k) s += (k ? ", *a" : "*a") + std::to_string(i - 1);
      return s;
    }() + "]\n";
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THAT(error_of(std::string(kBase) + "unknown_key:\n  " + bomb.substr(0, bomb.size() - 1) + "\n"),
             Contains("aliases expand to more than 100000 values"));
  CHECK_THAT(error_of(bomb), Contains("aliases expand to more than"));
  CHECK(seconds_since(t0) < 5);  // was 33 s and 4 GB, then std::bad_alloc
}

TEST_CASE("80k keys load in linear time", "[input][config][yaml]") {
  std::string big = kBase;
  big += "description: many\nmany:\n";
  for (int i = 0; i < 80000; ++i) big += "  key" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THAT(error_of(big), Contains("unknown key 'many'"));
  CHECK(seconds_since(t0) < 10);  // was 43 s: a linear scan per key
  CHECK_THAT(error_of("a: 1\nb: 2\na: 3\n"), Contains("exp.yaml:3:1") && Contains("key 'a' appears twice"));
}

TEST_CASE("deep nesting is a depth-limit error, not a crash", "[input][config][yaml]") {
  CHECK_THAT(error_of("model: " + std::string(100000, '[') + std::string(100000, ']') + "\n"),
             Contains("nesting deeper than"));
  std::string block = "model:\n";
  for (int i = 0; i < 200; ++i) block += std::string(2 * i + 2, ' ') + "k" + std::to_string(i) + ":\n";
  CHECK_THAT(error_of(block), Contains("nesting deeper than"));
}

TEST_CASE("merge keys are refused with a clear message", "[input][config][yaml]") {
  CHECK_THAT(error_of("base: &b {kind: sgd}\noptimizer:\n  <<: *b\n  lr: 0.1\n"),
             Contains("exp.yaml:3:3") && Contains("merge keys ('<<') are not supported"));
  // A quoted "<<" is an ordinary key (and then an unknown one).
  CHECK_THAT(error_of(std::string(kBase) + "\"<<\": 1\n"), Contains("unknown key '<<'"));
}

TEST_CASE("an experiment path that is not a regular file is refused without reading it", "[input][config]") {
  testing::TempDir dir;
  CHECK_THAT(error_of_path(dir.path), Contains(dir.path) && Contains("is a directory"));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THAT(error_of_path("/dev/zero"), Contains("/dev/zero") && Contains("not a regular file"));
  const std::string fifo = dir.file("fifo.yaml");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of_path(fifo), Contains("not a regular file"));  // no writer: used to hang
  CHECK(seconds_since(t0) < 5);
  CHECK_THAT(error_of_path(dir.file("missing.yaml")), Contains("no such file"));
  // Too large: a sparse file of 17 MiB.
  const std::string big = dir.file("big.yaml");
  std::filesystem::resize_file((std::ofstream(big), big), 17u << 20);
  CHECK_THAT(error_of_path(big), Contains("too large"));
}

TEST_CASE("the run name must be a plain file name", "[input][config]") {
  CHECK_THAT(error_of(std::string(kBase) + "extends_nothing: 1\n"), Contains("unknown key"));
  std::string t = kBase;
  t.replace(0, 9, "name: ../../x");
  CHECK_THAT(error_of(t), Contains("exp.yaml:1:7") && Contains("path separator") && Contains("plain file name"));
  CHECK_THAT(error_of(kBase, {"name=.."}), Contains("relative folder"));
  CHECK_THAT(error_of(kBase, {"name=a\\\\b"}), Contains("path separator"));
  CHECK(error_of(kBase, {"name=fine-name_1.2"}).empty());
}

TEST_CASE("train.threads is bounded", "[input][config]") {
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THAT(error_of(kBase, {"train.threads=100000"}),
             Contains("'threads' of 'train' must be in [0, 1024]") && Contains("100000"));
  CHECK(seconds_since(t0) < 2);  // was 22 s, then "Resource temporarily unavailable"
}
