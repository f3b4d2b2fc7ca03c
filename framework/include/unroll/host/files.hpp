#pragma once
// Atomic file output: every result file is written to a temporary name in the same folder and
// renamed into place, so an interrupted run never leaves a half-written file.
#include <string>

namespace unroll {

/// Write `content` to path.tmpPID and rename it to `path`. Errors name the file and the errno
/// text ("No space left on device (errno 28)"); the temporary file is removed on any failure.
void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace unroll
