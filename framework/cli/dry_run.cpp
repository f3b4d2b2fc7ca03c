// unroll run FILE --dry-run: validate everything a run needs, build its data and model, print
// the model summary and stop without training or writing anything.
#include <cstdio>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/model_summary.hpp"
#include "unroll/host/plugin_host.hpp"

namespace unroll::cli {

int dry_run(const Experiment& exp, PluginHost& host) {
  const Node& cfg = exp.config;
  const uint64_t seed = static_cast<uint64_t>(cfg.at("seed").as_int().value_or(1));
  HostBuildContext dctx(host, "data", 0, seed, exp.base_dir);
  const auto data = host.build<Dataset>(Kind::Dataset, cfg.at("data"), dctx);
  const DatasetInfo info = data->info();
  Model model(cfg.at("model"), info.input_size, host, seed, exp.base_dir);
  if (model.output_size() != info.output_size)
    throw Error(cfg.at("model").loc().str() + ": the model outputs " + std::to_string(model.output_size()) +
                " features, but the data has " + std::to_string(info.output_size) +
                (info.labels ? " classes" : " target features"));
  model.initialize(host, seed, exp.base_dir);
  for (const char* section : {"loss", "optimizer", "schedule"}) {
    HostBuildContext ctx(host, section, 0, seed, exp.base_dir);
    if (std::string(section) == "loss") host.build<Loss>(Kind::Loss, cfg.at(section), ctx);
    if (std::string(section) == "optimizer") host.build<Optimizer>(Kind::Optimizer, cfg.at(section), ctx);
    if (std::string(section) == "schedule") host.build<Schedule>(Kind::Schedule, cfg.at(section), ctx);
  }
  const int batch = static_cast<int>(*cfg.at("train").at("batch").as_int());
  std::printf("%s: %zu training samples, %d step(s) of %d features, %d %s\n", exp.file.c_str(),
              data->size(Split::Train), info.steps, info.input_size, info.output_size,
              info.labels ? "classes" : "target features");
  std::printf("%s", model_summary(model, cfg.at("model"), info.steps, batch, cfg.at("optimizer").at("kind").text()).c_str());
  std::printf("dry run: the experiment is valid; nothing was trained or written\n");
  return 0;
}

}  // namespace unroll::cli
