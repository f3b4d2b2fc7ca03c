// The model summary (layer, kind, measured output shape, parameters, totals, memory estimate)
// and `unroll run FILE --dry-run`, which prints it and trains nothing.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model_summary.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

TEST_CASE("model summary: measured output steps, parameter counts and totals", "[summary]") {
  const Node blocks = validate_component(parse_yaml("{kind: lstm, units: 8}", "<t>"), Kind::Layer, host());
  Node model_blocks = Node::sequence();
  model_blocks.push_back(blocks);
  model_blocks.push_back(validate_component(parse_yaml("{kind: last_step}", "<t>"), Kind::Layer, host()));
  model_blocks.push_back(validate_component(parse_yaml("{kind: dense, units: 3}", "<t>"), Kind::Layer, host()));
  Model m(model_blocks, 5, host(), 1, ".");
  m.initialize(host(), 1, ".");
  const std::string s = model_summary(m, model_blocks, 7, 32, "adam");
  INFO(s);
  // LSTM: 4 gates x (8 x 5 input weights + 8 x 8 recurrent + 8 biases) = 448; dense 8*3+3 = 27.
  CHECK_THAT(s, Contains("lstm0") && Contains("8 x 7") && Contains("448"));
  CHECK_THAT(s, Contains("last_step1") && Contains("8 x 1"));
  CHECK_THAT(s, Contains("dense2") && Contains("3 x 1") && Contains("27"));
  CHECK_THAT(s, Contains("total parameters: 475"));
  // 475 params x 4 bytes x (value, grad, 2 adam moments) = 7600 B; outputs (5*7 + 8*7 + 8 + 3)
  // x 2 x 4 bytes x 32 = 26112 B; 33712 B = 32.9 KiB.
  CHECK_THAT(s, Contains("estimated training memory: 32.9 KiB"));
}

TEST_CASE("unroll run --dry-run validates, prints the summary and writes nothing", "[summary][cli]") {
  TempDir dir;
  std::ofstream(dir.file("exp.yaml")) << "data: {kind: blobs, classes: 3, features: 4}\n"
                                         "model: [{kind: dense, units: 10}, {kind: relu}, {kind: dense, units: 3}]\n";
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  const std::string cmd =
      exe + " run " + dir.file("exp.yaml") + " --dry-run --out " + dir.file("run") + " > " + dir.file("out") + " 2>&1";
  REQUIRE(WEXITSTATUS(std::system(cmd.c_str())) == 0);
  const std::string out = read_file(dir.file("out"));
  CHECK_THAT(out, Contains("dense0") && Contains("relu1") && Contains("total parameters: 83") && Contains("dry run"));
  CHECK_FALSE(std::filesystem::exists(dir.file("run")));
  std::ofstream(dir.file("bad.yaml"))
      << "data: {kind: blobs, classes: 3, features: 4}\nmodel: [{kind: dense, units: 4}]\n";
  const std::string bad = exe + " run " + dir.file("bad.yaml") + " --dry-run > " + dir.file("out2") + " 2>&1";
  CHECK(WEXITSTATUS(std::system(bad.c_str())) == 1);
  CHECK_THAT(read_file(dir.file("out2")), Contains("outputs 4 features") && Contains("3 classes"));
}
