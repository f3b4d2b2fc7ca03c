#include "interrupt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "unroll/host/trainer.hpp"

namespace unroll {

namespace {

volatile std::sig_atomic_t g_interrupt = 0;

// Prepared before training: a signal handler may only call async-signal-safe functions (open,
// write, close), so the path and the text are ready in plain buffers.
char g_note_path[4096] = "";
char g_note[1024] = "";

extern "C" void on_interrupt_signal(int sig) {
  g_interrupt = sig;
  std::signal(sig, SIG_DFL);  // a second signal kills as usual
  if (g_note_path[0]) {
    const int fd = ::open(g_note_path, O_WRONLY | O_APPEND);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, g_note, std::strlen(g_note));
      ::close(fd);
    }
  }
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_interrupt_signal);
  std::signal(SIGTERM, on_interrupt_signal);
}
void request_interrupt() { g_interrupt = SIGINT; }
void clear_interrupt() { g_interrupt = 0; }
int interrupt_requested() { return g_interrupt; }

void note_signal_in(const std::string& path, const std::string& note) {
  std::snprintf(g_note_path, sizeof g_note_path, "%s", path.c_str());
  std::snprintf(g_note, sizeof g_note, "%s", note.c_str());
}

}  // namespace unroll
