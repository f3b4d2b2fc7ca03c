#include "unroll/registry.hpp"

#include "unroll/error.hpp"
#include "unroll/host/run_marker.hpp"

namespace unroll {

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::Layer: return "layer";
    case Kind::Loss: return "loss";
    case Kind::Initializer: return "initializer";
    case Kind::Optimizer: return "optimizer";
    case Kind::Schedule: return "schedule";
    case Kind::Regularizer: return "regularizer";
    case Kind::Dataset: return "dataset";
  }
  return "?";
}

std::string kind_plural(Kind k) { return k == Kind::Loss ? "losses" : kind_name(k) + "s"; }

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k{Kind::Layer,    Kind::Loss,        Kind::Initializer, Kind::Optimizer,
                                   Kind::Schedule, Kind::Regularizer, Kind::Dataset};
  return k;
}

void Registry::begin_library(std::string path, std::shared_ptr<LibraryHandle> lib) {
  current_library_ = std::move(path);
  current_lib_ = std::move(lib);
}
void Registry::end_library() {
  current_library_.clear();
  current_lib_.reset();
}

void Registry::remove_library(const std::string& path) {
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.library == path; });
}

Registry::Entry& Registry::add(Kind k, Schema s, std::function<void*(const Options&, BuildContext&)> make) {
  auto key = std::make_pair(k, s.name());
  if (auto it = entries_.find(key); it != entries_.end())
    throw Error("the " + kind_name(k) + " '" + s.name() + "' is registered twice: by " + it->second.library +
                " and by " + (current_library_.empty() ? std::string("the host") : current_library_));
  // Every construction is marked, so that a crash inside a plugin's factory names it
  // (run_marker.hpp).
  auto marked = [what = kind_name(k), name = s.name(), make = std::move(make)](const Options& o, BuildContext& c) {
    marker::ComponentScope mark(what.c_str(), name, "build");
    return make(o, c);
  };
  Entry e{k, std::move(s), current_library_, current_lib_, std::move(marked), {}};
  return entries_.emplace(std::move(key), std::move(e)).first->second;
}

const Registry::Entry* Registry::find(Kind k, const std::string& name) const {
  auto it = entries_.find({k, name});
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names(Kind k) const {
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_)
    if (key.first == k) out.push_back(key.second);
  return out;
}

std::vector<const Registry::Entry*> Registry::entries() const {
  std::vector<const Entry*> out;
  for (const auto& [key, e] : entries_) out.push_back(&e);
  return out;
}

}  // namespace unroll
