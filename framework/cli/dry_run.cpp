// unroll run FILE --dry-run: the pre-flight check of every run (check.hpp: validation, the data,
// the memory estimate, the model against the data) — what `--check` prints — then the model
// initialized and the loss, optimizer and schedule built, and the model summary printed. Nothing
// is trained or written.
#include <cstdio>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/check.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/model_summary.hpp"
#include "unroll/host/plugin_host.hpp"

namespace unroll::cli {

int dry_run(const Experiment& exp, PluginHost& host) {
  const Preflight pf = preflight_experiment(exp, host);
  const Node& cfg = exp.config;
  const uint64_t seed = static_cast<uint64_t>(cfg.at("seed").as_int().value_or(1));
  const DatasetInfo info = pf.data->info();
  Model& model = *pf.model;                    // the model the check built and checked
  model.initialize(host, seed, exp.base_dir);  // initializer blocks (a pretrained file, per-gate blocks) run
  for (const char* section : {"loss", "optimizer", "schedule"}) {
    HostBuildContext ctx(host, section, 0, seed, exp.base_dir);
    if (std::string(section) == "loss") host.build<Loss>(Kind::Loss, cfg.at(section), ctx);
    if (std::string(section) == "optimizer") host.build<Optimizer>(Kind::Optimizer, cfg.at(section), ctx);
    if (std::string(section) == "schedule") host.build<Schedule>(Kind::Schedule, cfg.at(section), ctx);
  }
  const int batch = static_cast<int>(*cfg.at("train").at("batch").as_int());
  std::printf("%s", pf.report.c_str());
  std::printf("%s",
              model_summary(model, cfg.at("model"), info.steps, batch, cfg.at("optimizer").at("kind").text()).c_str());
  std::printf("dry run: the experiment is valid; nothing was trained or written\n");
  return 0;
}

}  // namespace unroll::cli
