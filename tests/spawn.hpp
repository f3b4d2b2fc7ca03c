#pragma once
// Test helpers that run the real `unroll` executable (build/bin/unroll) as a child process, for
// the tests of what a run leaves behind when it fails or is killed, and shell commands (mpirun,
// Slurm, cmake) for the tests that drive the installed tools. Defined in support.cpp.
#include <string>
#include <vector>

namespace unroll::testing {

/// build/bin/unroll of the build tree these tests belong to.
const std::string& unroll_exe();

/// Exit code of a shell command (-1 when a signal ended it) and what it printed, stdout and
/// stderr together.
struct ShellResult {
  int code = -1;
  std::string out;
};
/// Run `cmd` with /bin/sh and wait for it; throws when the shell cannot be started.
ShellResult shell(const std::string& cmd);
/// `s` in single quotes, for a shell command line (test paths hold no single quote).
std::string shell_quote(const std::string& s);
/// "env ASAN_OPTIONS='...:detect_leaks=0' ", to put before a command that starts MPI ranks (mpirun,
/// srun). In the sanitized suite the ranks run without LeakSanitizer: Open MPI does not free what
/// MPI_Init allocates (libmpi, hwloc, PMIx, and the components it dlopens and unloads again at
/// MPI_Finalize, whose frames LeakSanitizer can no longer name, so no suppression list can match
/// them). Address and undefined-behaviour checks stay on, and unroll's own code runs leak-checked
/// in every one-process test. Harmless in a build without sanitizers.
std::string ranks_without_leak_check();

/// Start build/bin/unroll with `args` (stdout and stderr to log_path; stdout to stdout_fd
/// instead when it is >= 0) and return its pid. With `own_group` it leads a process group of its
/// own (pid == pgid), which a test can signal as a terminal's Ctrl-C does: kill(-pid, SIGINT).
int spawn_unroll(const std::vector<std::string>& args, const std::string& log_path, int stdout_fd = -1,
                 bool own_group = false);
/// Wait for a spawned process; returns the raw waitpid status.
int wait_for(int pid);
/// spawn_unroll + wait_for: the exit code, or 128 + the signal that killed it.
int run_unroll(const std::vector<std::string>& args, const std::string& log_path);

}  // namespace unroll::testing
