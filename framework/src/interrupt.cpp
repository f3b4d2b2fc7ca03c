#include "interrupt.hpp"

#include <csignal>

#include "unroll/host/trainer.hpp"

namespace unroll {

namespace {

volatile std::sig_atomic_t g_interrupt = 0;

extern "C" void on_interrupt_signal(int sig) {
  g_interrupt = sig;
  std::signal(sig, SIG_DFL);  // a second signal kills as usual
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_interrupt_signal);
  std::signal(SIGTERM, on_interrupt_signal);
}
void request_interrupt() { g_interrupt = SIGINT; }
void clear_interrupt() { g_interrupt = 0; }
int interrupt_requested() { return g_interrupt; }

}  // namespace unroll
