#pragma once
// API version and ABI fingerprint. A plugin records both at compile time; the host compares
// them with its own before calling anything in the library. The fingerprint lists every build
// setting that changes the layout of what crosses the boundary (DESIGN.md, trap 3).
#include <Eigen/Core>

/// Bump whenever a public header changes a class layout or a virtual function.
#define UNROLL_API_VERSION 1

#define UNROLL_STR2(x) #x
#define UNROLL_STR(x) UNROLL_STR2(x)

#if defined(_GLIBCXX_DEBUG)
#define UNROLL_ABI_GLIBCXX_DEBUG "1"
#else
#define UNROLL_ABI_GLIBCXX_DEBUG "0"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define UNROLL_ABI_CXX11 UNROLL_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define UNROLL_ABI_CXX11 "none"
#endif

#define UNROLL_ABI_FINGERPRINT                                                                   \
  "cxx11_abi=" UNROLL_ABI_CXX11 ";glibcxx_debug=" UNROLL_ABI_GLIBCXX_DEBUG                      \
  ";eigen=" UNROLL_STR(EIGEN_WORLD_VERSION) "." UNROLL_STR(EIGEN_MAJOR_VERSION) "." UNROLL_STR(  \
      EIGEN_MINOR_VERSION) ";eigen_max_align=" UNROLL_STR(EIGEN_MAX_ALIGN_BYTES) ";scalar=float"  \
  ";pointer=" UNROLL_STR(__SIZEOF_POINTER__)
