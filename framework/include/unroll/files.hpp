#pragma once
// Files: atomic output — every result file is written to a temporary name in the same folder and
// renamed into place, so an interrupted run never leaves a half-written file — and the one rule
// for a relative path in an option. Plugins that read or write files (a dataset's data, its
// cache) use the same functions.
#include <string>

namespace unroll {

/// Write `content` to path.tmpPID and rename it to `path`. Errors name the file and the errno
/// text ("No space left on device (errno 28)"); the temporary file is removed on any failure.
void write_file_atomic(const std::string& path, const std::string& content);
/// The whole content of a file; Error naming it when it cannot be read.
std::string read_file(const std::string& path);
/// Flush a file's (or, with `directory`, a folder's entries') data to the disk. A save made of
/// several files and renames is complete only once they and the folder naming them are, or a
/// power cut after the rename could leave empty files. Error naming the path and the errno text.
void sync_path(const std::string& path, bool directory);
/// A path given in an option, as a component should open it: relative paths are taken from
/// `base_dir` (BuildContext::base_dir, the experiment file's folder), so an experiment reads the
/// same files whatever folder `unroll` runs in; an absolute path, an empty path ("not given") or
/// an empty base_dir leave it as written.
std::string resolve_path(const std::string& path, const std::string& base_dir);

}  // namespace unroll
