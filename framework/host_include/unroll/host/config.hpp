#pragma once
// Validating experiments: schema validation with "did you mean" and defaults, every error of a
// file at once. (YAML text -> Node is <unroll/config_node.hpp>; --set overrides and `extends:`
// are composition: compose.hpp.)
#include <cstddef>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"
#include "unroll/names.hpp"  // nearest(), for did-you-mean hints
#include "unroll/registry.hpp"
#include "unroll/schema.hpp"

namespace unroll {

class PluginHost;
class Diagnostics;

// parse_yaml and load_yaml_file (YAML text -> Node) are in <unroll/config_node.hpp>.

/// YAML text of a node (block style), for config.yaml.
std::string to_yaml(const Node& node);

/// Validate a component block ({kind: NAME, ...}) of the given kind against its plugin's
/// schema: unknown kind (lists known ones and the plugin folders searched), unknown keys (did you
/// mean), types, ranges, choices, nested component blocks recursively. Throws every error of the
/// block at once (ConfigErrors, diagnostics.hpp). `extra` declares host-level keys allowed in this block
/// besides the schema's (e.g. a layer's `name`). Returns the block with every default filled in,
/// marked Node::validated() (and so are its nested component blocks, such as a layer's `init`).
Node validate_component(const Node& block, Kind kind, const PluginHost& host, const Schema* extra = nullptr);

/// Validate a plain block against a schema (no `kind` key): the same checks, defaults filled.
Node validate_block(const Node& block, const Schema& schema, const PluginHost* host = nullptr);

/// The same two, adding every error to `diag` instead of throwing (validation goes on with the
/// next key); the returned block is complete only when no error was added.
Node validate_component(const Node& block, Kind kind, const PluginHost& host, Diagnostics& diag,
                        const Schema* extra = nullptr);
Node validate_block(const Node& block, const Schema& schema, const PluginHost* host, Diagnostics& diag);

/// How many component blocks of `kind` this process has validated (nested ones included): tests
/// count initializer validations to show that every block is validated once.
std::size_t validation_count(Kind kind);

}  // namespace unroll
