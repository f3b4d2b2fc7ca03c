#pragma once
// Test helpers for the files a test writes and the JSON files unroll writes (summaries,
// manifests, reports).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "unroll/files.hpp"

namespace unroll::testing {

/// Write `text` to `path`, making its folder first (a test's experiment files, sweep levels).
inline void write(const std::string& path, const std::string& text) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream(path) << text;
}

/// A JSON file parsed; unroll::Error naming the file when it cannot be read.
inline nlohmann::json json_of(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

}  // namespace unroll::testing
