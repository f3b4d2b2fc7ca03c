#pragma once
// The host's tables of components: what every loaded plugin registered, with the library that
// registered it. Plugins see only the adding side (<unroll/registry.hpp>); looking components up,
// listing them and undoing a failed registration happen here.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "unroll/registry.hpp"

namespace unroll {

/// Host-side holder of a plugin library (plugin_host.cpp).
struct LibraryHandle;

class ComponentTable final : public Registry {
 public:
  struct Entry {
    Kind kind;
    Schema schema;
    std::string library;  // path of the library that registered it
    std::shared_ptr<LibraryHandle> lib;
    ErasedFactory make;     // returns a new T*; every call is marked for crash reports (run_marker.hpp)
    FootprintFn footprint;  // layers only; may be empty
  };
  ComponentTable() = default;

  /// Entry for (kind, name) or nullptr.
  const Entry* find(Kind k, const std::string& name) const;
  /// Names registered for a kind, sorted.
  std::vector<std::string> names(Kind k) const;
  /// Every entry, in (kind, name) order.
  std::vector<const Entry*> entries() const;
  /// Library whose registration function is running (set by the loader).
  void begin_library(std::string path, std::shared_ptr<LibraryHandle> lib);
  void end_library();
  /// Remove everything a library registered (its registration failed part way).
  void remove_library(const std::string& path);

 protected:
  void add(Kind kind, Schema schema, ErasedFactory make, FootprintFn footprint) override;

 private:
  std::map<std::pair<Kind, std::string>, Entry> entries_;
  std::string current_library_;
  std::shared_ptr<LibraryHandle> current_lib_;
};

}  // namespace unroll
