// The reading side of checkpoints: a save killed between its two renames is recovered, and
// manifests and .npy files that are malformed (rows of the wrong length, an empty row, a negative
// epoch, a tensor file outside the folder, a shape too large for memory) are clean errors. The
// same inputs seed the manifest and npy fuzzers (tests/fuzz/corpus/).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "unroll/error.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/npy.hpp"
#include "unroll/host/trainer.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using Catch::Matchers::Contains;
using testing::TempDir;

namespace {

const char* kSmall = R"(name: files
seed: 3
data: {kind: blobs, classes: 3, features: 2, samples: 20, test_samples: 5}
model: [{kind: dense, units: 6}, {kind: tanh}, {kind: dense, units: 3}]
optimizer: {kind: adam, lr: 0.01}
train: {epochs: 2, batch: 16, threads: 1}
)";

std::string manifest_error(const std::string& text) {
  try {
    parse_manifest(text, "manifest.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string npy_error(const std::string& bytes) {
  try {
    parse_npy(bytes, "x.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string npy_with_header(const std::string& dict, const std::string& data = "") {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("a save killed between its two renames resumes from the complete copy", "[input][checkpoint]") {
  TempDir t;
  write_file_atomic(t.file("exp.yaml"), kSmall);
  testing::run_text(t, kSmall, "run", {"train.epochs=1"});
  const std::string ck = t.file("run/checkpoint");
  const Snapshot one = read_checkpoint(ck);
  REQUIRE(one.progress.epoch == 1);

  SECTION("only DIR.old is left (the new copy never got its manifest)") {
    fs::rename(ck, ck + ".old");
    fs::create_directories(ck + ".tmp");  // a partial new copy: no manifest
    write_file_atomic(ck + ".tmp/params@x.npy", "partial");
    CHECK(recover_checkpoint(ck));
    CHECK(read_checkpoint(ck).progress.epoch == 1);
  }
  SECTION("DIR.old and a complete DIR.tmp: the newer copy wins, and --resume finishes the run") {
    fs::copy(ck, ck + ".old", fs::copy_options::recursive);
    fs::rename(ck, ck + ".tmp");
    REQUIRE_FALSE(fs::exists(ck));
    Experiment e = load_experiment(t.file("exp.yaml"), {}, testing::host());
    RunOptions o;
    o.out_dir = t.file("run");
    o.quiet = true;
    o.threads = 1;
    o.resume = true;
    const RunResult r = run_experiment(e, testing::host(), o);
    CHECK(r.epochs == 2);
    // The same numbers as an uninterrupted run.
    testing::run_text(t, kSmall, "full");
    CHECK(testing::metrics_without_seconds(t.file("run/metrics.csv")) ==
          testing::metrics_without_seconds(t.file("full/metrics.csv")));
  }
  SECTION("nothing complete is left: a clear error") {
    fs::remove_all(ck);
    CHECK_FALSE(recover_checkpoint(ck));
    CHECK_THROWS_WITH(read_checkpoint(ck), Contains("no manifest.json"));
  }
}

TEST_CASE("malformed manifests are clean errors", "[input][checkpoint]") {
  nlohmann::json good = {{"format", 2}, {"epoch", 2}, {"step", 4}, {"params", nlohmann::json::array()}};
  good["trainer"] = {{"columns", {"epoch", "lr"}},
                     {"rows", {{1, 0.1}, {2, 0.1}}},
                     {"best", {{"metric", "val_loss"}, {"value", 0.5}, {"epoch", 2}}},
                     {"early_stopping", {{"best", nullptr}, {"bad_epochs", 0}}},
                     {"seconds", 1.5}};
  REQUIRE(manifest_error(good.dump()).empty());
  auto with = [&](auto edit) {
    nlohmann::json m = good;
    edit(m);
    return manifest_error(m.dump());
  };
  // A short row used to fill summary.json with garbage (lr 4.6e-310); an empty one segfaulted.
  CHECK_THAT(with([](auto& m) { m["trainer"]["rows"][1] = {2}; }), Contains("row 2 has 1 values for 2 columns"));
  CHECK_THAT(with([](auto& m) { m["trainer"]["rows"][0] = {1, 0.1, 7}; }), Contains("row 1 has 3 values"));
  CHECK_THAT(with([](auto& m) { m["trainer"]["rows"][0] = nlohmann::json::array(); }), Contains("row 1 has 0 values"));
  CHECK_THAT(with([](auto& m) { m["epoch"] = -1; }), Contains("epoch -1 is out of range"));
  CHECK_THAT(with([](auto& m) { m["epoch"] = 3; }), Contains("2 metrics rows for 3 completed epochs"));
  CHECK_THAT(with([](auto& m) { m["step"] = -5; }), Contains("step -5 is negative"));
  CHECK_THAT(with([](auto& m) { m["trainer"]["best"]["epoch"] = 9; }), Contains("best epoch 9"));
  CHECK_THAT(with([](auto& m) {
               m["params"] = {{{"name", "w"}, {"file", "../../etc/passwd"}, {"shape", {1, 1}}}};
             }),
             Contains("not a plain file name"));
  CHECK_THAT(with([](auto& m) {
               m["params"] = {{{"name", "w"}, {"file", "w.npy"}, {"shape", {-1, 1}}}};
             }),
             Contains("negative shape"));
  CHECK_THAT(with([](auto& m) { m["epoch"] = "two"; }), Contains("malformed manifest"));
  // Numbers that are not whole, or too long for an integer (they parse as floats): converting
  // them was undefined behaviour, found by the manifest fuzzer.
  CHECK_THAT(with([](auto& m) { m["step"] = 1e300; }), Contains("step is not a whole number"));
  CHECK_THAT(with([](auto& m) { m["epoch"] = 2.5; }), Contains("epoch is not a whole number"));
  CHECK_THAT(with([](auto& m) { m["trainer"]["early_stopping"]["bad_epochs"] = -1e30; }),
             Contains("early_stopping.bad_epochs is not a whole number"));
  CHECK_THAT(with([](auto& m) {
               m["params"] = {{{"name", "w"}, {"file", "w.npy"}, {"shape", {1e40, 1}}}};
             }),
             Contains("not a whole number"));
  CHECK_THAT(manifest_error("{\"format\": 2, \"epoch\": 2, \"step\": " + std::string(130, '8') + "}"),
             Contains("step is not a whole number"));
  CHECK_THAT(manifest_error("[1, 2]"), Contains("not a JSON object"));
  CHECK_THAT(manifest_error("{\"epoch\": "), Contains("cannot parse the manifest"));
}

TEST_CASE("malformed .npy files are clean errors before anything is allocated", "[input][checkpoint]") {
  const std::string four(4 * 2, '\0');
  CHECK(parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", four), "x").rows() ==
        2);
  CHECK(parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four), "x").cols() == 1);
  // An empty array with a huge dimension: found by the npy fuzzer, it hung converting from row-major order.
  CHECK_THAT(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 237420520689656), }")),
             Contains("x.npy") && Contains("is too large: a dimension is over"));
  CHECK(parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }"), "x").cols() == 5);
  // Used to end in "internal error: stol".
  CHECK_THAT(
      npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (99999999999999999999, 1), }")),
      Contains("x.npy") && Contains("cannot read a 1-D or 2-D shape"));
  // Fits in an integer but its byte size overflows.
  CHECK_THAT(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (4611686018427387904, 4), }")),
             Contains("is too large"));
  CHECK_THAT(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1000000, 1000000), }")),
             Contains("expected 4000000000000 data bytes"));
  CHECK_THAT(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 3), }")),
             Contains("1-D or 2-D"));
  CHECK_THAT(npy_error(npy_with_header("{'descr': '<f8', 'shape': (1,), }")), Contains("float32"));
  CHECK_THAT(npy_error(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12)), Contains("truncated .npy header"));
  CHECK_THAT(npy_error(std::string("\x93NUMPY\x09\x00\x00\x00", 10)), Contains("unsupported .npy format version 9"));
  CHECK_THAT(npy_error("PK\x03\x04zipfile"), Contains("bad magic"));
}
