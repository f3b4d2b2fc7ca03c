// unroll eval RUN_DIR: the metrics of a finished run's checkpoint on its test split or on other data.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/host/finished_run.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/trainer.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

int cmd_eval(const std::vector<std::string>& args) {
  po::options_description opts("unroll eval RUN_DIR [options]");
  opts.add_options()("help,h", "show this help")("checkpoint", po::value<std::string>(),
                                                 "best or last (default: best when the run has best/, else last)")(
      "data", po::value<std::string>(),
      "other data: a YAML block '{kind: npy, x: X.npy, y: y.npy}', a .yaml file with one, or a .csv/.npz file read "
      "like the run's own (default: the run's test split)")("set", po::value<std::vector<std::string>>()->composing(),
                                                            "override a value of the run's config (repeatable)")(
      "out,o", po::value<std::string>(), "metrics file (default: RUN_DIR/eval/CHECKPOINT-DATA.json)")(
      "threads,t", po::value<int>()->default_value(1), "threads for matrix products")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "run", po::value<std::string>(), "run folder");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("run")) throw UsageError("missing the run folder: unroll eval RUN_DIR");
  const std::string dir = vm["run"].as<std::string>();
  PluginHost host;
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  configure_threads(vm["threads"].as<int>());
  const std::string which = vm.count("checkpoint")                    ? vm["checkpoint"].as<std::string>()
                            : fs::exists(dir + "/best/manifest.json") ? "best"
                                                                      : "last";
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  FinishedRun run = open_finished_run(dir, which, sets, host);

  std::shared_ptr<Dataset> data;
  Split split = Split::Test;
  std::string data_name = "test";
  if (vm.count("data")) {
    const std::string arg = vm["data"].as<std::string>();
    data = run_dataset(run, eval_data_block(run, arg, host), host);
    // Other data: its test split when it has one, else every sample it holds.
    split = data->info().has_test ? Split::Test : Split::Train;
    data_name = arg.front() == '{' ? "data" : fs::path(arg).stem().string();
  } else {
    data = run_dataset(run, run.exp.config.at("data"), host);
    if (!data->info().has_test) throw Error(dir + ": the run's data has no test split; give other data with --data");
  }
  load_model(run, data->info().input_size, host, data->info().input_vocab);
  const int batch = static_cast<int>(*run.exp.config.at("train").at("eval_batch").as_int());
  const auto metrics = evaluate_run(run, *data, split, batch);

  nlohmann::json j;
  j["run"] = dir;
  j["checkpoint"] = which;
  j["epoch"] = run.epoch;
  j["data"] = vm.count("data") ? vm["data"].as<std::string>() : "test split";
  j["split"] = split == Split::Test ? "test" : "all";
  for (const auto& [k, v] : metrics) j["metrics"][k] = v;
  const std::string out =
      vm.count("out") ? vm["out"].as<std::string>() : dir + "/eval/" + which + "-" + data_name + ".json";
  if (!fs::path(out).parent_path().empty()) fs::create_directories(fs::path(out).parent_path());
  write_file_atomic(out, j.dump(2) + "\n");
  std::printf("%s (%s checkpoint, epoch %d) on %s:\n", dir.c_str(), which.c_str(), run.epoch,
              j["data"].get<std::string>().c_str());
  for (const auto& [k, v] : metrics) std::printf("  %-10s %.6g\n", k.c_str(), v);
  std::printf("written to %s\n", out.c_str());
  return 0;
}

}  // namespace unroll::cli
