#include "unroll/schema.hpp"

#include <cmath>
#include <sstream>

#include "unroll/error.hpp"
#include "unroll/names.hpp"

namespace unroll {

std::string to_string(OptType t) {
  switch (t) {
    case OptType::Int: return "int";
    case OptType::Float: return "float";
    case OptType::Bool: return "bool";
    case OptType::String: return "string";
    case OptType::Choice: return "choice";
    case OptType::FloatList: return "list of float";
    case OptType::IntList: return "list of int";
    case OptType::Component: return "component";
    case OptType::Block: return "block";
    case OptType::Map: return "mapping";
  }
  return "?";
}

static std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

std::string OptionSpec::range_text() const {
  if (std::isinf(min) && std::isinf(max)) return "";
  // Appended piece by piece: GCC 12 flags `std::string(...) + temporary` here with a false
  // -Wrestrict (GCC bug 105651).
  std::string out = min_exclusive || std::isinf(min) ? "(" : "[";
  out += num(min);
  out += ", ";
  out += num(max);
  out += max_exclusive || std::isinf(max) ? ")" : "]";
  return out;
}

OptionSpec& Schema::add(OptionSpec spec) {
  for (const auto& o : options_)
    if (o.name == spec.name) throw Error("schema '" + name_ + "' declares option '" + spec.name + "' twice");
  if (spec.name == "kind") throw Error("schema '" + name_ + "': 'kind' is reserved");
  options_.push_back(std::move(spec));
  return options_.back();
}

OptionSpec& Schema::integer(const std::string& name, long long def, const std::string& doc) {
  return add({.name = name, .type = OptType::Int, .doc = doc, .default_yaml = std::to_string(def)});
}
OptionSpec& Schema::integer(const std::string& name, const std::string& doc) {
  return add({.name = name, .type = OptType::Int, .doc = doc, .required = true});
}
OptionSpec& Schema::real(const std::string& name, double def, const std::string& doc) {
  return add({.name = name, .type = OptType::Float, .doc = doc, .default_yaml = num(def)});
}
OptionSpec& Schema::real(const std::string& name, const std::string& doc) {
  return add({.name = name, .type = OptType::Float, .doc = doc, .required = true});
}
OptionSpec& Schema::boolean(const std::string& name, bool def, const std::string& doc) {
  return add({.name = name, .type = OptType::Bool, .doc = doc, .default_yaml = def ? "true" : "false"});
}
OptionSpec& Schema::string(const std::string& name, const std::string& def, const std::string& doc) {
  return add({.name = name, .type = OptType::String, .doc = doc, .default_yaml = def});
}
OptionSpec& Schema::choice(const std::string& name, const std::string& def, std::vector<std::string> choices,
                           const std::string& doc) {
  return add({.name = name, .type = OptType::Choice, .doc = doc, .default_yaml = def, .choices = std::move(choices)});
}
OptionSpec& Schema::reals(const std::string& name, const std::string& def_yaml, const std::string& doc) {
  return add({.name = name, .type = OptType::FloatList, .doc = doc, .default_yaml = def_yaml});
}
OptionSpec& Schema::integers(const std::string& name, const std::string& def_yaml, const std::string& doc) {
  return add({.name = name, .type = OptType::IntList, .doc = doc, .default_yaml = def_yaml});
}
OptionSpec& Schema::component(const std::string& name, const std::string& kind, const std::string& def_yaml,
                              const std::string& doc) {
  return add({.name = name, .type = OptType::Component, .doc = doc, .default_yaml = def_yaml, .component_kind = kind});
}

OptionSpec& Schema::mapping(const std::string& name, const std::string& def_yaml, const std::string& doc) {
  return add({.name = name, .type = OptType::Map, .doc = doc, .default_yaml = def_yaml});
}

OptionSpec& Schema::block(const std::string& name, std::shared_ptr<const Schema> sub, const std::string& doc) {
  return add({.name = name, .type = OptType::Block, .doc = doc, .default_yaml = "{}", .block_schema = std::move(sub)});
}

const OptionSpec* Schema::find(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

// ---- Options ----

const Node& Options::value(const std::string& name) const {
  const Node* n = block_.find(name);
  if (!n) {  // a plugin's own bug (a misspelt name in its code): say which name it meant
    std::string which = block_.find("kind") ? block_.find("kind")->text() : std::string("?");
    std::string hint;
    if (schema_) {
      std::vector<std::string> declared;
      for (const auto& o : schema_->options()) declared.push_back(o.name);
      const std::string near = nearest(name, declared);
      if (!near.empty()) hint = " (did you mean '" + near + "'?)";
    }
    throw Error("component '" + which + "' read option '" + name + "', which its schema does not declare" + hint);
  }
  return *n;
}

double Options::real(const std::string& name) const {
  const Node& n = value(name);
  auto v = n.as_double();
  if (!v) throw Error(n.loc().str() + ": '" + name + "' expects a number, got '" + n.text() + "'");
  return *v;
}
long long Options::integer(const std::string& name) const {
  const Node& n = value(name);
  auto v = n.as_int();
  if (!v) throw Error(n.loc().str() + ": '" + name + "' expects an integer, got '" + n.text() + "'");
  return *v;
}
int Options::i(const std::string& name) const {
  const long long v = integer(name);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    throw Error(value(name).loc().str() + ": '" + name + "' is " + std::to_string(v) +
                ", which does not fit in a 32-bit integer");
  return static_cast<int>(v);
}
bool Options::boolean(const std::string& name) const {
  const Node& n = value(name);
  auto v = n.as_bool();
  if (!v) throw Error(n.loc().str() + ": '" + name + "' expects true or false, got '" + n.text() + "'");
  return *v;
}
std::string Options::string(const std::string& name) const { return value(name).text(); }

std::vector<double> Options::reals(const std::string& name) const {
  std::vector<double> out;
  for (const Node& item : value(name).items()) {
    auto v = item.as_double();
    if (!v) throw Error(item.loc().str() + ": '" + name + "' expects a list of numbers");
    out.push_back(*v);
  }
  return out;
}
std::vector<long long> Options::integers(const std::string& name) const {
  std::vector<long long> out;
  for (const Node& item : value(name).items()) {
    auto v = item.as_int();
    if (!v) throw Error(item.loc().str() + ": '" + name + "' expects a list of integers");
    out.push_back(*v);
  }
  return out;
}
const Node& Options::block(const std::string& name) const { return value(name); }
bool Options::has(const std::string& name) const {
  const Node* n = block_.find(name);
  return n && !n->is_null();
}

}  // namespace unroll
