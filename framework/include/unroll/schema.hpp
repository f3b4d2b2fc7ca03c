#pragma once
// Schemas and options. Every component declares each option once, with its type, default,
// allowed range and a one-line doc; the host validates every YAML block against the schema
// before anything is built, fills in defaults, and hands the component typed Options. The same
// schema drives `unroll plugins --describe` and the generated reference docs.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "unroll/config_node.hpp"

namespace unroll {

enum class OptType { Int, Float, Bool, String, Choice, FloatList, IntList, Component, Block, Map };
std::string to_string(OptType t);

/// One option of a component. Build with Schema's helpers, refine with the chained setters.
struct OptionSpec {
  // Every member has an initializer, so designated initializers may name only what they set
  // (GCC's -Wmissing-field-initializers).
  std::string name{};
  OptType type = OptType::Float;
  std::string doc{};
  bool required = false;
  std::string default_yaml{};  // default as YAML text ("0.1", "[1, 2]", "{kind: zero}")
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false, max_exclusive = false;
  /// Int and IntList values must fit in a 32-bit `int` (what Options::i returns and what
  /// sizes are stored in) unless the option is declared wide(): 64-bit, e.g. a seed. Checked
  /// by the validator, so 4294967300 units is an error at its file:line:col, not 4 units.
  bool wide = false;
  std::vector<std::string> choices{};                  // OptType::Choice
  std::string component_kind{};                        // OptType::Component: "initializer", "schedule", ...
  std::shared_ptr<const class Schema> block_schema{};  // OptType::Block: the nested block's options

  /// Closed range [lo, hi].
  OptionSpec& range(double lo, double hi) {
    min = lo;
    max = hi;
    return *this;
  }
  OptionSpec& at_least(double lo) {
    min = lo;
    return *this;
  }
  /// Open lower bound: value > lo.
  OptionSpec& above(double lo) {
    min = lo;
    min_exclusive = true;
    return *this;
  }
  OptionSpec& below(double hi) {
    max = hi;
    max_exclusive = true;
    return *this;
  }
  /// No default and not required: absent means null (the feature is off).
  OptionSpec& optional() {
    required = false;
    return *this;
  }
  /// An Int/IntList option whose values may use the whole 64-bit range (see `wide`).
  OptionSpec& wide_int() {
    wide = true;
    return *this;
  }
  /// "[0, inf)", "(0, 1]", or "" when unbounded.
  std::string range_text() const;
};

/// The declaration of one component: its kind name, a summary, and its options.
class Schema {
 public:
  Schema(std::string name, std::string summary) : name_(std::move(name)), summary_(std::move(summary)) {}

  OptionSpec& integer(const std::string& name, long long def, const std::string& doc);
  OptionSpec& integer(const std::string& name, const std::string& doc);  // required
  OptionSpec& real(const std::string& name, double def, const std::string& doc);
  OptionSpec& real(const std::string& name, const std::string& doc);  // required
  OptionSpec& boolean(const std::string& name, bool def, const std::string& doc);
  OptionSpec& string(const std::string& name, const std::string& def, const std::string& doc);
  OptionSpec& choice(const std::string& name, const std::string& def, std::vector<std::string> choices,
                     const std::string& doc);
  OptionSpec& reals(const std::string& name, const std::string& def_yaml, const std::string& doc);
  OptionSpec& integers(const std::string& name, const std::string& def_yaml, const std::string& doc);
  /// A nested component block, e.g. a layer's weight initializer: kind is "initializer".
  OptionSpec& component(const std::string& name, const std::string& kind, const std::string& def_yaml,
                        const std::string& doc);

  /// A free-form mapping that the component checks itself (a cell's params and step equations);
  /// the host checks only that it is a mapping, and keeps every entry's file:line:column.
  OptionSpec& mapping(const std::string& name, const std::string& def_yaml, const std::string& doc);

  /// A nested plain block (no kind) with its own options, e.g. train.stop.
  OptionSpec& block(const std::string& name, std::shared_ptr<const Schema> sub, const std::string& doc);

  const std::string& name() const { return name_; }
  const std::string& summary() const { return summary_; }
  const std::vector<OptionSpec>& options() const { return options_; }
  const OptionSpec* find(const std::string& name) const;

 private:
  OptionSpec& add(OptionSpec spec);
  std::string name_, summary_;
  std::vector<OptionSpec> options_;
};

/// Validated options of one component: every declared option is present (defaults filled in)
/// and has the declared type and range, so the getters cannot fail on a declared name.
class Options {
 public:
  Options() = default;
  Options(Node block, const Schema* schema) : block_(std::move(block)), schema_(schema) {}

  double real(const std::string& name) const;
  float f(const std::string& name) const { return static_cast<float>(real(name)); }
  long long integer(const std::string& name) const;
  /// integer() as an `int`; throws Error naming the value's location if it does not fit (the
  /// validator already refuses such values unless the option is declared wide).
  int i(const std::string& name) const;
  bool boolean(const std::string& name) const;
  std::string string(const std::string& name) const;  // String and Choice
  std::vector<double> reals(const std::string& name) const;
  std::vector<long long> integers(const std::string& name) const;
  /// A Component option's block ({kind: ..., ...}), already validated.
  const Node& block(const std::string& name) const;
  /// Whether the option was written (or defaulted) to something other than null.
  bool has(const std::string& name) const;

  /// The whole resolved block, including `kind`.
  const Node& node() const { return block_; }

 private:
  const Node& value(const std::string& name) const;
  Node block_;
  const Schema* schema_ = nullptr;
};

}  // namespace unroll
