#include "unroll/host/check.hpp"

#include "unroll/error.hpp"
#include "unroll/host/memory_estimate.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"

namespace unroll {

std::string check_experiment(const Experiment& exp, PluginHost& host) {
  const Node& cfg = exp.config;
  const uint64_t seed = static_cast<uint64_t>(cfg.at("seed").as_int().value_or(1));
  HostBuildContext dctx(host, "data", 0, seed, exp.base_dir);
  const auto data = host.build<Dataset>(Kind::Dataset, cfg.at("data"), dctx);
  const DatasetInfo info = data->info();
  const MemoryEstimate mem = estimate_memory(cfg, info, host);
  check_memory(mem, available_memory(), cfg);
  // It fits, so build it (layers check their own options and sizes as they are made) and make
  // the trainer's check of its output against the dataset.
  const Model model(cfg.at("model"), info.input_size, host, seed, exp.base_dir);
  const int out = model.output_size();
  if (out != info.output_size)
    throw Error(cfg.at("model").loc().str() + ": the model outputs " + std::to_string(out) + " features, but dataset '" +
                cfg.at("data").at("kind").text() + "' has " + std::to_string(info.output_size) +
                (info.labels ? " classes" : " target features") + " (set the last layer's units to " +
                std::to_string(info.output_size) + ")");
  return exp.file + ": valid\n  data: " + cfg.at("data").at("kind").text() + ", " +
         std::to_string(data->size(Split::Train)) + " training samples, " + std::to_string(info.steps) +
         " step(s) of " + std::to_string(info.input_size) + " features, " + std::to_string(info.output_size) +
         " outputs\n  memory estimate:\n" + mem.text();
}

}  // namespace unroll
