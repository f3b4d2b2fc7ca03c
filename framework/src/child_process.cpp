#include "unroll/host/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/host/fatal_signal.hpp"

extern char** environ;

namespace unroll {

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int sig) { g_stop = sig; }
}  // namespace

std::string ChildExit::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  std::string s =
      "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ": " + signal_text(signal) + ")";
  if (core_dumped) s += ", core dumped";
  return s;
}

ChildExit decode_wait_status(int status) {
  ChildExit e;
  if (WIFEXITED(status)) {
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.signal = WTERMSIG(status);
    e.core_dumped = WCOREDUMP(status);
  }
  return e;
}

pid_t spawn_guarded(const std::vector<std::string>& argv, const std::string& stderr_path, bool append) {
  if (argv.empty()) throw Error("spawn_guarded: no program");
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the parent may have other threads).
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int err_flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  const int err_fd = ::open(stderr_path.c_str(), err_flags, 0644);
  if (err_fd < 0) throw Error("cannot open " + stderr_path + ": " + std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  // A pipe that closes on exec tells the parent whether exec worked (and its errno if not).
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(err_fd);
    if (null_fd >= 0) ::close(null_fd);
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(err_fd);
    if (null_fd >= 0) ::close(null_fd);
    ::close(report[0]);
    ::close(report[1]);
    throw Error("cannot start " + argv[0] + ": fork: " + std::strerror(e));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    // The parent's handlers and blocked signals must not leak into the run.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (null_fd >= 0) ::dup2(null_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(cargv[0], cargv.data(), environ);
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  // Set the group from the parent too, so signal_child_group works even before the child ran.
  ::setpgid(pid, pid);
  ::close(err_fd);
  if (null_fd >= 0) ::close(null_fd);
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do n = ::read(report[0], &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int st;
    ::waitpid(pid, &st, 0);
    throw Error("cannot start " + argv[0] + ": " + std::strerror(child_errno));
  }
  return pid;
}

void signal_child_group(pid_t pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);  // the group may not exist yet or any more
}

bool wait_child(pid_t pid, double seconds, int* status) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) {
      *status = 0;
      return true;  // not our child (any more): nothing to wait for
    }
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns to look at the flag
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
}

int stop_requested() { return g_stop; }

long long process_start_ticks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!f || !std::getline(f, text)) return -1;
  // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return -1;
    if (i == 3 && (field == "Z" || field == "X")) return -1;  // a zombie has already died
  }
  try {
    return std::stoll(field);
  } catch (...) {
    return -1;
  }
}

}  // namespace unroll
