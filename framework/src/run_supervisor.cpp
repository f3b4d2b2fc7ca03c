#include "unroll/host/run_supervisor.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "unroll/error.hpp"
#include "unroll/host/fatal_signal.hpp"
#include "unroll/host/run_failure.hpp"
#include "unroll/host/run_folder.hpp"
#include "unroll/host/run_marker.hpp"
#include "unroll/host/trainer.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {

volatile sig_atomic_t g_child = 0, g_parent = 0, g_stop_requests = 0;  // read and written by handlers

// Installed before the fork, so the child inherits it until it installs its own handlers: in
// the child (getpid() differs) a signal is simply a stop request.
extern "C" void on_parent_signal(int) {
  if (::getpid() != g_parent || g_child <= 0) {
    request_interrupt();
    return;
  }
  g_stop_requests = g_stop_requests + 1;
  ::kill(g_child, g_stop_requests == 1 ? SIGUSR1 : SIGKILL);
}

extern "C" void on_stop_request(int) { request_interrupt(); }

std::string exit_description(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return std::string("killed by ") + signal_name(sig) + " (" + signal_text(sig) + ")";
  }
  return "the run process exited with status " + std::to_string(WEXITSTATUS(status)) +
         " before the run finished (a plugin called exit() or _Exit()?)";
}

// The parent's post-mortem of a child that did not record its own end.
int record_unfinished_child(const std::string& dir, int status, const marker::Mark& mark) {
  const bool signaled = WIFSIGNALED(status);
  const int sig = signaled ? WTERMSIG(status) : 0;
  const bool stopped = g_stop_requests > 0 || sig == SIGINT || sig == SIGTERM;
  char phase[marker::kPhaseChars + 24], component[160];
  marker::format_phase(mark, phase, sizeof phase);
  marker::format_component(mark, component, sizeof component);

  // The crash handler's frames, symbolized here (same address layout: a fork of this process).
  const std::string stack_file = dir + "/crash.stack";
  std::error_code ec;
  if (fs::exists(stack_file, ec)) {
    best_effort("append the stack trace to log.txt", [&] {
      const std::string trace = format_crash_stack(stack_file);
      std::ofstream log(dir + "/log.txt", std::ios::app);
      log << "stack trace of the crash (innermost first):\n" << trace;
      if (!log.flush()) throw Error("cannot append to " + dir + "/log.txt");
      fs::remove(stack_file);
    });
  }

  // What the dead process was writing goes, so that it cannot keep a nearly full disk full.
  best_effort("clean up after the run process", [&] { clean_interrupted_writes(dir); });

  const std::string reason =
      exit_description(status) + " during " + phase + (component[0] ? std::string(", in ") + component : std::string());
  if (stopped) {
    record_run_failure(dir, "interrupted", "stopped before the checkpoint was saved: " + reason);
    std::fprintf(stderr, "interrupted: resume with `unroll run --resume %s`\n", dir.c_str());
    return kExitInterrupted;
  }
  // The fatal-signal handler may have written "crashed" already; otherwise (SIGKILL, exit(0), a
  // stack overflow on a thread without a signal stack) it is written here.
  record_run_failure(dir, "crashed", reason, "signal", signaled ? signal_name(sig) : "");
  std::fprintf(stderr,
               "error: the run crashed: %s\nthe last good checkpoint is kept: resume with `unroll run --resume %s`\n",
               reason.c_str(), dir.c_str());
  return kExitCrashed;
}

}  // namespace

int run_recording_failures(const std::string& run_dir, const std::function<int()>& train) {
  try {
    return train();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (summary_status(run_dir) == "diverged") return kExitDiverged;
    record_run_failure(run_dir, "failed", e.what());
    return kExitFailed;
  } catch (const std::exception& e) {
    const std::string where = marker::component_text();
    const std::string msg = std::string("internal error: ") + e.what() + " (an exception that is not an " +
                            "unroll::Error" + (where.empty() ? std::string() : ", from " + where) + " during " +
                            marker::phase_text() + ")";
    std::fprintf(stderr, "%s\n", msg.c_str());
    record_run_failure(run_dir, "failed", msg);
    return kExitInternal;
  }
}

int supervise_run(const std::string& run_dir, const std::string& run_name, const std::function<int()>& train,
                  bool fork_child) {
  // `unroll run ... | head -1`: a closed stdout must not kill the run; writes to it just fail.
  ::signal(SIGPIPE, SIG_IGN);
  if (!fork_child) {
    arm_fatal_signal_report(run_dir, run_name);
    const int code = run_recording_failures(run_dir, train);
    disarm_fatal_signal_report();
    return code;
  }

  marker::Mark* mark = marker::share();
  mark->finished = 0;
  g_parent = ::getpid();
  g_child = 0;
  g_stop_requests = 0;
  struct sigaction sa {};
  sa.sa_handler = on_parent_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  std::fflush(nullptr);  // nothing buffered may be written twice

  const pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("cannot start the run process: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // The child dies with the parent, so no run can outlive `unroll run` unnoticed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != g_parent) ::_exit(kExitCrashed);
    ::signal(SIGUSR1, on_stop_request);
    install_interrupt_handlers();
    arm_fatal_signal_report(run_dir, run_name);
    const int code = run_recording_failures(run_dir, train);
    mark->finished = 1;
    // A normal exit: static destructors write what they hold (UNROLL_GEMM_PROFILE's file).
    std::exit(code);
  }
  g_child = pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waiting for the run process failed: ") + std::strerror(errno));
  g_child = 0;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (WIFEXITED(status) && mark->finished) return WEXITSTATUS(status);
  if (mark->finished) {  // its end is recorded; only the exit after it failed
    std::fprintf(stderr, "warning: the run process died while exiting: %s\n", exit_description(status).c_str());
    return kExitCrashed;
  }
  return record_unfinished_child(run_dir, status, *mark);
}

}  // namespace unroll
