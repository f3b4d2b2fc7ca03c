#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "unroll/host/plugin_check.hpp"

namespace po = boost::program_options;

namespace unroll::cli {

int cmd_check_plugin(const std::vector<std::string>& args) {
  po::options_description opts(
      "unroll check-plugin LIB [LIB ...]\n"
      "Loads each plugin library and checks every component it registers (schema, finite-difference\n"
      "gradients, optimizer descent, initializer statistics, schedule factors, dataset shapes).\n"
      "Exit code 0 when everything passed (skips allowed), 1 on any failure");
  opts.add_options()("help,h", "show this help")("plugin-dir", po::value<std::vector<std::string>>()->composing(),
                                                 "extra plugin folder for components the library uses (repeatable)")(
      "lib", po::value<std::vector<std::string>>(), "plugin library (.so)");
  po::positional_options_description pos;
  pos.add("lib", -1);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  if (!vm.count("lib")) throw UsageError("missing the plugin library: unroll check-plugin LIB");
  const auto dirs =
      vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>() : std::vector<std::string>{};
  bool ok = true;
  for (const auto& r : check_plugins(vm["lib"].as<std::vector<std::string>>(), dirs)) {
    std::fputs(format_report(r).c_str(), stdout);
    std::fflush(stdout);
    ok = ok && r.ok();
  }
  return ok ? 0 : 1;
}

}  // namespace unroll::cli
