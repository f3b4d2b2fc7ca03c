// The memory estimate made before a model is built, and `unroll run FILE --check`: a model too
// large for the machine is refused naming its largest layer, before anything is allocated; the
// estimate's parameter counts are the built layers' own, and its per-step cache of each recurrent
// layer is what the layer really keeps; --check writes nothing.
#include <malloc.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support.hpp"  // UNROLL_TEST_ASAN
#ifdef UNROLL_TEST_ASAN
#include <sanitizer/allocator_interface.h>
#endif
#include "unroll/error.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/memory_estimate.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/config.hpp"

namespace fs = std::filesystem;
using namespace unroll;
using Catch::Matchers::Contains;

namespace {

const char* kSeq = R"(name: mem
data: {kind: blobs, classes: 3, features: 5, samples: 20}
model:
  - {kind: dense, units: 7}
  - {kind: tanh}
  - {kind: elman, units: 6}
  - {kind: lstm, units: 5}
  - {kind: gru, units: 4}
  - {kind: last_step}
  - {kind: dense, units: 3, bias: false}
train: {epochs: 1, batch: 8}
)";

Experiment load(const testing::TempDir& dir, const std::string& text, const std::vector<std::string>& sets = {}) {
  write_file_atomic(dir.file("exp.yaml"), text);
  return load_experiment(dir.file("exp.yaml"), sets, testing::host());
}

// Heap bytes in use now (under AddressSanitizer glibc's numbers are empty: ask its allocator).
double heap_in_use() {
#ifdef UNROLL_TEST_ASAN
  return static_cast<double>(__sanitizer_get_current_allocated_bytes());
#else
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
#endif
}

// What a fresh recurrent layer keeps on the heap after a forward and a backward of T steps x B
// samples (its own buffers only: the test's sequences are allocated before the first reading).
double kept_bytes(const std::string& yaml, int in, int T, int B) {
  Seq x, y, dy, dx;
  x.resize(in, T, B);
  x.data.setConstant(0.1f);
  auto probe = testing::make_layer(yaml, in);
  const int H = probe->output_size();
  probe.reset();
  y.resize(H, T, B);
  dy.resize(H, T, B);
  dy.data.setConstant(0.01f);
  dx.resize(in, T, B);
  const double before = heap_in_use();
  auto l = testing::make_layer(yaml, in);
  l->reset_state(B);
  l->forward(x, y, Mode::Train);
  const double after_forward = heap_in_use();
  l->backward(dy, dx, true);
  return std::max(after_forward, heap_in_use()) - before;
}

}  // namespace

TEST_CASE("the estimate counts the parameters the built layers have", "[input][memory]") {
  testing::TempDir dir;
  const Experiment e = load(dir, kSeq);
  DatasetInfo info;
  info.input_size = 5;
  info.steps = 4;
  info.output_size = 3;
  const MemoryEstimate est = estimate_memory(e.config, info, testing::host());
  Model model(e.config.at("model"), 5, testing::host(), 1, e.base_dir);
  REQUIRE(est.layers.size() == model.layers().size());
  double total = 0;
  for (size_t i = 0; i < est.layers.size(); ++i) {
    long long n = 0;
    for (Param* p : model.layers()[i]->params()) n += p->value.size();
    INFO(est.layers[i].name);
    CHECK(est.layers[i].params == static_cast<double>(n));
    CHECK(est.layers[i].output_size == model.layers()[i]->output_size());
    CHECK(est.layers[i].bytes > 0);
    total += est.layers[i].bytes;
  }
  CHECK(est.total_bytes == Approx(total));
  CHECK_THAT(est.text(), Contains("lstm3 (lstm): 240 parameters"));  // 4*5*(6+5+1)
}

TEST_CASE("a model larger than the available memory is refused naming its largest layer", "[input][memory]") {
  testing::TempDir dir;
  // 2e9 units: valid as an integer, ~90 GB with gradients and optimizer state.
  const Experiment e = load(dir, kSeq, {"model[0].units=2000000000"});
  DatasetInfo info;
  info.input_size = 5;
  info.output_size = 3;
  const MemoryEstimate est = estimate_memory(e.config, info, testing::host());
  CHECK_THROWS_WITH(check_memory(est, 1e9, e.config),
                    Contains("exp.yaml:4:5") && Contains("layer dense0 (dense") && Contains("only 953.7 MiB"));
  CHECK_NOTHROW(check_memory(est, 1e15, e.config));
  // A run refuses before building the model (no std::bad_alloc, no OOM kill).
  CHECK_THROWS_WITH(testing::run_text(dir, kSeq, "run", {"model[0].units=2000000000", "train.epochs=1"}),
                    Contains("layer dense0 (dense"));
}

