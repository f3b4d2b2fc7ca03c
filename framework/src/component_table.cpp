// The host's component tables (host/component_table.hpp).
#include "unroll/host/component_table.hpp"

#include "unroll/error.hpp"
#include "unroll/host/run_marker.hpp"

namespace unroll {

void ComponentTable::begin_library(std::string path, std::shared_ptr<LibraryHandle> lib) {
  current_library_ = std::move(path);
  current_lib_ = std::move(lib);
}
void ComponentTable::end_library() {
  current_library_.clear();
  current_lib_.reset();
}

void ComponentTable::remove_library(const std::string& path) {
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.library == path; });
}

void ComponentTable::add(Kind k, Schema s, ErasedFactory make, FootprintFn footprint) {
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
  Entry e{k, std::move(s), current_library_, current_lib_, std::move(marked), std::move(footprint)};
  entries_.emplace(std::move(key), std::move(e));
}

const ComponentTable::Entry* ComponentTable::find(Kind k, const std::string& name) const {
  auto it = entries_.find({k, name});
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> ComponentTable::names(Kind k) const {
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_)
    if (key.first == k) out.push_back(key.second);
  return out;
}

std::vector<const ComponentTable::Entry*> ComponentTable::entries() const {
  std::vector<const Entry*> out;
  for (const auto& [key, e] : entries_) out.push_back(&e);
  return out;
}

}  // namespace unroll
