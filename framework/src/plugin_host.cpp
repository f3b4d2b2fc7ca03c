#include "unroll/host/plugin_host.hpp"

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <sstream>

#include "unroll/plugin.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {
// The value of `key` in an ABI fingerprint "k1=v1;k2=v2", or "" when absent.
std::string fingerprint_field(const std::string& fp, const std::string& key) {
  const std::string tag = key + "=";
  size_t at = fp.find(tag);
  while (at != std::string::npos && at != 0 && fp[at - 1] != ';') at = fp.find(tag, at + 1);
  if (at == std::string::npos) return "";
  at += tag.size();
  return fp.substr(at, fp.find(';', at) - at);
}
}  // namespace

struct LibraryHandle {
  boost::dll::shared_library lib;
};

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

void PluginHost::load_library(const fs::path& path_in) {
  const fs::path path = fs::absolute(path_in);
  const std::string where = path.string();
  if (std::find(loaded_.begin(), loaded_.end(), where) != loaded_.end()) return;
  if (!fs::exists(path)) throw Error("plugin library " + where + " does not exist");

  auto handle = std::make_shared<LibraryHandle>();
  try {
    // rtld_global off (default): each plugin's symbols stay private to it.
    handle->lib.load(path, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw Error("cannot load plugin library " + where + ": " + e.what());
  }
  if (!handle->lib.has("unroll_plugin_info") || !handle->lib.has("unroll_register"))
    throw Error("library " + where +
                " is not an unroll plugin: it does not export 'unroll_plugin_info' and 'unroll_register' "
                "(define the entry point with UNROLL_PLUGIN(registry) { ... } from <unroll/plugin.hpp>)");

  auto info_fn = handle->lib.get_alias<PluginInfoFn>("unroll_plugin_info");
  const PluginInfo* info = info_fn();
  if (!info || info->api_version != UNROLL_API_VERSION) {
    std::ostringstream s;
    s << "plugin library " << where << " was built for unroll API version " << (info ? info->api_version : -1)
      << ", but this host implements API version " << UNROLL_API_VERSION << "; rebuild the plugin against this unroll";
    throw Error(s.str());
  }
  const std::string theirs = info->abi_fingerprint ? info->abi_fingerprint : "";
  const std::string ours = UNROLL_ABI_FINGERPRINT;
  if (theirs != ours) {
    // A different target CPU is the likely case on a cluster (login and compute nodes differ),
    // so it is named first, in words.
    const std::string their_isa = fingerprint_field(theirs, "isa"), our_isa = fingerprint_field(ours, "isa");
    std::string cpu;
    if (their_isa != our_isa)
      cpu = "it was compiled for the CPU instruction set " + (their_isa.empty() ? "(not recorded)" : their_isa) +
            ", but this host for " + our_isa +
            " (build both with the same UNROLL_NATIVE setting; -DUNROLL_NATIVE=OFF runs on any x86-64)\n";
    throw Error("plugin library " + where + " was built with incompatible settings:\n" + cpu + "  plugin: " + theirs +
                "\n  host:   " + ours + "\nrebuild it with unroll_add_plugin() from find_package(unroll)");
  }

  auto reg_fn = handle->lib.get_alias<PluginRegisterFn>("unroll_register");
  registry_.begin_library(where, handle);
  const char* err = nullptr;
  try {
    err = reg_fn(registry_);
  } catch (const std::exception& e) {  // e.g. a duplicate component name
    registry_.end_library();
    registry_.remove_library(where);
    throw Error("plugin library " + where + " failed to register: " + e.what());
  }
  registry_.end_library();
  if (err) {
    registry_.remove_library(where);  // nothing half-registered may point into a failed library
    throw Error("plugin library " + where + " failed to register: " + err);
  }
  loaded_.push_back(where);
}

void PluginHost::load_directory(const fs::path& dir) {
  const std::string where = fs::absolute(dir).lexically_normal().string();
  if (std::find(searched_.begin(), searched_.end(), where) == searched_.end()) searched_.push_back(where);
  if (!fs::is_directory(dir)) throw Error("plugin folder " + dir.string() + " does not exist");
  std::vector<fs::path> libs;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("lib", 0) == 0 && e.path().extension() == ".so") libs.push_back(e.path());
  }
  std::sort(libs.begin(), libs.end());  // a fixed order: the same registry every time
  for (const auto& p : libs) load_library(p);
}

fs::path PluginHost::builtin_dir() {
  const fs::path exe = boost::dll::program_location().parent_path().string();
  return (exe / ".." / "lib" / "unroll" / "plugins").lexically_normal();
}

std::vector<fs::path> PluginHost::search_path(const std::vector<std::string>& extra_dirs) {
  std::vector<fs::path> out{builtin_dir()};
  if (const char* env = std::getenv("UNROLL_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) out.emplace_back(item);
  }
  for (const auto& d : extra_dirs) out.emplace_back(d);
  return out;
}

void PluginHost::load_default(const std::vector<std::string>& extra_dirs) {
  for (const auto& d : search_path({})) {
    if (fs::is_directory(d))
      load_directory(d);
    else
      searched_.push_back(fs::absolute(d).lexically_normal().string() + " (absent)");
  }
  for (const auto& d : extra_dirs) load_directory(d);
}

std::string PluginHost::search_note() const {
  std::string folders, own;
  for (const auto& d : searched_) folders += (folders.empty() ? "" : ", ") + d;
  for (const auto& lib : loaded_) {
    const std::string dir = fs::path(lib).parent_path().lexically_normal().string();
    if (std::find(searched_.begin(), searched_.end(), dir) == searched_.end()) own += (own.empty() ? "" : ", ") + lib;
  }
  const char* env = std::getenv("UNROLL_PLUGIN_PATH");
  return "\n  plugin folders searched: " + (folders.empty() ? std::string("none") : folders) +
         (env && *env ? std::string(" (UNROLL_PLUGIN_PATH=") + env + ")"
                      : std::string(" (UNROLL_PLUGIN_PATH is not set)")) +
         (own.empty() ? "" : "; libraries loaded by path: " + own) +
         "\n  to use a component of another plugin library, load it: list the library or its folder in the "
         "experiment (plugins: [build/libmy_plugin.so], relative to the experiment file), or pass --plugin-dir DIR, "
         "or add DIR to UNROLL_PLUGIN_PATH (':'-separated)";
}

const ComponentTable::Entry& PluginHost::entry(Kind kind, const std::string& name) const {
  if (const auto* e = registry_.find(kind, name)) return *e;
  std::string known;
  for (const auto& n : registry_.names(kind)) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown " + kind_name(kind) + " '" + name + "' (known " + kind_plural(kind) + ": " +
              (known.empty() ? "none; no plugin providing one is loaded" : known) + ")" + search_note());
}

HostBuildContext::HostBuildContext(const PluginHost& host, std::string name_, int input_size_, uint64_t seed_,
                                   std::string base_dir_)
    : host_(host) {
  name = std::move(name_);
  input_size = input_size_;
  seed = seed_;
  base_dir = std::move(base_dir_);
}

}  // namespace unroll
