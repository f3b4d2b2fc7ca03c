// Fuzzes --set: each line of the input is one PATH=VALUE assignment applied, in order, to a small
// valid experiment, which is then validated as `unroll run FILE --set ... --check` would.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/plugin_host.hpp"

namespace {
unroll::PluginHost* g_host = nullptr;
std::string g_file;

const char* kBase = R"(name: fuzz
data: {kind: blobs, classes: 3, samples: 20}
model:
  - {kind: elman, units: 4}
  - {kind: last_step}
  - {kind: dense, units: 3}
optimizer: {kind: adam, lr: 0.01}
schedule: {kind: step, every: 2, gamma: 0.5}
regularizers: [{kind: l2, lambda: 0.001}]
train: {epochs: 1, batch: 8, bptt: {k1: 2, k2: 4}}
)";
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_host = new unroll::PluginHost;
  g_host->load_default({});
  char dir[] = "/tmp/unroll-fuzz-set-XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  g_file = std::string(dir) + "/exp.yaml";
  std::ofstream(g_file) << kBase;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<std::string> sets;
  for (std::string line; std::getline(in, line) && sets.size() < 16;) sets.push_back(line);
  try {
    unroll::load_experiment(g_file, sets, *g_host);
  } catch (const unroll::Error&) {
  }
  return 0;
}
