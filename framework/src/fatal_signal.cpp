#include "unroll/host/fatal_signal.hpp"

#include "signal_stack.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/stacktrace.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "unroll/host/run_marker.hpp"

namespace unroll {

namespace {

constexpr int kPath = 4096;
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

// Everything the handler needs, prepared by arm_fatal_signal_report.
char g_summary[kPath], g_summary_tmp[kPath], g_log[kPath], g_stack[kPath];
char g_name_json[512];                   // the run name, already JSON-escaped
char g_out[16384];                       // the summary being composed
volatile sig_atomic_t g_in_handler = 0;  // a fault inside the handler itself

// Appending into fixed buffers without allocating (async-signal-safe).
struct Buf {
  char* data;
  int size, pos = 0;
  void add(const char* s) {
    for (int i = 0; s[i] && pos < size - 1; ++i) data[pos++] = s[i];
    data[pos] = '\0';
  }
  void add_json(const char* s) {  // s as the inside of a JSON string
    for (int i = 0; s[i] && pos < size - 8; ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        data[pos++] = '\\';
        data[pos++] = static_cast<char>(c);
      } else if (c < 0x20) {
        const char hex[] = "0123456789abcdef";
        data[pos++] = '\\';
        data[pos++] = 'u';
        data[pos++] = '0';
        data[pos++] = '0';
        data[pos++] = hex[c >> 4];
        data[pos++] = hex[c & 15];
      } else {
        data[pos++] = static_cast<char>(c);
      }
    }
    data[pos] = '\0';
  }
  void add_hex(unsigned long v) {
    char d[24];
    int n = 0;
    do {
      d[n++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v && n < 20);
    add("0x");
    char r[24];
    for (int i = 0; i < n; ++i) r[i] = d[n - 1 - i];
    r[n] = '\0';
    add(r);
  }
};

void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;  // nothing more can be done inside a signal handler
    s += w;
    n -= static_cast<size_t>(w);
  }
}

extern "C" void on_fatal_signal(int sig, siginfo_t* info, void*) {
  // SA_RESETHAND restored the default action on entry: a fault inside this handler kills at once.
  if (g_in_handler) {
    ::raise(sig);
    return;
  }
  g_in_handler = 1;
  const marker::Mark& m = marker::current();
  char phase[marker::kPhaseChars + 24], component[160];
  marker::format_phase(m, phase, sizeof phase);
  marker::format_component(m, component, sizeof component);

  // The reason, as one line.
  static char reason[1024];
  Buf r{reason, sizeof reason};
  r.add("fatal signal ");
  r.add(signal_name(sig));
  if ((sig == SIGSEGV || sig == SIGBUS) && info) {
    r.add(" at address ");
    r.add_hex(reinterpret_cast<unsigned long>(info->si_addr));
  }
  r.add(" (");
  r.add(signal_text(sig));
  r.add(") during ");
  r.add(phase);
  if (component[0]) {
    r.add(", in ");
    r.add(component);
  }

  // 1. The raw frames, for the supervisor to symbolize.
  boost::stacktrace::safe_dump_to(0, 128, g_stack);

  // 2. summary.json, written to a temporary name and renamed like every result file.
  Buf j{g_out, sizeof g_out};
  j.add("{\n  \"name\": \"");
  j.add(g_name_json);
  j.add("\",\n  \"status\": \"crashed\",\n  \"stop_reason\": \"crashed\",\n  \"error\": \"");
  j.add_json(reason);
  j.add("\",\n  \"signal\": \"");
  j.add(signal_name(sig));
  j.add("\",\n  \"phase\": \"");
  j.add_json(phase);
  j.add("\",\n  \"component\": \"");
  j.add_json(component);
  j.add("\"\n}\n");
  int fd = ::open(g_summary_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    write_all(fd, g_out, static_cast<size_t>(j.pos));
    ::close(fd);
    if (::rename(g_summary_tmp, g_summary) != 0) ::unlink(g_summary_tmp);
  }

  // 3. A line in log.txt.
  fd = ::open(g_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    write_all(fd, "fatal: ", 7);
    write_all(fd, reason, std::strlen(reason));
    write_all(fd, "\n", 1);
    ::close(fd);
  }
  write_all(STDERR_FILENO, "fatal: ", 7);
  write_all(STDERR_FILENO, reason, std::strlen(reason));
  write_all(STDERR_FILENO, "\n", 1);

  // 4. Die of the signal: it is blocked while the handler runs and delivered (with the default
  // action) when it returns; a hardware fault would also simply recur.
  ::raise(sig);
}

void set_path(char* dst, const std::string& s) {
  std::strncpy(dst, s.c_str(), kPath - 1);
  dst[kPath - 1] = '\0';
}

}  // namespace

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGHUP: return "SIGHUP";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "an unexpected signal";
  }
}

const char* signal_text(int sig) {
  switch (sig) {
    case SIGSEGV: return "segmentation fault: an invalid memory access, or a stack overflow";
    case SIGBUS: return "bus error: a misaligned access or a mapped file that shrank";
    case SIGFPE: return "arithmetic exception: an integer division by zero";
    case SIGILL: return "illegal instruction: code built for another CPU, or a corrupted return address";
    case SIGABRT: return "abort: a failed assert, std::terminate or a detected heap corruption";
    case SIGKILL: return "killed: the out-of-memory killer, a scheduler's time limit, or kill -9";
    case SIGXCPU: return "CPU time limit exceeded";
    case SIGXFSZ: return "file size limit exceeded";
    default: return "terminated by a signal";
  }
}

void arm_fatal_signal_report(const std::string& run_dir, const std::string& run_name) {
  set_path(g_summary, run_dir + "/summary.json");
  set_path(g_summary_tmp, run_dir + "/summary.json.crash.tmp");
  set_path(g_log, run_dir + "/log.txt");
  set_path(g_stack, run_dir + "/crash.stack");
  Buf n{g_name_json, sizeof g_name_json};
  n.add_json(run_name.c_str());
  install_signal_stack();
  // Resolve the unwinder now: its first use loads libgcc_s, which must not happen in the handler.
  boost::stacktrace::stacktrace warm_up(0, 1);
  (void)warm_up;
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : kSignals) ::sigaction(sig, &sa, nullptr);
  g_in_handler = 0;
}

void disarm_fatal_signal_report() {
  for (int sig : kSignals) ::signal(sig, SIG_DFL);
}

std::string format_crash_stack(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  boost::stacktrace::stacktrace st = boost::stacktrace::stacktrace::from_dump(in);
  std::ostringstream out;
  for (size_t i = 0; i < st.size(); ++i) {
    const auto& f = st[i];
    out << "  #" << i << " " << f.address();
    const std::string name = f.name();
    if (!name.empty()) out << " in " << name;
    const std::string file = f.source_file();
    if (!file.empty()) out << " at " << file << ":" << f.source_line();
    out << "\n";
    // A stack overflow is one frame repeated thousands of times: say so once.
    size_t same = 0;
    while (i + same + 1 < st.size() && st[i + same + 1].address() == f.address()) ++same;
    if (same > 1) {
      out << "  ... the frame above " << same << " more times\n";
      i += same;
    }
  }
  return out.str();
}

}  // namespace unroll
