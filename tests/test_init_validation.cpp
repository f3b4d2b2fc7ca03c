// Initializer blocks are validated once. The blocks the experiment's schemas see (a layer's
// `init`, `bias_init`, ...) are validated with the experiment and carry Node::validated(); the
// blocks a plugin assembles (an LSTM's forget-gate block, a cell's `params:` entries) are
// validated by the pre-flight check on the model the run then trains; initializing that model
// validates nothing again.
#include <catch2/catch.hpp>

#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/model.hpp"
#include "unroll/param.hpp"

using namespace unroll;

namespace {

// Blocks of every origin: dense's own init options (explicit and default), the LSTM's forget
// block (made by the plugin from forget_bias), a cell's per-block init and its default inits.
const char* kExperiment =
    "name: once\n"
    "data: {kind: delayed_recall, alphabet: 3, length: 4, lag: 1, samples: 32, test_samples: 8}\n"
    "model:\n"
    "  - {kind: dense, units: 5, init: {kind: gaussian, std: 0.1}}\n"
    "  - {kind: lstm, units: 4, forget_bias: 2}\n"
    "  - kind: cell\n"
    "    units: 4\n"
    "    params: {W: , U: , b: {blocks: {f: {kind: constant, value: 1}}}}\n"
    "    step:\n"
    "      f: \"sigmoid(W_f x + U_f h + b_f)\"\n"
    "      h: \"(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)\"\n"
    "  - {kind: dense, units: 3}\n"
    "train: {epochs: 1, batch: 8, threads: 1}\n";

// Initializer blocks of a model's parameters, and how many of them are not validated yet.
struct BlockCount {
  std::size_t all = 0, unvalidated = 0;
};
BlockCount count_blocks(Model& model) {
  BlockCount c;
  auto add = [&](const Node& block) {
    if (block.is_null()) return;
    ++c.all;
    if (!block.validated()) ++c.unvalidated;
  };
  for (Param* p : model.params()) {
    add(p->init);
    for (const InitBlock& b : p->blocks) add(b.init);
  }
  return c;
}

}  // namespace

TEST_CASE("every initializer block is validated once, from the experiment file to the initialized model",
          "[config][init]") {
  testing::TempDir t;
  write_file_atomic(t.file("exp.yaml"), kExperiment);
  const Experiment e = load_experiment(t.file("exp.yaml"), {}, testing::host());

  // What the pre-flight check has to validate: the blocks the plugins assembled, which the
  // experiment's validation never saw (a model built the same way shows them).
  Model probe(e.config.at("model"), 3, testing::host(), 1, e.base_dir);
  const BlockCount before = count_blocks(probe);
  REQUIRE(before.unvalidated >= 2);          // the LSTM's forget block, the cell's blocks
  REQUIRE(before.all > before.unvalidated);  // and dense's and the LSTM's own, validated already

  const std::size_t start = validation_count(Kind::Initializer);
  Preflight pf = preflight_experiment(e, testing::host());
  CHECK(validation_count(Kind::Initializer) - start == before.unvalidated);
  const BlockCount checked = count_blocks(*pf.model);
  CHECK(checked.all == before.all);
  CHECK(checked.unvalidated == 0);

  // The run initializes the checked model: no block is validated again.
  const std::size_t after_check = validation_count(Kind::Initializer);
  pf.model->initialize(testing::host(), 1, e.base_dir);
  CHECK(validation_count(Kind::Initializer) == after_check);
  // The forget block of the LSTM's b holds forget_bias after initialization.
  Param* b = nullptr;
  for (Param* p : pf.model->params())
    if (p->name == "lstm1.b") b = p;
  REQUIRE(b != nullptr);
  CHECK(b->value.middleRows(4, 4).isConstant(2.0f));

  // A model built without the pre-flight check (a test, check-plugin) validates its plugin-made
  // blocks when it is initialized, once: a second initialization validates nothing.
  const std::size_t fresh = validation_count(Kind::Initializer);
  probe.initialize(testing::host(), 1, e.base_dir);
  CHECK(validation_count(Kind::Initializer) - fresh == before.unvalidated);
  probe.initialize(testing::host(), 1, e.base_dir);
  CHECK(validation_count(Kind::Initializer) - fresh == before.unvalidated);
}

TEST_CASE("a nested block validated with its parent is marked, and one with an error is not", "[config][init]") {
  const Node ok = validate_component(parse_yaml("{kind: dense, units: 2, init: {kind: gaussian}}", "t"), Kind::Layer,
                                     testing::host());
  CHECK(ok.validated());
  CHECK(ok.at("init").validated());
  CHECK(ok.at("init").has("std"));  // its defaults filled in
  Diagnostics diag;
  const Node bad =
      validate_component(parse_yaml("{kind: gaussian, sdt: 1}", "t"), Kind::Initializer, testing::host(), diag);
  CHECK_FALSE(diag.empty());
  CHECK_FALSE(bad.validated());
  CHECK_FALSE(parse_yaml("{kind: gaussian}", "t").validated());
}
