#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "unroll/error.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/host/experiment_schema.hpp"
#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/reference_docs.hpp"

namespace po = boost::program_options;

namespace unroll::cli {

namespace {

std::string default_text(const OptionSpec& o) {
  if (o.required) return "(required)";
  if (o.default_yaml.empty()) return o.type == OptType::String ? "\"\"" : "(unset)";
  return o.default_yaml;
}

void describe(const Schema& s, const std::string& kind, const std::string& library) {
  std::printf("%s %s: %s\n", kind.c_str(), s.name().c_str(), s.summary().c_str());
  if (!library.empty()) std::printf("  from %s\n", library.c_str());
  if (s.options().empty()) {
    std::printf("  (no options)\n");
    return;
  }
  std::printf("  options:\n");
  for (const auto& o : s.options()) {
    std::string type = to_string(o.type);
    if (o.type == OptType::Choice) {
      type = "one of ";
      for (size_t i = 0; i < o.choices.size(); ++i) type += (i ? "|" : "") + o.choices[i];
    } else if (o.type == OptType::Component) {
      type = o.component_kind;
    }
    std::printf("    %-18s %-22s default %-22s %s\n", o.name.c_str(), type.c_str(), default_text(o).c_str(),
                o.range_text().empty() ? "" : ("range " + o.range_text()).c_str());
    std::printf("    %-18s %s\n", "", o.doc.c_str());
    if (o.type == OptType::Block && o.block_schema)
      for (const auto& sub : o.block_schema->options())
        std::printf("      %s.%-14s %-20s default %-12s %s\n", o.name.c_str(), sub.name.c_str(),
                    to_string(sub.type).c_str(), default_text(sub).c_str(), sub.doc.c_str());
  }
}

// The sections of an experiment file, then the host's options of the data and layer blocks.
void describe_experiment() {
  std::printf("experiment: an experiment file (YAML); every section and its default:\n");
  for (const auto& sec : experiment_sections()) {
    std::printf("  %-13s %-30s default %s\n", sec.key.c_str(), sec.takes.c_str(),
                sec.default_yaml.empty() ? "(none)" : sec.default_yaml.c_str());
    std::printf("  %-13s %s\n", "", sec.doc.c_str());
  }
  std::printf("\n");
  describe(data_host_schema(), "host options of", "");
  std::printf("\n");
  describe(layer_host_schema(), "host options of", "");
  std::printf("\n`unroll plugins --describe train` prints the train block, --describe KIND a component's options.\n");
}

}  // namespace

int cmd_plugins(const std::vector<std::string>& args) {
  po::options_description opts("unroll plugins [--describe NAME]");
  opts.add_options()("help,h", "show this help")(
      "describe,d", po::value<std::string>(),
      "print one component's options ('train': the train block, 'experiment': the file's sections)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(), "extra plugin folder (repeatable)")(
      "markdown", po::value<std::string>()->implicit_value("docs/reference"),
      "write the reference pages (one per component kind, from the schemas) into DIR (default docs/reference); "
      "only built-in plugins and --plugin-dir, not UNROLL_PLUGIN_PATH");
  po::variables_map vm;
  if (!parse_args(args, opts, nullptr, vm)) return 0;
  if (vm.count("markdown")) {
    PluginHost h;
    h.load_directory(PluginHost::builtin_dir());
    if (vm.count("plugin-dir"))
      for (const auto& d : vm["plugin-dir"].as<std::vector<std::string>>()) h.load_directory(d);
    const std::string dir = vm["markdown"].as<std::string>();
    std::filesystem::create_directories(dir);
    for (const auto& [file, text] : reference_pages(h.registry())) {
      write_file_atomic(dir + "/" + file, text);
      std::printf("wrote %s/%s\n", dir.c_str(), file.c_str());
    }
    return 0;
  }
  PluginHost host;
  host.load_default(vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{});
  if (vm.count("describe")) {
    const std::string name = vm["describe"].as<std::string>();
    if (name == "train") {
      describe(train_schema(), "block", "");
      return 0;
    }
    if (name == "experiment") {
      describe_experiment();
      return 0;
    }
    bool found = false;
    std::vector<std::string> all;
    for (const auto* e : host.registry().entries()) {
      all.push_back(e->schema.name());
      if (e->schema.name() != name) continue;
      if (found) std::printf("\n");
      describe(e->schema, kind_name(e->kind), e->library);
      found = true;
    }
    if (!found) {
      std::string hint = nearest(name, all);
      throw Error("no component named '" + name + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                  "; `unroll plugins` lists them all");
    }
    return 0;
  }
  for (Kind k : all_kinds()) {
    auto names = host.registry().names(k);
    std::printf("%s (%zu):\n", kind_plural(k).c_str(), names.size());
    for (const auto& n : names) {
      const auto* e = host.registry().find(k, n);
      std::printf("  %-16s %-60s [%s]\n", n.c_str(), e->schema.summary().substr(0, 60).c_str(),
                  std::filesystem::path(e->library).filename().c_str());
    }
  }
  std::printf("\nsearch path:");
  for (const auto& d : PluginHost::search_path()) std::printf(" %s", d.c_str());
  std::printf("\n`unroll plugins --describe NAME` prints a component's options.\n");
  return 0;
}

}  // namespace unroll::cli
