#pragma once
// The plugin macro. A plugin library has exactly one registration function:
//
//   #include <unroll/plugin.hpp>
//   UNROLL_PLUGIN(registry) {
//     registry.add_layer(schema(), [](const unroll::Options& o, unroll::BuildContext& c) { ... });
//   }
//
// It exports two symbols through Boost.DLL: `unroll_plugin_info` (API version + ABI fingerprint,
// checked by the host BEFORE anything else is called) and `unroll_register` (noexcept: an
// exception never crosses the library boundary; its message is returned instead). There are no
// static-initializer registries: the linker can drop those silently, and they cannot report a
// failure to the host.
#include <boost/dll/alias.hpp>
#include <exception>
#include <string>

#include "unroll/registry.hpp"
#include "unroll/version.hpp"

namespace unroll {

/// Plain C data, so the host can read it whatever else differs.
struct PluginInfo {
  int api_version;
  const char* abi_fingerprint;
};

using PluginInfoFn = const PluginInfo*();
using PluginRegisterFn = const char*(Registry&);  // nullptr on success, else an error message

}  // namespace unroll

#define UNROLL_PLUGIN(registry_var)                                                  \
  static void unroll_plugin_body(::unroll::Registry& registry_var);                  \
  namespace unroll_plugin_entry {                                                    \
  const ::unroll::PluginInfo* info() noexcept {                                      \
    static const ::unroll::PluginInfo i{UNROLL_API_VERSION, UNROLL_ABI_FINGERPRINT}; \
    return &i;                                                                       \
  }                                                                                  \
  const char* do_register(::unroll::Registry& r) noexcept {                          \
    static std::string message;                                                      \
    try {                                                                            \
      unroll_plugin_body(r);                                                         \
      return nullptr;                                                                \
    } catch (const std::exception& e) {                                              \
      message = e.what();                                                            \
    } catch (...) {                                                                  \
      message = "unknown exception";                                                 \
    }                                                                                \
    return message.c_str();                                                          \
  }                                                                                  \
  }                                                                                  \
  BOOST_DLL_ALIAS(unroll_plugin_entry::info, unroll_plugin_info)                     \
  BOOST_DLL_ALIAS(unroll_plugin_entry::do_register, unroll_register)                 \
  static void unroll_plugin_body(::unroll::Registry& registry_var)
