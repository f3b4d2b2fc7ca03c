// unroll: the command-line host. Each subcommand lives in its own file (cmd_*.cpp).
#include <cstdio>
#include <iostream>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "unroll/communicator.hpp"
#include "unroll/error.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/huge_pages.hpp"

namespace {

const char* kUsage =
    "unroll: train MLPs and RNNs by back-propagation (through time) from YAML experiments.\n"
    "\n"
    "usage: unroll COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  run FILE [--set PATH=VALUE ...] [--out DIR] [--threads N]   train one experiment\n"
    "  run --resume RUN_DIR                                       continue a run from its checkpoint\n"
    "  plugins [--describe NAME]                                  list components, or one's options\n"
    "  new-plugin KIND NAME [DIR]                                 write a buildable plugin skeleton\n"
    "  check-plugin LIB [LIB ...]                                 check every component of a plugin library\n"
    "  sweep FILE [-j N] [--threads-per-run T] [--out DIR]        run an ablation: variants x seeds in parallel\n"
    "  sweep FILE --slurm [--time T ...]                          submit it as a Slurm job array\n"
    "  sweep FILE|SWEEP_DIR --status                              done / running / pending / failed runs\n"
    "  report SWEEP_DIR                                           tables (report.md/.csv) and plots of a sweep\n"
    "  eval RUN_DIR [--checkpoint best|last] [--data D] [--set ...]  metrics of a run's checkpoint on test or other "
    "data\n"
    "  predict RUN_DIR --input FILE --out FILE                    model outputs for new inputs (.npy, .npz, .csv)\n"
    "  plot RUN_DIR [RUN_DIR ...] [--out DIR]                     learning curves overlaid, grad_lags heatmaps\n"
    "\n"
    "common options: --plugin-dir DIR (repeatable; also UNROLL_PLUGIN_PATH), --help\n"
    "Run `unroll COMMAND --help` for a command's options.\n";

// In a data-parallel run, which rank failed.
std::string rank_prefix() {
  const unroll::Communicator& c = unroll::communicator();
  return c.size() > 1 ? " (rank " + std::to_string(c.rank()) + " of " + std::to_string(c.size()) + ")" : "";
}

// A failing rank of a data-parallel run ends the whole job: the other ranks may be waiting for
// it in a collective and would never return.
int fail(int code) {
  std::fflush(stderr);
  if (unroll::communicator().size() > 1) unroll::communicator().abort(code);
  return code;
}

}  // namespace

namespace unroll::cli {
bool parse_args(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
                const boost::program_options::positional_options_description* positional,
                boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    auto parser = po::command_line_parser(args).options(opts);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (!vm.count("help")) return true;
  std::cout << opts << "\n";
  return false;
}
}  // namespace unroll::cli

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  // Training walks a few large arrays every update: put them on 2 MiB pages (huge_pages.hpp).
  if (cmd == "run") unroll::restart_with_huge_pages(argv);
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "run") return unroll::cli::cmd_run(args);
    if (cmd == "plugins") return unroll::cli::cmd_plugins(args);
    if (cmd == "new-plugin") return unroll::cli::cmd_new_plugin(args);
    if (cmd == "check-plugin") return unroll::cli::cmd_check_plugin(args);
    if (cmd == "sweep") return unroll::cli::cmd_sweep(args);
    if (cmd == "sweep-task") return unroll::cli::cmd_sweep_task(args);
    if (cmd == "report") return unroll::cli::cmd_report(args);
    if (cmd == "eval") return unroll::cli::cmd_eval(args);
    if (cmd == "predict") return unroll::cli::cmd_predict(args);
    if (cmd == "plot") return unroll::cli::cmd_plot(args);
    std::fprintf(stderr, "unroll: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const unroll::cli::UsageError& e) {
    std::fprintf(stderr, "unroll %s: %s\n", cmd.c_str(), e.what());
    return fail(2);
  } catch (const unroll::ConfigErrors& e) {  // every validation error of a file: one line each
    for (const auto& m : e.messages()) std::fprintf(stderr, "error%s: %s\n", rank_prefix().c_str(), m.c_str());
    if (e.more()) std::fprintf(stderr, "error%s: ... and %zu more\n", rank_prefix().c_str(), e.more());
    return fail(1);
  } catch (const unroll::Error& e) {
    std::fprintf(stderr, "error%s: %s\n", rank_prefix().c_str(), e.what());
    return fail(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error%s: %s\n", rank_prefix().c_str(), e.what());
    return fail(3);
  }
}
