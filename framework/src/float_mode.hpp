#pragma once
// Internal to the libraries (not a public header): the calling thread's treatment of subnormal
// floats. The thread pool applies one mode to every thread it runs work on (pool::
// set_flush_denormals, thread_pool.hpp); the host sets it for a run in configure_threads.

namespace unroll {

/// Flush-to-zero (a subnormal result becomes 0) and denormals-are-zero (a subnormal operand
/// reads as 0) on the calling thread, or IEEE gradual underflow again (on = false). x86-64:
/// the FTZ and DAZ bits of MXCSR; AArch64: FPCR.FZ; elsewhere nothing.
void set_thread_flush_denormals(bool on);

/// Whether the calling thread flushes subnormal floats to zero.
bool thread_flushes_denormals();

}  // namespace unroll