TEST_CASE("unroll run FILE --check validates, estimates memory and writes nothing", "[input][memory][cli]") {
  testing::TempDir dir;
  write_file_atomic(dir.file("exp.yaml"), kSeq);
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  auto run = [&](const std::string& args) {
    const std::string cmd = "cd " + dir.path + " && " + exe + " run exp.yaml --check " + args + " > out.txt 2> err.txt";
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  CHECK(run("") == 0);
  CHECK_THAT(read_file(dir.file("out.txt")),
             Contains("exp.yaml: valid") && Contains("memory estimate") && Contains("lstm3 (lstm): 240 parameters"));
  CHECK(run("--set model[6].units=4") == 1);
  CHECK_THAT(read_file(dir.file("err.txt")), Contains("the model outputs 4 features") && Contains("3 classes"));
  CHECK(run("--set model[0].units=2000000000") == 1);
  CHECK_THAT(read_file(dir.file("err.txt")), Contains("layer dense0 (dense"));
  CHECK(run("--set train.threads=100000") == 1);
  CHECK(run("--threads 100000") == 2);
  CHECK_FALSE(fs::exists(dir.file("runs")));  // nothing written
}

TEST_CASE("the estimate counts what train.bptt.memory keeps of a recurrent layer", "[input][memory][bptt]") {
  testing::TempDir dir;
  DatasetInfo info;
  info.input_size = 5;
  info.steps = 100;
  info.output_size = 3;
  auto lstm = [&](const std::vector<std::string>& more) {
    std::vector<std::string> sets{"train.batch=8", "train.eval_batch=8"};
    sets.insert(sets.end(), more.begin(), more.end());
    const MemoryEstimate est = estimate_memory(load(dir, kSeq, sets).config, info, testing::host());
    return est.layers[3];  // lstm3: 5 units, h and c
  };
  const LayerMemory full = lstm({});
  const LayerMemory every = lstm({"train.bptt.memory.every=10"});
  const LayerMemory budget = lstm({"train.bptt.memory.budget=4000"});
  // Full storage: 11 floats per unit, step and sample (lstm's footprint: h, c, tanh c, the four
  // gates and, in backward, their four gradients). Every 10 steps: one segment's 10 steps, plus h
  // and c at the 10 segment starts and the final state.
  const double H = 5, T = 100, B = 8;
  CHECK(full.bytes - every.bytes == Approx(4 * (11 * H * T * B - (11 * H * 10 * B + 2 * H * 11 * B))));
  CHECK(full.bytes - budget.bytes == Approx(4 * 11 * H * T * B - 4000));  // the budget bounds it
  CHECK(full.note.empty());
  CHECK_THAT(every.note, Contains("every 10 steps"));
  // Feed-forward layers are not touched.
  CHECK(lstm({"train.bptt.memory.every=10"}).bytes != full.bytes);
  const Experiment e = load(dir, kSeq, {"train.bptt.memory.every=10"});
  const MemoryEstimate est = estimate_memory(e.config, info, testing::host());
  CHECK(est.layers[0].bytes == estimate_memory(load(dir, kSeq).config, info, testing::host()).layers[0].bytes);
  CHECK_THAT(est.text(), Contains("lstm3 (lstm): 240 parameters") && Contains("a checkpoint every 10 steps"));

  // And `unroll run FILE --check` prints it.
  write_file_atomic(dir.file("exp.yaml"), kSeq);
  const std::string cmd = "cd " + dir.path + " && " + std::string(UNROLL_BINARY_DIR) +
                          "/bin/unroll run exp.yaml --check --set train.bptt.memory.budget=1MiB > out.txt 2> err.txt";
  CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 0);
  CHECK_THAT(read_file(dir.file("out.txt")), Contains("bptt.memory: within the budget of 1.0 MiB"));
}

TEST_CASE("the estimate's per-step cache of each recurrent layer is what the layer keeps", "[input][memory][bptt]") {
  // The footprint's floats_per_column sizes the estimate and (as stored_floats_per_step) the
  // segments of train.bptt.memory.budget. Measured: the heap a layer keeps for T2 steps less what
  // it keeps for T1, per step and sample. An estimate a third low (the LSTM's and GRU's once
  // left out backward's gate gradients) would fail this.
  const std::vector<std::string> cells = {
      "{kind: elman, units: 32}", "{kind: lstm, units: 32}", "{kind: gru, units: 32}", "{kind: mgu, units: 32}",
      R"Y({kind: cell, units: 32, params: {W: , U: , b: }, step: {f: "sigmoid(W_f x + U_f h + b_f)",
          h: "(1 - f) * h + f * tanh(W_h x + U_h (f * h) + b_h)"}})Y"};
  const int in = 8, B = 16, T1 = 40, T2 = 240;
  for (const std::string& yaml : cells) {
    INFO(yaml);
    const Node block = validate_component(parse_yaml(yaml, "<test>"), Kind::Layer, testing::host());
    const auto& entry = testing::host().entry(Kind::Layer, block.at("kind").text());
    REQUIRE(entry.footprint);
    const LayerFootprint f = entry.footprint(Options(block, &entry.schema), in);
    const double measured = (kept_bytes(yaml, in, T2, B) - kept_bytes(yaml, in, T1, B)) / (4.0 * (T2 - T1) * B);
    INFO("floats per step and sample: estimated " << f.floats_per_column << ", kept " << measured);
    CHECK(measured >= 0.8 * static_cast<double>(f.floats_per_column));
    CHECK(measured <= 1.25 * static_cast<double>(f.floats_per_column));
  }
}
