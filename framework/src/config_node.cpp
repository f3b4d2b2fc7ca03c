#include "unroll/config_node.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "unroll/error.hpp"

namespace unroll {

std::string SourceLoc::str() const {
  if (file.empty()) return "<default>";
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Node Node::scalar(std::string text, SourceLoc loc) {
  Node n;
  n.type_ = Type::Scalar;
  n.text_ = std::move(text);
  n.loc_ = std::move(loc);
  return n;
}
Node Node::map(SourceLoc loc) {
  Node n;
  n.type_ = Type::Map;
  n.loc_ = std::move(loc);
  return n;
}
Node Node::sequence(SourceLoc loc) {
  Node n;
  n.type_ = Type::Sequence;
  n.loc_ = std::move(loc);
  return n;
}

std::string Node::type_name() const {
  switch (type_) {
    case Type::Null: return "null";
    case Type::Scalar: return "a scalar";
    case Type::Sequence: return "a list";
    case Type::Map: return "a mapping";
  }
  return "?";
}

bool Node::has(const std::string& key) const { return find(key) != nullptr; }

const Node* Node::find(const std::string& key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}
Node* Node::find(const std::string& key) {
  for (auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}
const Node& Node::at(const std::string& key) const {
  const Node* n = find(key);
  if (!n) throw Error(loc_.str() + ": missing required key '" + key + "'");
  return *n;
}
Node& Node::set(const std::string& key, Node value) {
  if (type_ != Type::Map) {
    type_ = Type::Map;
    text_.clear();
    items_.clear();
  }
  if (Node* n = find(key)) {
    *n = std::move(value);
    return *n;
  }
  entries_.emplace_back(key, std::move(value));
  return entries_.back().second;
}
bool Node::erase(const std::string& key) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::optional<double> Node::as_double() const {
  if (type_ != Type::Scalar || text_.empty()) return std::nullopt;
  std::string t = text_;
  if (t == ".inf" || t == "inf" || t == "+.inf") return INFINITY;
  if (t == "-.inf" || t == "-inf") return -INFINITY;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || errno == ERANGE) return std::nullopt;
  if (std::isnan(v)) return std::nullopt;
  return v;
}
std::optional<long long> Node::as_int() const {
  if (type_ != Type::Scalar || text_.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text_.c_str(), &end, 10);
  if (end == text_.c_str() + text_.size() && errno != ERANGE) return v;
  // Accept integral floats such as "1e3" or "5.0".
  if (auto d = as_double(); d && std::floor(*d) == *d && std::fabs(*d) < 9e15) return static_cast<long long>(*d);
  return std::nullopt;
}
std::optional<bool> Node::as_bool() const {
  if (type_ != Type::Scalar) return std::nullopt;
  std::string t = text_;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

}  // namespace unroll
