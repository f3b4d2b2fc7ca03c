// The pre-flight check (check.cpp), which `unroll run FILE --check`, every run before its folder
// is made, and `unroll sweep` for each variant run: it builds the model and reports every error
// that schema validation cannot see, each at its file:line:column. Here: a cell's init blocks
// (`params: {b: {init: ..., blocks: {f: ...}}}` of a `kind: cell` layer, which the cell layer's
// schema sees only as a mapping), a last layer of the wrong width, `train.loss_at` against the
// dataset's targets, and each regularizer's `params` pattern against the model's parameters.
#include <catch2/catch.hpp>
#include <filesystem>

#include "spawn.hpp"
#include "support.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_failure.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using Catch::Contains;

namespace {

// An MGU on delayed recall; INIT_F is the forget-gate bias block's initializer (line 6).
std::string experiment(const std::string& init_f, const std::string& w = "") {
  return "name: mgu\n"
         "data: {kind: delayed_recall, alphabet: 3, length: 4, lag: 1, samples: 32, test_samples: 8}\n"
         "model:\n"
         "  - kind: cell\n"
         "    units: 4\n"
         "    params: {W: " +
         w + ", U: , b: {blocks: {f: " + init_f +
         "}}}\n"
         "    step:\n"
         "      f: \"sigmoid(W_f x + U_f h + b_f)\"\n"
         "      h: \"(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)\"\n"
         "  - {kind: dense, units: 3}\n"
         "train: {epochs: 1, batch: 8, threads: 1}\n";
}

std::string check_error(const testing::TempDir& t, const std::string& text) {
  write_file_atomic(t.file("exp.yaml"), text);
  const Experiment e = load_experiment(t.file("exp.yaml"), {}, testing::host());  // the schema passes it
  try {
    check_experiment(e, testing::host());
  } catch (const Error& err) {
    return err.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a cell's init blocks are validated before the run starts, at their file:line:column", "[cells][input]") {
  testing::TempDir t;
  CHECK(check_error(t, experiment("{kind: constant, value: 1}")) == "no error");
  // An unknown initializer kind in a per-block init: its place, and the nearest kind.
  const std::string kind = check_error(t, experiment("{kind: constnt, value: 1}"));
  CHECK_THAT(kind, Contains("exp.yaml:6:") && Contains("unknown initializer kind 'constnt'") &&
                       Contains("did you mean 'constant'?"));
  // An unknown option of a block's initializer, and a bad value.
  CHECK_THAT(check_error(t, experiment("{kind: constant, valu: 1}")), Contains("exp.yaml:6:") && Contains("value"));
  CHECK_THAT(check_error(t, experiment("{kind: uniform, low: 1, high: x}")), Contains("exp.yaml:6:"));
  // A whole-parameter init of a cell parameter, the same.
  CHECK_THAT(check_error(t, experiment("{kind: constant, value: 1}", "{init: {kind: xavier_unifrom}}")),
             Contains("exp.yaml:6:") && Contains("did you mean 'xavier_uniform'?"));
  // A block the equations do not use: its name, and the blocks there are.
  std::string unused = experiment("{kind: constant, value: 1}");
  unused.replace(unused.find("{f: "), 4, "{g: ");
  CHECK_THAT(check_error(t, unused), Contains("exp.yaml:6:") && Contains("no block 'g'"));

  // `unroll run` refuses it the same way, and leaves no run folder.
  write_file_atomic(t.file("bad.yaml"), experiment("{kind: constnt, value: 1}"));
  CHECK(testing::run_unroll({"run", t.file("bad.yaml"), "--out", t.file("run"), "--quiet"}, t.file("run.log")) ==
        kExitFailed);
  CHECK_THAT(read_file(t.file("run.log")), Contains("bad.yaml:6:") && Contains("constnt"));
  CHECK_FALSE(fs::exists(t.file("run")));
  CHECK(testing::run_unroll({"run", t.file("bad.yaml"), "--check"}, t.file("check.log")) == kExitFailed);
  CHECK_THAT(read_file(t.file("check.log")), Contains("bad.yaml:6:"));
}

namespace {
// Every message of the pre-flight check of TEXT (written to DIR/NAME), none when it passes.
std::vector<std::string> check_messages(const testing::TempDir& t, const std::string& name, const std::string& text) {
  write_file_atomic(t.file(name), text);
  const Experiment e = load_experiment(t.file(name), {}, testing::host());  // the schema passes it
  try {
    check_experiment(e, testing::host());
  } catch (const ConfigErrors& err) {
    return err.messages();
  }
  return {};
}
}  // namespace

TEST_CASE("the pre-flight check reports every error it finds, each once at its file:line:column", "[cells][input]") {
  testing::TempDir t;
  // Two independent problems found after validation: a typo in a cell's init block (line 6) and
  // a last layer too wide for the data's 3 classes.
  std::string text = experiment("{kind: constnt, value: 1}");
  text.replace(text.find("{kind: dense, units: 3}"), 23, "{kind: dense, units: 5}");
  std::vector<std::string> messages = check_messages(t, "exp.yaml", text);
  REQUIRE(messages.size() == 2);
  CHECK_THAT(messages[0], Contains("exp.yaml:6:") && Contains("unknown initializer kind 'constnt'"));
  CHECK_THAT(messages[1], Contains("exp.yaml:") && Contains("the model outputs 5 features") && Contains("3 classes"));

  // Errors in two init blocks of the cell (W's whole-parameter init, b's f block): both, once each.
  messages = check_messages(t, "two.yaml", experiment("{kind: constnt, value: 1}", "{init: {kind: xavier_unifrom}}"));
  REQUIRE(messages.size() == 2);
  CHECK_THAT(messages[0], Contains("two.yaml:6:") && Contains("xavier_unifrom"));
  CHECK_THAT(messages[1], Contains("two.yaml:6:") && Contains("constnt"));

  // `unroll run --check` prints both, one `error:` line each, and fails as for any bad input.
  CHECK(testing::run_unroll({"run", t.file("exp.yaml"), "--check"}, t.file("check.log")) == kExitFailed);
  const std::string log = read_file(t.file("check.log"));
  CHECK_THAT(log, Contains("error: " + t.file("exp.yaml") + ":6:") && Contains("the model outputs 5 features"));
}

TEST_CASE(
    "the pre-flight check catches a per-step loss without per-step targets and a parameter pattern matching nothing",
    "[input]") {
  // Both were found only when the run built its components: a sweep, which checks every variant
  // before it starts any (or submits them to Slurm), let such a variant through to fail alone.
  testing::TempDir t;
  const std::string text =
      "name: adding\n"
      "data: {kind: adding, length: 6, samples: 32, test_samples: 8}\n"
      "model: [{kind: elman, units: 4}, {kind: last_step}, {kind: dense, units: 1}]\n"
      "loss: {kind: squared_error}\n"
      "regularizers: [{kind: l2, lambda: 0.01, params: 'lstm*'}]\n"
      "train: {epochs: 1, batch: 8, loss_at: every}\n";
  const std::vector<std::string> messages = check_messages(t, "exp.yaml", text);
  REQUIRE(messages.size() == 2);
  CHECK_THAT(messages[0],
             Contains("exp.yaml:6:") && Contains("loss_at: every needs per-step targets") && Contains("'adding'"));
  CHECK_THAT(messages[1], Contains("exp.yaml:5:") && Contains("'lstm*' matches none") && Contains("elman0.U"));

  // Fixed, the same experiment passes.
  std::string fixed = text;
  fixed.replace(fixed.find("loss_at: every"), 14, "loss_at: last");
  fixed.replace(fixed.find("'lstm*'"), 7, "'elman*'");
  CHECK(check_messages(t, "fixed.yaml", fixed).empty());
}
