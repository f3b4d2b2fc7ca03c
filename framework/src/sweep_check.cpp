// The pre-flight check of every variant of a sweep (sweep.hpp: preflight_sweep).
#include <filesystem>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "unroll/dataset.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/sweep.hpp"

namespace unroll {

void preflight_sweep(const SweepSpec& spec, PluginHost& host) {
  // A few datasets are kept, keyed by their data block and seed: a grid usually varies the model
  // or the training over one dataset, and a dataset read from files is read once. A bound, not a
  // cache of every one: variants over many large datasets must not hold them all.
  constexpr size_t kKeep = 4;
  std::list<std::pair<std::string, std::shared_ptr<Dataset>>> datasets;
  const std::string base_dir = std::filesystem::absolute(spec.file).parent_path().string();
  Diagnostics diag;
  for (const Variant& v : spec.variants) {
    const std::string key = to_yaml(v.config.at("data")) + "\nseed: " + v.config.at("seed").text();
    std::shared_ptr<Dataset> data;
    for (const auto& [k, d] : datasets)
      if (k == key) data = d;
    try {
      const Preflight pf = preflight_experiment(Experiment{spec.file, base_dir, v.config}, host, "", data);
      if (!data) {
        datasets.emplace_front(key, pf.data);
        if (datasets.size() > kKeep) datasets.pop_back();
      }
    } catch (const ConfigErrors& e) {
      for (const auto& m : e.messages()) diag.add("variant '" + v.name + "': " + m);
      if (e.more()) diag.add("variant '" + v.name + "': " + std::to_string(e.more()) + " more error(s)");
    } catch (const Error& e) {
      diag.add("variant '" + v.name + "': " + e.what());
    }
  }
  diag.throw_if_any();
}

}  // namespace unroll
