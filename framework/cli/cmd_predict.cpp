// unroll predict RUN_DIR --input FILE --out FILE: a finished run's model outputs for new inputs.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "finished_run_args.hpp"
#include "unroll/error.hpp"
#include "unroll/host/finished_run.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/trainer.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

int cmd_predict(const std::vector<std::string>& args) {
  po::options_description opts("unroll predict RUN_DIR --input FILE --out FILE [options]");
  opts.add_options()("help,h", "show this help")("input,i", po::value<std::string>(),
                                                 "inputs: FILE.npy ([N, F] or [N, T, F]), FILE.npz or FILE.csv")(
      "out,o", po::value<std::string>(), "FILE.npy (+ FILE.labels.npy for classifiers) or FILE.csv");
  add_finished_run_options(opts);
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("run") || !vm.count("input") || !vm.count("out"))
    throw UsageError("usage: unroll predict RUN_DIR --input FILE --out FILE");
  const std::string dir = vm["run"].as<std::string>(), out = vm["out"].as<std::string>();
  const std::string ext = fs::path(out).extension().string();
  if (ext != ".npy" && ext != ".csv") throw UsageError("--out must end in .npy or .csv, got " + out);
  PluginHost host;
  FinishedRun run = open_run_from_args(vm, chosen_checkpoint(vm, dir), {}, host);
  auto data = run_dataset(run, predict_data_block(run, vm["input"].as<std::string>(), host), host);
  load_model(run, data->info().input_size, host, data->info().input_vocab);
  const Predictions p =
      predict_run(run, *data, static_cast<int>(*run.exp.config.at("train").at("eval_batch").as_int()));
  write_predictions(out, p, run.class_names);
  std::printf("%zu samples -> %s (%s%s)\n", p.samples, out.c_str(),
              p.probabilities ? "class probabilities and labels" : "outputs", p.steps > 1 ? ", every step" : "");
  return 0;
}

}  // namespace unroll::cli
