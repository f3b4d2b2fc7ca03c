#pragma once
// Composition of experiment files: `extends:` chains, deep merge of config trees, and
// path-addressed overrides (`model[2].rate`). Every node keeps the file:line:column it was
// written at, so an error in a merged tree still points into the file that holds the value.
#include <string>

#include "unroll/config_node.hpp"

namespace unroll {

/// Read PATH and resolve its `extends: BASE` chain: BASE (relative to the file that names it)
/// is loaded first, recursively, and this file's tree is merged onto it (merge_into). Keys
/// written as paths (`optimizer.lr: 0.01`, `model[2]: null`) are applied with set_path after
/// the merge, in the order written. The `extends` key is removed from the result. Relative
/// paths written in a base file in another folder are made absolute (absolutize_paths), so
/// they keep meaning what they meant in the file they were written in.
/// Errors: a missing base names the extending file:line:col and the path tried; a cycle names
/// the whole chain (a.yaml -> b.yaml -> a.yaml).
Node load_composed(const std::string& path);

/// Deep merge OVER onto BASE: mappings merge key by key, recursively; a null value removes the
/// key; scalars and lists replace. A component block whose `kind` changes replaces the base block
/// (the old kind's options would not apply to the new one). Path keys in a mapping of OVER
/// are applied as set_path at that level.
void merge_into(Node& base, const Node& over);

/// Set the value at PATH ("optimizer.momentum", "model[2].rate", "model[2]") inside ROOT:
/// a null VALUE removes the map key or list element; index == size appends. A mapping VALUE
/// written onto a mapping (a map key or a list element) merges into it as merge_into does (a
/// different `kind` replaces the block; a list element written as a bare kind, `- relu`, is the
/// block {kind: relu}); any other VALUE replaces. Missing maps on the way are created. VALUE keeps its own location;
/// its key location becomes WHERE, which also prefixes errors (bad index, path through a scalar).
void set_path(Node& root, const std::string& path, Node value, const SourceLoc& where);

/// Apply `path=value` (e.g. "optimizer.lr=0.1", "model[2].rate=0.3", "model[2]=null"): the value
/// is parsed as YAML; the location of the new node is the --set text.
void apply_set(Node& root, const std::string& assignment);

/// True when KEY is a path (contains '.' or '[') rather than a plain mapping key.
bool is_path_key(const std::string& key);

/// Replace relative file paths in scalar values by absolute ones, resolved against the folder
/// of the file each scalar was written in, when that file exists there (keys kind, name,
/// description and seed are left alone). Lets a resolved config be written anywhere.
void absolutize_paths(Node& node);

}  // namespace unroll
