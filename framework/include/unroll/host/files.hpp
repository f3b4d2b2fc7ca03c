#pragma once
// Atomic file output: every result file is written to a temporary name in the same folder and
// renamed into place, so an interrupted run never leaves a half-written file.
#include <string>

namespace unroll {

void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace unroll
