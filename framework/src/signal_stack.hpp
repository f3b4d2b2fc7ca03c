#pragma once
// Internal to the libraries (not a public header): the alternate signal stack each thread needs
// for a stack overflow on it to be reported (the host's fatal-signal handler runs on it; see
// unroll/host/fatal_signal.hpp). The thread pool's workers and the main thread install one.

namespace unroll {

/// Give the calling thread its own 64 KiB alternate signal stack (once; freed when the thread ends).
void install_signal_stack();

}  // namespace unroll
