#pragma once
// Host side of the plugin boundary: finds plugin libraries, checks their API version and ABI
// fingerprint before calling anything in them, runs their registration function, and makes
// objects that keep their library loaded for as long as they live.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "unroll/host/component_table.hpp"

namespace unroll {

class PluginHost {
 public:
  PluginHost();
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  /// Load one library. Errors (missing file, not a plugin, version or ABI mismatch, failing
  /// registration, duplicate component) throw Error naming the library.
  void load_library(const std::filesystem::path& path);
  /// Load every lib*.so in a folder (not recursive). A missing folder is an error.
  void load_directory(const std::filesystem::path& dir);
  /// Load the standard search path: the built-in folder next to the executable
  /// (<exe>/../lib/unroll/plugins), then each folder of UNROLL_PLUGIN_PATH (':'-separated),
  /// then `extra_dirs` (--plugin-dir). Folders that do not exist are skipped, except extras.
  void load_default(const std::vector<std::string>& extra_dirs = {});
  /// Folders load_default() would look in, in order.
  static std::vector<std::filesystem::path> search_path(const std::vector<std::string>& extra_dirs = {});
  /// <exe>/../lib/unroll/plugins.
  static std::filesystem::path builtin_dir();

  ComponentTable& registry() { return registry_; }
  const ComponentTable& registry() const { return registry_; }
  const std::vector<std::string>& loaded() const { return loaded_; }
  /// For an unknown component name: the plugin folders searched so far (absent ones marked),
  /// the libraries loaded on their own, and the three ways to load another plugin.
  std::string search_note() const;

  /// Build a component from validated options. The returned object holds its library.
  template <class T>
  std::shared_ptr<T> create(Kind kind, const std::string& name, const Options& opts, BuildContext& ctx) const {
    const ComponentTable::Entry& e = entry(kind, name);
    T* raw = static_cast<T*>(e.make(opts, ctx));
    if (!raw) throw Error("the " + kind_name(kind) + " factory '" + name + "' in " + e.library + " returned nothing");
    auto lib = e.lib;
    return std::shared_ptr<T>(raw, [lib](T* p) { delete p; });
  }
  /// Build from a block already passed through validate_component() ({kind: NAME, ...}).
  template <class T>
  std::shared_ptr<T> build(Kind kind, const Node& validated, BuildContext& ctx) const {
    const std::string& name = validated.at("kind").text();
    return create<T>(kind, name, Options(validated, &entry(kind, name).schema), ctx);
  }
  /// Entry for (kind, name); throws Error listing the names that exist.
  const ComponentTable::Entry& entry(Kind kind, const std::string& name) const;

 private:
  ComponentTable registry_;
  std::vector<std::string> loaded_;
  std::vector<std::string> searched_;  // folders looked in, in order, with where they came from
};

/// The BuildContext the host hands to factories: nested schedule blocks are validated and built
/// through the same PluginHost.
class HostBuildContext : public BuildContext {
 public:
  HostBuildContext(const PluginHost& host, std::string name_, int input_size_, uint64_t seed_, std::string base_dir_);
  std::shared_ptr<Schedule> make_schedule(const Node& block) override;

 private:
  const PluginHost& host_;
};

}  // namespace unroll
