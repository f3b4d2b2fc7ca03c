#pragma once
// The run folder's life cycle before training starts: refusing to overwrite a previous run,
// clearing one on --force, and a lock so that two processes never write the same folder.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace unroll {

/// The files and folders a run writes into its folder (what --force removes; nothing else in
/// the folder is touched).
const std::vector<std::string>& run_output_names();

/// The outputs of an earlier run found in `dir`, each as "NAME" or "summary.json (status S)";
/// empty when there are none (or `dir` does not exist).
std::vector<std::string> existing_run_outputs(const std::string& dir);

/// Make `dir` ready for a new run. Without `force`, a folder holding an earlier run's outputs is
/// refused (Error naming them and the two ways on: --force, or --resume). Creates the folder;
/// errors name the path and the errno text. Call clear_run_outputs after taking the lock.
void prepare_run_folder(const std::string& dir, bool force);

/// --force: remove an earlier run's outputs (run_output_names() and temporary files), so that no
/// old summary.json or checkpoint can be mistaken for the new run's.
void clear_run_outputs(const std::string& dir);

/// An exclusive lock on DIR/.lock (flock), held for the object's lifetime and by any child forked
/// meanwhile, and released by the kernel when the last holder dies (even of SIGKILL). A second
/// run or --resume of the same folder waits up to `wait_seconds` for it, then refuses, naming the
/// process that holds it.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& dir, double wait_seconds = 5.0);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

/// A run killed between the two renames of a checkpoint save (checkpoint -> checkpoint.old,
/// checkpoint.tmp -> checkpoint) has no checkpoint/ but a complete copy: put it back, the new one
/// (checkpoint.tmp, complete once its manifest.json exists, which is written last) before the old.
/// Same for best/. Returns what it did, for the log ("" if nothing).
std::string recover_checkpoint_swap(const std::string& dir);

/// After a run process died mid-write: recover_checkpoint_swap, then remove what its writes left
/// (the checkpoint.tmp/.old and best.tmp/.old recovery did not use, FILE.tmpPID files), so that a
/// killed run does not keep a nearly full disk full. Returns recover_checkpoint_swap's note.
std::string clean_interrupted_writes(const std::string& dir);

/// Write DIR/summary.json with status "running" (and the pid, start time and the folder that
/// relative paths resolve against): a run that dies without recording its end still says that
/// it never finished. The `continued` list of the summary it replaces is kept, with
/// `continuation` (continuation.hpp) appended unless it is null.
void write_running_summary(const std::string& dir, const std::string& name, const std::string& base_dir,
                           const nlohmann::json& continuation = nullptr);

/// The `continued` list of DIR/summary.json: one record per continuation of the run (an empty
/// array when there is none or the summary is unreadable). Every summary.json written keeps it.
nlohmann::json recorded_continuations(const std::string& dir);

/// The base_dir recorded by write_running_summary (kept by later summaries written on failure),
/// "" when there is none: what a run stopped before its first checkpoint resolves paths against.
std::string recorded_base_dir(const std::string& dir);

}  // namespace unroll
