// `unroll new-plugin KIND NAME [DIR]`: a buildable plugin project from the templates.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>

#include "commands.hpp"
#include "templates/plugin_sources.hpp"
#include "templates/project_files.hpp"
#include "templates/recurrent_sources.hpp"
#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace unroll::cli {

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

// What the example experiment puts in each slot, per kind: the new component in its place,
// the rest a small XOR classification that runs in a second.
std::string experiment(const std::string& kind, const std::string& name, bool recurrent) {
  std::map<std::string, std::string> slot{{"@DATA@", "{kind: xor, targets: labels, repeat: 16, noise: 0.1}"},
                                          {"@INIT@", ""},
                                          {"@LAYER@", ""},
                                          {"@LOSS@", "{kind: cross_entropy}"},
                                          {"@OPTIMIZER@", "{kind: sgd, lr: 0.5}"},
                                          {"@EXTRA@", ""}};
  if (kind == "layer") slot["@LAYER@"] = "  - {kind: " + name + (recurrent ? ", units: 8" : "") + "}\n";
  if (kind == "loss") slot["@LOSS@"] = "{kind: " + name + "}";
  if (kind == "initializer") slot["@INIT@"] = ", init: {kind: " + name + ", std: 0.5}";
  if (kind == "optimizer") slot["@OPTIMIZER@"] = "{kind: " + name + ", lr: 0.5}";
  if (kind == "schedule") slot["@EXTRA@"] = "schedule: {kind: " + name + ", decay: 0.05}\n";
  if (kind == "regularizer") slot["@EXTRA@"] = "regularizers:\n  - {kind: " + name + ", lambda: 0.001}\n";
  if (kind == "dataset") slot["@DATA@"] = "{kind: " + name + ", samples: 200}";
  std::string s = templates::kExperiment;
  for (const auto& [k, v] : slot) s = replace_all(s, k, v);
  return s;
}

}  // namespace

int cmd_new_plugin(const std::vector<std::string>& args) {
  po::options_description opts(
      "unroll new-plugin KIND NAME [DIR]\n"
      "Writes a buildable plugin project into DIR (default ./NAME): NAME.cpp (a working trivial\n"
      "component with the interface to fill in), CMakeLists.txt (with ctest entries running\n"
      "`unroll check-plugin` and the experiment) and experiment.yaml.\n"
      "KIND: layer, loss, initializer, optimizer, schedule, regularizer or dataset");
  opts.add_options()("help,h", "show this help")("force,f", "overwrite existing files")(
      "recurrent", "layer only: a recurrent cell, written by hand (NAME) and as equations (NAME_eq)")(
      "pos", po::value<std::vector<std::string>>(), "KIND NAME [DIR]");
  po::positional_options_description pos;
  pos.add("pos", 3);
  po::variables_map vm;
  if (!parse_args(args, opts, &pos, vm)) return 0;
  const auto p = vm.count("pos") ? vm["pos"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (p.size() < 2) throw UsageError("expected KIND NAME [DIR], e.g. `unroll new-plugin layer my_cell`");
  const std::string& kind = p[0];
  const std::string& name = p[1];
  const std::map<std::string, const char*> sources{{"layer", templates::kLayer},
                                                   {"loss", templates::kLoss},
                                                   {"initializer", templates::kInitializer},
                                                   {"optimizer", templates::kOptimizer},
                                                   {"schedule", templates::kSchedule},
                                                   {"regularizer", templates::kRegularizer},
                                                   {"dataset", templates::kDataset}};
  if (!sources.count(kind))
    throw UsageError("unknown KIND '" + kind +
                     "'; one of: layer, loss, initializer, optimizer, schedule, regularizer, dataset");
  // The name is the YAML kind, the CMake target and part of a C++ class name.
  if (!std::regex_match(name, std::regex("[a-z][a-z0-9_]*")))
    throw UsageError("NAME '" + name + "' must be lower_snake_case: a letter, then letters, digits or '_'");
  const fs::path dir = p.size() > 2 ? fs::path(p[2]) : fs::path(name);
  const bool recurrent = vm.count("recurrent") > 0;
  if (recurrent && kind != "layer") throw UsageError("--recurrent goes with KIND layer");

  const std::vector<std::pair<std::string, std::string>> files{
      {name + ".cpp", recurrent ? templates::kRecurrentLayer : sources.at(kind)},
      {"CMakeLists.txt", templates::kCMakeLists},
      {"experiment.yaml", experiment(kind, name, recurrent)}};
  if (!vm.count("force"))
    for (const auto& [file, text] : files)
      if (fs::exists(dir / file)) throw Error((dir / file).string() + " exists already (use --force to overwrite)");
  fs::create_directories(dir);
  for (const auto& [file, text] : files) {
    std::string s = replace_all(text, "@NAME@", name);
    s = replace_all(s, "@CLASS@", camel(name));
    s = replace_all(s, "@KIND@", kind);
    write_file_atomic((dir / file).string(), s);
  }
  std::printf(
      "wrote the %s plugin %s in %s: %s.cpp, CMakeLists.txt, experiment.yaml\n"
      "next:\n"
      "  cd %s\n"
      "  cmake -S . -B build -DCMAKE_PREFIX_PATH=<unroll install prefix> && cmake --build build\n"
      "  unroll check-plugin build/lib%s.so\n"
      "  unroll run experiment.yaml\n",
      kind.c_str(), name.c_str(), dir.c_str(), name.c_str(), dir.c_str(), name.c_str());
  return 0;
}

}  // namespace unroll::cli
