#pragma once
// provenance.json in every run folder: what produced the run, so that it can be proven later —
// the unroll version and source commit (with a dirty flag), build type and flags, compiler and
// library versions, every plugin library loaded (path, SHA-256, API version), the machine (host
// name, CPU model, cores), the full command line, start and end time, and every data file the
// data block names (path, size, SHA-256). File hashes are cached by path, size and
// modification time in $XDG_CACHE_HOME/unroll/sha256.json (default ~/.cache/unroll), so a large
// data file is hashed once, not at every run.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "unroll/host/experiment.hpp"

namespace unroll {
class PluginHost;
}

namespace unroll::cli {

/// SHA-256 of a file as 64 hex digits (OpenSSL), through the cache described above.
std::string file_sha256(const std::string& path);

/// Written when a run starts (status "running") and again when it ends, with the end time and
/// the run's status; both writes are atomic. A resumed run's record keeps the earlier ones in
/// its `previous` list.
class Provenance {
 public:
  Provenance(const std::string& run_dir, const Experiment& exp, const PluginHost& host,
             const std::vector<std::string>& command_line);
  /// Record the end: status "completed", "interrupted" or "failed".
  void finish(const std::string& status);
  /// Add `key` to the record and write it (a continuation's changes: "continued").
  void record(const std::string& key, const nlohmann::json& value);

 private:
  void write() const;
  std::string path_;
  nlohmann::json j_;
};

}  // namespace unroll::cli
