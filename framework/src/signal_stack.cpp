// install_signal_stack (signal_stack.hpp). In the plugin API library because the thread pool
// (parallel.hpp) gives each worker a stack when it starts; the handler that uses it is the
// host's (fatal_signal.cpp).
#include "signal_stack.hpp"

#include <signal.h>

#include <vector>

namespace unroll {

void install_signal_stack() {
  // One stack per thread, freed (after being switched off) when the thread ends.
  struct AltStack {
    std::vector<char> memory;
    ~AltStack() {
      if (memory.empty()) return;
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
  };
  thread_local AltStack alt;
  if (!alt.memory.empty()) return;
  alt.memory.resize(64 * 1024);
  stack_t ss{};
  ss.ss_sp = alt.memory.data();
  ss.ss_size = alt.memory.size();
  ss.ss_flags = 0;
  if (::sigaltstack(&ss, nullptr) != 0) alt.memory.clear();
}

}  // namespace unroll
