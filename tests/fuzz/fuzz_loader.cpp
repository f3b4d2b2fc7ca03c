// Fuzzes the experiment loader: YAML text -> compose (extends, path keys) -> validate every block
// against the built-in plugins' schemas, the path `unroll run FILE --check` takes before it reads
// data. A clean unroll::Error is the expected outcome for bad input; anything else (another
// exception, a crash, a sanitizer report, a hang) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "unroll/error.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/plugin_host.hpp"

namespace {
unroll::PluginHost* g_host = nullptr;
std::string g_file;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_host = new unroll::PluginHost;
  g_host->load_default({});
  char dir[] = "/tmp/unroll-fuzz-loader-XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  g_file = std::string(dir) + "/exp.yaml";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::ofstream(g_file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    unroll::load_experiment(g_file, {}, *g_host);
  } catch (const unroll::Error&) {
  }
  return 0;
}
