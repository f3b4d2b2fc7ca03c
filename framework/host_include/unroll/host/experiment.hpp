#pragma once
// An experiment: one YAML file, resolved. Loading applies --set overrides, loads the plugins the
// file lists, and validates EVERY block against its schema before any data is read or anything
// is built, so a typo on line 40 fails in milliseconds, not after the dataset loaded.
#include <string>
#include <vector>

#include "unroll/config_node.hpp"

namespace unroll {

class PluginHost;

struct Experiment {
  std::string file;      // the experiment file as given
  std::string base_dir;  // its folder: relative paths in the file resolve against it
  Node config;           // resolved: every default filled in (what config.yaml holds)
};

/// Read FILE, apply `sets` ("path=value") in order, load its `plugins:` list into host, and
/// validate everything. Throws Error with file:line:column on any problem.
Experiment load_experiment(const std::string& file, const std::vector<std::string>& sets, PluginHost& host);

/// Throws Error at NAME's location unless it is a plain file-name component (non-empty, no slash
/// or backslash, not "." or "..", no control characters, at most 200 characters): `name` becomes the
/// run folder runs/NAME-TIMESTAMP, and `name: ../../x` must not put it outside runs/.
void check_run_name(const Node& name);

class Schema;
/// The host's own schema of the `train:` block (for --describe and the docs).
const Schema& train_schema();

/// Validate an already parsed experiment tree (defaults filled in). `base_dir` resolves the
/// `plugins:` entries. Every section is checked: all errors found (up to 20) are thrown together
/// as one ConfigErrors (diagnostics.hpp), each with its file:line:column.
Node resolve_experiment(const Node& root, PluginHost& host, const std::string& base_dir);

}  // namespace unroll
