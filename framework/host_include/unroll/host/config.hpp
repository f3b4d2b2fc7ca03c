#pragma once
// Reading experiments: YAML text -> Node tree (with file:line:column on every node), schema
// validation with "did you mean", defaults, --set overrides.
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/names.hpp"  // nearest(), for did-you-mean hints
#include "unroll/registry.hpp"
#include "unroll/schema.hpp"

namespace unroll {

class PluginHost;

// parse_yaml and load_yaml_file (YAML text -> Node) are in <unroll/config_node.hpp>.

/// YAML text of a node (block style), for config.yaml.
std::string to_yaml(const Node& node);

/// Validate a component block ({kind: NAME, ...}) of the given kind against its plugin's
/// schema: unknown kind (lists known ones), unknown keys (did you mean), types, ranges, choices,
/// nested component blocks recursively. `extra` declares host-level keys allowed in this block
/// besides the schema's (e.g. a layer's `name`). Returns the block with every default filled in.
Node validate_component(const Node& block, Kind kind, const PluginHost& host, const Schema* extra = nullptr);

/// Validate a plain block against a schema (no `kind` key): the same checks, defaults filled.
Node validate_block(const Node& block, const Schema& schema, const PluginHost* host = nullptr);

/// Apply `path=value` (e.g. "optimizer.lr=0.1", "model[2].rate=0.3", "model[2]=null"): the value
/// is parsed as YAML; the location of the new node is the --set text.
void apply_set(Node& root, const std::string& assignment);

}  // namespace unroll
