// unroll eval RUN_DIR: the metrics of a finished run's checkpoint on its test split or on other data.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "finished_run_args.hpp"
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
  opts.add_options()("help,h", "show this help")(
      "data", po::value<std::string>(),
      "other data: a YAML block '{kind: npy, x: X.npy, y: y.npy}', a .yaml file with one, or a .csv/.npz file read "
      "like the run's own (default: the run's test split)")("set", po::value<std::vector<std::string>>()->composing(),
                                                            "override a value of the run's config (repeatable)")(
      "out,o", po::value<std::string>(), "metrics file (default: RUN_DIR/eval/CHECKPOINT-DATA.json)");
  add_finished_run_options(opts);
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("run")) throw UsageError("missing the run folder: unroll eval RUN_DIR");
  const std::string dir = vm["run"].as<std::string>();
  const std::string which = chosen_checkpoint(vm, dir);
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  PluginHost host;
  FinishedRun run = open_run_from_args(vm, which, sets, host);

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
