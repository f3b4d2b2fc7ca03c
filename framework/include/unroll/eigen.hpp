#pragma once
// Eigen, included once for the whole tree: every file that uses Eigen includes this header
// (before any other Eigen module it needs, such as <Eigen/QR>), never <Eigen/Core> directly.
//
// Why: GCC 12 reports -Wmaybe-uninitialized in its own avx512fintrin.h wherever Eigen's AVX-512
// code is inlined (-march=native on an AVX-512 CPU). Those intrinsics start from
// _mm512_undefined_ps() on purpose, so the report is a false positive (GCC bug 105593, fixed in
// GCC 13). GCC places a diagnostic at the line of the header where the inlined code was written,
// and a diagnostic pragma applies to the lines it encloses: with the intrinsics headers first
// read here, inside push/ignored/pop, the warning is silenced for Eigen's inlined intrinsics and
// for nothing else — every other file keeps -Wmaybe-uninitialized as an error under -Werror.
// Clang has no such warning (and would warn about the unknown name), hence the GCC-only guard.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#else
#include <Eigen/Core>
#endif
