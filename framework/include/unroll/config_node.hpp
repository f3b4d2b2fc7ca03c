#pragma once
// The configuration tree. Experiments are read from YAML into this tree rather than kept as
// YAML::Node, because every node must remember which FILE it came from (experiments extend
// other experiments, and --set values come from the command line): error messages name
// file:line:column wherever a value was written. parse_yaml (below) builds it from YAML text.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace unroll {

/// Where a value was written: "exp.yaml:12:5" or "--set optimizer.lr=0.1".
struct SourceLoc {
  std::string file;
  int line = 0;    // 1-based; 0 = no line (command line, defaults)
  int column = 0;  // 1-based
  std::string str() const;
};

/// A YAML-like value: null, scalar (kept as its text), sequence or map (insertion-ordered).
class Node {
 public:
  enum class Type { Null, Scalar, Sequence, Map };

  Node() = default;
  static Node scalar(std::string text, SourceLoc loc = {});
  static Node map(SourceLoc loc = {});
  static Node sequence(SourceLoc loc = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_scalar() const { return type_ == Type::Scalar; }
  bool is_map() const { return type_ == Type::Map; }
  bool is_sequence() const { return type_ == Type::Sequence; }
  /// Type name for messages: "null", "a scalar", "a list", "a mapping".
  std::string type_name() const;

  const std::string& text() const { return text_; }  // scalars only
  const SourceLoc& loc() const { return loc_; }
  /// Location of this node's key in its parent map (falls back to loc()).
  const SourceLoc& key_loc() const { return key_loc_.file.empty() ? loc_ : key_loc_; }
  void set_loc(SourceLoc l) { loc_ = std::move(l); }
  void set_key_loc(SourceLoc l) { key_loc_ = std::move(l); }

  // Map access. Keys keep their insertion order (config.yaml reads in the order written).
  bool has(const std::string& key) const;
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  const Node& at(const std::string& key) const;   // throws Error naming the location
  Node& set(const std::string& key, Node value);  // insert or replace, keeps position
  bool erase(const std::string& key);
  std::vector<std::pair<std::string, Node>>& entries() { return entries_; }
  const std::vector<std::pair<std::string, Node>>& entries() const { return entries_; }

  // Sequence access.
  std::vector<Node>& items() { return items_; }
  const std::vector<Node>& items() const { return items_; }
  void push_back(Node n) { items_.push_back(std::move(n)); }

  // Scalar conversion; each throws Error "LOC: 'key' expects T, got 'text'" given the key.
  std::optional<double> as_double() const;
  std::optional<long long> as_int() const;
  std::optional<bool> as_bool() const;

  /// Whether this block came out of validation (validate_component, with its defaults filled in)
  /// without an error. The host then builds it as it is: every block is validated once, whether
  /// the experiment's schemas saw it or a plugin assembled it (an LSTM's forget-gate block). A
  /// copy keeps the mark; a block a plugin assembles itself starts without it.
  bool validated() const { return validated_; }
  void mark_validated() { validated_ = true; }

 private:
  Type type_ = Type::Null;
  std::string text_;
  SourceLoc loc_, key_loc_;
  std::vector<std::pair<std::string, Node>> entries_;
  std::vector<Node> items_;
  bool validated_ = false;
};

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
