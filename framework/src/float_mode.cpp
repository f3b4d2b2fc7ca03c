#include "float_mode.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace unroll {

#if defined(__x86_64__) || defined(__i386__)
namespace {
constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;  // MXCSR bits 15 and 6
}

void set_thread_flush_denormals(bool on) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | kFtz | kDaz) : (csr & ~(kFtz | kDaz)));
}

bool thread_flushes_denormals() { return (_mm_getcsr() & (kFtz | kDaz)) == (kFtz | kDaz); }

#elif defined(__aarch64__)
namespace {
constexpr unsigned long kFz = 1ul << 24;  // FPCR.FZ: flushes subnormal inputs and results
}

void set_thread_flush_denormals(bool on) {
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  fpcr = on ? (fpcr | kFz) : (fpcr & ~kFz);
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}

bool thread_flushes_denormals() {
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (fpcr & kFz) != 0;
}

#else
void set_thread_flush_denormals(bool) {}
bool thread_flushes_denormals() { return false; }
#endif

}  // namespace unroll
