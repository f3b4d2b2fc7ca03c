#pragma once
// API version and ABI fingerprint. A plugin records both at compile time; the host compares
// them with its own before calling anything in the library. The fingerprint lists every build
// setting that changes the layout of what crosses the boundary or the instructions the code may
// use: a plugin built with another libstdc++ string ABI, _GLIBCXX_DEBUG, Eigen version or
// alignment would pass objects whose layout the host reads differently, and a plugin compiled
// with -march=native on one CPU can crash with an illegal instruction on another (Eigen's
// vectorization, and so its alignment, follows the instruction set).
#include "unroll/eigen.hpp"

/// Bump whenever a public header changes a class layout or a virtual function.
///   2: ScheduleState carries the run's length (total_epochs, total_steps).
///   3: Param::blocks, per-block initializers applied on a parameter's rows.
///   4: Dataset::class_names() and feature_names() (what predict needs to write labels and read CSV columns).
///   5: Registry is the adding side only (an abstract class the host implements); plugins link
///      libunroll_api.so, not the whole host library. DatasetInfo::input_vocab,
///      Dataset::vocabulary(), GradCheckOptions::index_inputs (token inputs, embeddings).
///   6: Optimizer::elementwise() and step_range(), Regularizer::changes_gradients(),
///      Communicator::reduce_scatter_sum() and allgather() (the sharded optimizer step).
///   7: LayerFootprint::state_floats (the memory estimate under train.bptt.memory), and
///      Node::validated(): a block records that validation produced it, so the host validates
///      each initializer block once.
///   8: PackedMatrix and gemm on it (a recurrent layer packs U once per pass), fill_columns and
///      copy_matrix (linalg.hpp).
#define UNROLL_API_VERSION 8

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

// The target instruction set, as the compiler's predefined macros tell it: the architecture
// and the vector extensions Eigen and the compiler's own code may use. -DUNROLL_NATIVE=OFF
// builds for the x86-64 baseline (SSE2), which every x86-64 CPU runs.
#if defined(__x86_64__)
#define UNROLL_ISA_ARCH "x86-64"
#elif defined(__aarch64__)
#define UNROLL_ISA_ARCH "aarch64"
#else
#define UNROLL_ISA_ARCH "other"
#endif
#if defined(__SSE4_2__)
#define UNROLL_ISA_SSE42 "+sse4.2"
#else
#define UNROLL_ISA_SSE42 ""
#endif
#if defined(__AVX__)
#define UNROLL_ISA_AVX "+avx"
#else
#define UNROLL_ISA_AVX ""
#endif
#if defined(__AVX2__)
#define UNROLL_ISA_AVX2 "+avx2"
#else
#define UNROLL_ISA_AVX2 ""
#endif
#if defined(__FMA__)
#define UNROLL_ISA_FMA "+fma"
#else
#define UNROLL_ISA_FMA ""
#endif
#if defined(__AVX512F__)
#define UNROLL_ISA_AVX512 "+avx512f"
#else
#define UNROLL_ISA_AVX512 ""
#endif
/// "x86-64" for a portable build, "x86-64+sse4.2+avx+avx2+fma" for a typical -march=native one.
#define UNROLL_ISA UNROLL_ISA_ARCH UNROLL_ISA_SSE42 UNROLL_ISA_AVX UNROLL_ISA_AVX2 UNROLL_ISA_FMA UNROLL_ISA_AVX512

#define UNROLL_ABI_FINGERPRINT \
  "cxx11_abi=" UNROLL_ABI_CXX11 ";glibcxx_debug=" UNROLL_ABI_GLIBCXX_DEBUG                      \
  ";eigen=" UNROLL_STR(EIGEN_WORLD_VERSION) "." UNROLL_STR(EIGEN_MAJOR_VERSION) "." UNROLL_STR(  \
      EIGEN_MINOR_VERSION) ";eigen_max_align=" UNROLL_STR(EIGEN_MAX_ALIGN_BYTES) ";scalar=float"  \
  ";pointer=" UNROLL_STR(__SIZEOF_POINTER__) ";isa=" UNROLL_ISA
