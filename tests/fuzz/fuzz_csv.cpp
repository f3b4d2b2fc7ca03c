// Fuzzes the `csv` dataset: libcsv's parse into a table (csv_table.hpp), the column selection
// (names, 1-based numbers, ranges), word and numeric targets and the number conversion. The
// first line of the input is the `features` option, the rest is the CSV file; the dataset is
// built through the plugin host as an experiment's `data:` block is, three ways (target `y`;
// target `y` with a seeded test_fraction; inputs only, as `unroll predict` reads, the target
// column ignored or absent), and every sample of every split is read back. A clean
// unroll::Error is the expected outcome for bad input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "unroll/dataset.hpp"
#include "unroll/error.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/plugin_host.hpp"

namespace {

unroll::PluginHost* g_host = nullptr;
std::string g_dir;

void build_and_read(const std::string& options) {
  const unroll::Node block = unroll::validate_component(
      unroll::parse_yaml("{kind: csv, path: data.csv, " + options + "}", "fuzz.yaml"), unroll::Kind::Dataset, *g_host);
  unroll::HostBuildContext ctx(*g_host, "data", 0, 1, g_dir);
  auto d = g_host->build<unroll::Dataset>(unroll::Kind::Dataset, block, ctx);
  unroll::Seq x;
  unroll::Targets y;
  for (auto split : {unroll::Split::Train, unroll::Split::Test}) {
    std::vector<std::size_t> all(d->size(split));
    std::iota(all.begin(), all.end(), std::size_t{0});
    if (!all.empty()) d->batch(split, all, x, y);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_host = new unroll::PluginHost;
  g_host->load_default({});
  char dir[] = "/tmp/unroll-fuzz-csv-XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  g_dir = dir;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = in.find('\n');
  const std::string features = eol == std::string::npos ? in : in.substr(0, eol);
  std::ofstream(g_dir + "/data.csv", std::ios::binary | std::ios::trunc)
      << (eol == std::string::npos ? std::string() : in.substr(eol + 1));
  // A JSON string is a YAML double-quoted scalar: the features text reaches the plugin as written
  // (bytes that are not UTF-8 are replaced, as a YAML file could not hold them either).
  const std::string quoted = nlohmann::json(features).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const std::string& options :
       {"target: y, features: " + quoted, "target: y, features: " + quoted + ", test_fraction: 0.25",
        "target: y, inputs_only: true, features: " + quoted}) {
    try {
      build_and_read(options);
    } catch (const unroll::Error&) {
    }
  }
  return 0;
}
