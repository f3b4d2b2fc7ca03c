#include "unroll/host/huge_pages.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

// AddressSanitizer replaces malloc: GCC says so with __SANITIZE_ADDRESS__, clang with
// __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define UNROLL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNROLL_ASAN 1
#endif
#endif

namespace unroll {

namespace {
constexpr const char* kTunable = "glibc.malloc.hugetlb";

// The value GLIBC_TUNABLES gives glibc.malloc.hugetlb ("name=value" items separated by ':'),
// or nothing when it does not name it.
std::optional<std::string> tunable_value() {
  const char* all = std::getenv("GLIBC_TUNABLES");
  if (!all) return std::nullopt;
  std::istringstream items(all);
  std::optional<std::string> value;
  for (std::string item; std::getline(items, item, ':');)
    if (item.rfind(std::string(kTunable) + "=", 0) == 0) value = item.substr(std::string(kTunable).size() + 1);
  return value;  // the last one wins, as in glibc
}

// The kernel's transparent-huge-page mode: the bracketed word of "always [madvise] never".
std::string kernel_mode() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(f, line)) return "";
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close < open ? "" : line.substr(open + 1, close - open - 1);
}
}  // namespace

void restart_with_huge_pages(char** argv) {
  if (tunable_value()) return;
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload && std::string(preload).find("vgpreload") != std::string::npos) return;
  const char* old = std::getenv("GLIBC_TUNABLES");
  const std::string item = std::string(kTunable) + "=1";
  const std::string all = old && *old ? std::string(old) + ":" + item : item;
  // The program's own path, not /proc/self/exe: the kernel names a process after the file it
  // executes, and ps, pkill and the supervisor's check of its child look for "unroll".
  std::error_code e;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", e).string();
  if (e) return;
  setenv("GLIBC_TUNABLES", all.c_str(), 1);
  execv(self.c_str(), argv);
  // Still here: the exec failed. The tunable stays set, so a child this run starts gets it; this
  // process goes on with the pages it has.
}

std::string huge_pages_state() {
#ifdef UNROLL_ASAN
  return "AddressSanitizer's allocator (it does not ask for huge pages)";
#endif
  const std::string mode = kernel_mode();
  const std::optional<std::string> value = tunable_value();
  const std::string kernel = "the kernel's transparent huge pages: " + (mode.empty() ? "unknown" : mode);
  if (mode == "never") return "4 KiB pages (" + kernel + ")";
  if (mode == "always") return "large allocations on 2 MiB pages (" + kernel + ")";
  if (value && *value != "0")
    return "large allocations on 2 MiB pages (" + std::string(kTunable) + "=" + *value + ", " + kernel + ")";
  return "4 KiB pages (" +
         (value ? "GLIBC_TUNABLES sets " + std::string(kTunable) + "=0" : kTunable + std::string(" not set")) + ", " +
         kernel + ")";
}

double huge_pages_mb() {
  std::ifstream f("/proc/self/smaps_rollup");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("AnonHugePages:", 0) == 0) return std::atof(line.c_str() + 14) / 1024.0;  // in kB
  return 0;
}

}  // namespace unroll
