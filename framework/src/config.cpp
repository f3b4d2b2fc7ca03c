#include "unroll/host/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>

#include "unroll/error.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/schedule.hpp"

namespace unroll {

ConfigErrors::~ConfigErrors() = default;

namespace {

// Component blocks validated so far, by kind (validation_count).
std::array<std::atomic<std::size_t>, static_cast<std::size_t>(Kind::Dataset) + 1> validations{};

void emit(YAML::Emitter& out, const Node& n) {
  switch (n.type()) {
    case Node::Type::Null: out << YAML::Null; break;
    case Node::Type::Scalar: out << n.text(); break;
    case Node::Type::Sequence: {
      // Short lists of scalars read best inline: [1, 2, 3].
      bool flat = std::all_of(n.items().begin(), n.items().end(), [](const Node& i) { return i.is_scalar(); });
      if (flat) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& i : n.items()) emit(out, i);
      out << YAML::EndSeq;
      break;
    }
    case Node::Type::Map: {
      out << YAML::BeginMap;
      for (const auto& [k, v] : n.entries()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
    }
  }
}

Kind kind_from_name(const std::string& s) {
  for (Kind k : all_kinds())
    if (kind_name(k) == s) return k;
  throw Error("internal: unknown component kind '" + s + "' in a schema");
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

void check_range(const OptionSpec& spec, double v, const Node& n, const std::string& owner) {
  const bool lo_bad = spec.min_exclusive ? !(v > spec.min) : !(v >= spec.min);
  const bool hi_bad = spec.max_exclusive ? !(v < spec.max) : !(v <= spec.max);
  if (lo_bad || hi_bad)
    throw Error(n.loc().str() + ": '" + spec.name + "' of " + owner + " must be in " + spec.range_text() + ", got " +
                num(v));
}

// The one place integer options are bounded: every Int/IntList value (file, --set, default)
// passes here before any component reads it, so nothing downstream truncates a 64-bit value.
void check_int_width(const OptionSpec& spec, long long v, const Node& n, const std::string& owner) {
  if (spec.wide) return;
  constexpr long long lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
  if (v < lo || v > hi)
    throw Error(n.loc().str() + ": '" + spec.name + "' of " + owner + " is " + (v > hi ? "too large" : "too small") +
                ": " + n.text() + " does not fit in a 32-bit integer [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
}

Node validate_impl(const Node& block, const std::vector<const Schema*>& schemas, const PluginHost* host,
                   const std::string& owner, bool allow_kind, Diagnostics& diag);
Node validate_component_impl(const Node& block, Kind kind, const PluginHost& host, const Schema* extra,
                             Diagnostics& diag);

// Checks one option's value, normalizing it in place (a scalar for a one-element list, `init:
// zeros` for {kind: zeros}, nested blocks with their defaults). Errors of nested blocks go to
// `diag`; an error of this value itself is thrown.
void check_value(const OptionSpec& spec, Node& n, const std::string& owner, const PluginHost* host, Diagnostics& diag) {
  const std::string where = n.loc().str() + ": '" + spec.name + "' of " + owner;
  auto expect = [&](const std::string& what) -> Error {
    std::string got = n.is_scalar() ? "'" + n.text() + "'" : n.type_name();
    return Error(where + " expects " + what + ", got " + got);
  };
  switch (spec.type) {
    case OptType::Int: {
      auto v = n.as_int();
      if (!v) throw expect("an integer");
      check_int_width(spec, *v, n, owner);
      check_range(spec, static_cast<double>(*v), n, owner);
      break;
    }
    case OptType::Float: {
      auto v = n.as_double();
      if (!v) throw expect("a number");
      check_range(spec, *v, n, owner);
      break;
    }
    case OptType::Bool:
      if (!n.as_bool()) throw expect("true or false");
      break;
    case OptType::String:
      if (!n.is_scalar()) throw expect("a string");
      break;
    case OptType::Choice:
      if (!n.is_scalar() || std::find(spec.choices.begin(), spec.choices.end(), n.text()) == spec.choices.end()) {
        std::string hint = n.is_scalar() ? nearest(n.text(), spec.choices) : "";
        throw Error(expect("one of: " + join(spec.choices)).what() +
                    (hint.empty() ? std::string() : " (did you mean '" + hint + "'?)"));
      }
      break;
    case OptType::FloatList:
    case OptType::IntList: {
      if (n.is_scalar()) {  // a single value is a one-element list
        Node seq = Node::sequence(n.loc());
        seq.set_key_loc(n.key_loc());
        seq.push_back(n);
        n = seq;
      }
      if (!n.is_sequence()) throw expect(to_string(spec.type));
      for (auto& item : n.items()) {
        bool ok = spec.type == OptType::IntList ? item.as_int().has_value() : item.as_double().has_value();
        if (!ok)
          throw Error(item.loc().str() + ": '" + spec.name + "' of " + owner + " expects " + to_string(spec.type) +
                      ", got '" + item.text() + "'");
        if (spec.type == OptType::IntList) check_int_width(spec, *item.as_int(), item, owner);
        check_range(spec, *item.as_double(), item, owner);
      }
      break;
    }
    case OptType::Component: {
      if (!host) throw Error("internal: validating a component option without a plugin host");
      if (n.is_scalar()) {  // shorthand: `init: zeros` means {kind: zeros}
        Node m = Node::map(n.loc());
        m.set_key_loc(n.key_loc());
        m.set("kind", n);
        n = m;
      }
      if (!n.is_map()) throw expect("a " + spec.component_kind + " block such as {kind: ...}");
      n = validate_component_impl(n, kind_from_name(spec.component_kind), *host, nullptr, diag);
      break;
    }
    case OptType::Map:  // the component checks the entries itself
      if (!n.is_map()) throw expect("a mapping");
      break;
    case OptType::Block:
      if (!n.is_map()) throw expect("a mapping");
      n = validate_impl(n, {spec.block_schema.get()}, host, "'" + spec.name + "'", false, diag);
      break;
  }
}

// Every key of the block checked, every error recorded in `diag` (validation goes on with the
// next key); returns the block with defaults filled in, meaningful only when `diag` stays empty.
Node validate_impl(const Node& block, const std::vector<const Schema*>& schemas, const PluginHost* host,
                   const std::string& owner, bool allow_kind, Diagnostics& diag) {
  if (!block.is_map()) {
    diag.add(block.loc().str() + ": " + owner + " expects a mapping, got " + block.type_name());
    return block;
  }
  Node out = Node::map(block.loc());
  out.set_key_loc(block.key_loc());
  auto find_spec = [&](const std::string& key) -> const OptionSpec* {
    for (const Schema* s : schemas)
      if (const OptionSpec* o = s->find(key)) return o;
    return nullptr;
  };
  std::vector<std::string> valid;
  for (const Schema* s : schemas)
    for (const auto& o : s->options()) valid.push_back(o.name);

  if (allow_kind)
    if (const Node* k = block.find("kind")) out.set("kind", *k);
  for (const auto& [key, value] : block.entries()) {
    if (allow_kind && key == "kind") continue;
    const OptionSpec* spec = find_spec(key);
    if (!spec) {
      std::string hint = nearest(key, valid);
      diag.add(value.key_loc().str() + ": unknown key '" + key + "' in " + owner +
               (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
               (valid.empty() ? "; it takes no options" : "; valid keys: " + join(valid)));
    }
  }
  // Declared order, defaults filled in: config.yaml then lists every option.
  for (const Schema* s : schemas)
    for (const auto& spec : s->options()) {
      const Node* given = block.find(spec.name);
      Node v;
      if (given && !given->is_null()) {
        v = *given;
      } else if (spec.required) {
        diag.add((given ? given->key_loc() : block.loc()).str() + ": " + owner + " requires option '" + spec.name +
                 "' (" + to_string(spec.type) + ": " + spec.doc + ")");
        continue;
      } else if (spec.default_yaml.empty() && spec.type != OptType::String) {
        v = Node();  // optional, unset: null
        out.set(spec.name, v);
        continue;
      } else {
        v = spec.type == OptType::String ? Node::scalar(spec.default_yaml)
                                         : parse_yaml(spec.default_yaml, "default of " + owner + "." + spec.name);
        v.set_loc(SourceLoc{"default of " + owner + "." + spec.name, 0, 0});
      }
      diag.attempt([&] { check_value(spec, v, owner, host, diag); });
      out.set(spec.name, std::move(v));
    }
  return out;
}

Node validate_component_impl(const Node& block, Kind kind, const PluginHost& host, const Schema* extra,
                             Diagnostics& diag) {
  const std::string what = kind_name(kind);
  if (!block.is_map()) {
    diag.add(block.loc().str() + ": a " + what + " must be a mapping with a 'kind' key, got " + block.type_name());
    return block;
  }
  const Node* k = block.find("kind");
  if (!k || !k->is_scalar()) {
    diag.add(block.loc().str() + ": this " + what + " block has no 'kind' (known " + kind_plural(kind) + ": " +
             join(host.registry().names(kind)) + ")");
    return block;
  }
  const ComponentTable::Entry* e = host.registry().find(kind, k->text());
  if (!e) {
    auto names = host.registry().names(kind);
    std::string hint = nearest(k->text(), names);
    diag.add(k->loc().str() + ": unknown " + what + " kind '" + k->text() + "'" +
             (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; known " + kind_plural(kind) + ": " +
             (names.empty() ? "none (no plugin providing one is loaded)" : join(names)) + host.search_note());
    return block;
  }
  std::vector<const Schema*> schemas{&e->schema};
  if (extra) schemas.push_back(extra);
  validations[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  const std::size_t errors = diag.count();
  Node out = validate_impl(block, schemas, &host, what + " '" + k->text() + "'", true, diag);
  if (diag.count() == errors) out.mark_validated();  // complete: the host builds it as it is
  return out;
}

}  // namespace

std::string to_yaml(const Node& node) {
  YAML::Emitter out;
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

Node validate_block(const Node& block, const Schema& schema, const PluginHost* host) {
  Diagnostics diag;
  Node out = validate_block(block, schema, host, diag);
  diag.throw_if_any();
  return out;
}

Node validate_block(const Node& block, const Schema& schema, const PluginHost* host, Diagnostics& diag) {
  return validate_impl(block, {&schema}, host, "'" + schema.name() + "'", false, diag);
}

Node validate_component(const Node& block, Kind kind, const PluginHost& host, const Schema* extra) {
  Diagnostics diag;
  Node out = validate_component_impl(block, kind, host, extra, diag);
  diag.throw_if_any();
  return out;
}

Node validate_component(const Node& block, Kind kind, const PluginHost& host, Diagnostics& diag, const Schema* extra) {
  return validate_component_impl(block, kind, host, extra, diag);
}

// Declared with the loader (plugin_host.hpp) but defined here, where blocks are validated: the
// loader does not depend on validation, validation depends on the loader's registry.
std::shared_ptr<Schedule> HostBuildContext::make_schedule(const Node& block) {
  // A nested schedule option was validated with its parent's block; validate only what was not.
  return host_.build<Schedule>(Kind::Schedule,
                               block.validated() ? block : validate_component(block, Kind::Schedule, host_), *this);
}

std::size_t validation_count(Kind kind) {
  return validations[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
}

}  // namespace unroll
