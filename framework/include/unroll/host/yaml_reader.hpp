#pragma once
// YAML text -> Node tree, with file:line:column on every node (yaml_reader.cpp). The bottom of
// the config flow: composition (compose.hpp) and validation (config.hpp) read through it and it
// depends on neither.
#include <cstddef>
#include <string>

#include "unroll/config_node.hpp"

namespace unroll {

/// Limits of the YAML reader, far above any real experiment and far below what exhausts the
/// stack or memory: nesting depth, values in all, values copied by alias expansion, file size.
inline constexpr std::size_t kMaxYamlDepth = 64;
inline constexpr std::size_t kMaxYamlValues = 4'000'000;
inline constexpr std::size_t kMaxYamlAliasValues = 100'000;
inline constexpr std::size_t kMaxYamlBytes = 16u << 20;

/// Parse the first YAML document of `text`; `file` is the name used in locations. Syntax
/// errors, self-referencing aliases, alias expansion beyond kMaxYamlAliasValues, nesting beyond
/// kMaxYamlDepth, merge keys (`<<:`, not supported) and duplicate keys throw Error with
/// file:line:column.
Node parse_yaml(const std::string& text, const std::string& file);
/// Read and parse a file. Error names the file when it cannot be read, is a directory, is not a
/// regular file (a FIFO or a device is refused without reading it) or exceeds kMaxYamlBytes.
Node load_yaml_file(const std::string& path);

}  // namespace unroll
