#include "unroll/host/check.hpp"

#include "run_components.hpp"
#include "train_settings.hpp"
#include "unroll/error.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/memory_estimate.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_data.hpp"

namespace unroll {

namespace {
// Every initializer block of every parameter — a layer's `init`, and the per-block ones such as a
// cell's `params: {b: {blocks: {f: ...}}}`, which the layer's schema sees only as a mapping — is
// checked here, so a typo in one is an error at its file:line:column before the run starts, not
// when the model is initialized. The blocks the experiment's validation saw are not validated
// again (validate_initializers); each is built once, so an initializer that refuses its options
// when made (a pretrained file that is missing) is reported here too. Nothing is filled (that is
// the run's work, on this same model).
void check_initializers(Model& model, const PluginHost& host, uint64_t seed, const std::string& base_dir,
                        Diagnostics& diag) {
  for (Param* p : model.params()) {
    const std::size_t errors = diag.count();
    validate_initializers(*p, host, diag);
    if (diag.count() != errors) continue;  // a block with an error is not built
    auto check = [&](const std::string& name, const Node& block) {
      if (block.is_null()) return;
      HostBuildContext ctx(host, name, 0, seed, base_dir);
      diag.attempt([&] { host.build<Initializer>(Kind::Initializer, block, ctx); });
    };
    check(p->name, p->init);
    for (const InitBlock& b : p->blocks) check(p->name + "[" + b.block + "]", b.init);
  }
}
}  // namespace

Preflight preflight_experiment(const Experiment& exp, PluginHost& host, const std::string& resume_dir,
                               std::shared_ptr<Dataset> data) {
  const Node& cfg = exp.config;
  const uint64_t seed = static_cast<uint64_t>(cfg.at("seed").as_int().value_or(1));
  HostBuildContext dctx(host, "data", 0, seed, exp.base_dir);
  Preflight pf;
  pf.data = data ? std::move(data) : build_run_dataset(cfg.at("data"), host, dctx, resume_dir);
  const DatasetInfo info = pf.data->info();
  // From here every problem is collected, as validation does, and all are reported at once
  // (each at its file:line:column): a model that does not fit and a wrong output size are two
  // errors to fix, not one after the other.
  Diagnostics diag;
  diag.attempt(
      [&] { loss_every_step(read_train_settings(cfg.at("train")).loss_at, info, cfg.at("data").at("kind").text()); });
  const MemoryEstimate mem = estimate_memory(cfg, info, host);
  // Only a model that fits is built (layers check their own options and sizes as they are made);
  // then its initializer blocks, the regularizers' parameter patterns, and its output against
  // the dataset.
  if (diag.attempt([&] { check_memory(mem, available_memory(), cfg); }) && diag.attempt([&] {
        pf.model =
            std::make_shared<Model>(cfg.at("model"), info.input_size, host, seed, exp.base_dir, info.input_vocab);
      })) {
    check_initializers(*pf.model, host, seed, exp.base_dir, diag);
    for (const Node& block : cfg.at("regularizers").items())
      diag.attempt([&] { check_param_selection(block, pf.model->params()); });
    const int out = pf.model->output_size();
    if (out != info.output_size)
      diag.add(cfg.at("model").loc().str() + ": the model outputs " + std::to_string(out) + " features, but dataset '" +
               cfg.at("data").at("kind").text() + "' has " + std::to_string(info.output_size) +
               (info.labels ? " classes" : " target features") + " (set the last layer's units to " +
               std::to_string(info.output_size) + ")");
  }
  diag.throw_if_any();
  pf.report = exp.file + ": valid\n  data: " + cfg.at("data").at("kind").text() + ", " +
              std::to_string(pf.data->size(Split::Train)) + " training samples, " + std::to_string(info.steps) +
              " step(s) of " + std::to_string(info.input_size) + " features, " + std::to_string(info.output_size) +
              " outputs\n  memory estimate:\n" + mem.text();
  return pf;
}

std::string check_experiment(const Experiment& exp, PluginHost& host) { return preflight_experiment(exp, host).report; }

}  // namespace unroll
