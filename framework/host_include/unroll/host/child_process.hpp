#pragma once
// Child processes that cannot outlive the process that started them (a sweep and its runs).
//
// Every child is started in its own process group, with PR_SET_PDEATHSIG = SIGTERM: if the
// parent dies for any reason, even SIGKILL, the kernel sends the child SIGTERM, and `unroll run`
// answers SIGTERM by checkpointing and exiting with status "interrupted", so nothing is lost and
// the next sweep resumes it. On an orderly stop (SIGINT/SIGTERM/SIGHUP to the sweep, or an
// exception), the parent signals each child's whole process group itself.
#include <sys/types.h>

#include <string>
#include <vector>

namespace unroll {

/// How a child ended, decoded from waitpid's status.
struct ChildExit {
  bool signaled = false;  // killed by a signal (then `signal` is set, `code` is -1)
  int code = -1;          // exit code when !signaled
  int signal = 0;
  bool core_dumped = false;
  /// "exit code 1", or "killed by signal 11 (SIGSEGV: segmentation fault: ...), core dumped"
  /// (names and texts from host/fatal_signal.hpp).
  std::string describe() const;
};
ChildExit decode_wait_status(int status);

/// Start `argv` (argv[0] is the executable's path) with stdout sent to /dev/null and stderr
/// written to `stderr_path` (truncated, or appended to with `append`). The child gets its own
/// process group (its pid) and PR_SET_PDEATHSIG = SIGTERM; it exits with 127 at once if its
/// parent is already gone. Throws unroll::Error when fork or exec fails (with the errno text).
pid_t spawn_guarded(const std::vector<std::string>& argv, const std::string& stderr_path, bool append = false);

/// Send `sig` to the process group of a child started by spawn_guarded (no error if it is gone).
void signal_child_group(pid_t pid, int sig);

/// Wait for `pid` up to `seconds`; on success store its waitpid status and return true.
bool wait_child(pid_t pid, double seconds, int* status);

/// Stop requests: SIGINT, SIGTERM and SIGHUP set a flag instead of killing the process, so a
/// sweep can pass the signal on to its children and record them before it exits.
void install_stop_handlers();
/// The signal that requested a stop, or 0.
int stop_requested();

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or -1
/// when there is no such live process (a zombie counts as dead). With the pid it identifies a
/// process across pid reuse.
long long process_start_ticks(pid_t pid);

}  // namespace unroll
