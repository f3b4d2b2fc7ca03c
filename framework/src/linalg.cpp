// Eigen's GEMM kernels, instantiated here once for the whole program, compiled for AVX-512
// (-march=native on such a CPU) make GCC 12 report -Wmaybe-uninitialized inside its own
// avx512fintrin.h: the intrinsics start from _mm512_undefined_ps() on purpose (GCC bug 105593,
// fixed in GCC 13). The warning is off for this file only, before any header is read, since the
// reports are located in the compiler's header and a narrower scope does not reach them.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "unroll/linalg.hpp"

#include <algorithm>
#include <chrono>

#include "gemm_profile.hpp"
#include "thread_pool.hpp"

namespace unroll {
namespace {
// The backend (below): Eigen with unroll's own threading, or OpenBLAS.
void gemm_impl(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta);
}  // namespace

void gemm(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  GemmProfile* profile = GemmProfile::get();
  if (!profile) return gemm_impl(C, A, ta, B, tb, alpha, beta);
  const auto t0 = std::chrono::steady_clock::now();
  gemm_impl(C, A, ta, B, tb, alpha, beta);
  profile->add(C.rows(), ta == Trans::No ? A.cols() : A.rows(), C.cols(), ta == Trans::Yes, tb == Trans::Yes,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

#ifdef UNROLL_OPENBLAS
// Optional backend (cmake -DUNROLL_OPENBLAS=ON): OpenBLAS's OpenMP variant, linked explicitly.
// Declared here rather than through cblas.h, which Debian ships for the reference BLAS.
extern "C" void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* A, int lda,
                            const float* B, int ldb, float beta, float* C, int ldc);
extern "C" void openblas_set_num_threads(int n);

namespace {
void gemm_impl(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  constexpr int kColMajor = 102, kNoTrans = 111, kTrans = 112;
  const int k = static_cast<int>(ta == Trans::No ? A.cols() : A.rows());
  if (C.size() == 0) return;
  if (k == 0) {
    if (beta == 0.0f)
      C.setZero();
    else
      C *= beta;
    return;
  }
  cblas_sgemm(kColMajor, ta == Trans::No ? kNoTrans : kTrans, tb == Trans::No ? kNoTrans : kTrans,
              static_cast<int>(C.rows()), static_cast<int>(C.cols()), k, alpha, A.data(),
              static_cast<int>(A.outerStride()), B.data(), static_cast<int>(B.outerStride()), beta, C.data(),
              static_cast<int>(C.outerStride()));
}
}  // namespace

void set_blas_threads(int n) { openblas_set_num_threads(n); }
#else
namespace {
// Threading policy, measured with tools/bench_gemm.cpp on 2 Zen 4 cores:
// - Eigen's own parallel GEMM shares packed panels between threads and spins on them; on the
//   MLP shapes the main thread spent ~13% of its perf samples waiting. Instead each thread of
//   unroll's pool (thread_pool.hpp) computes an independent slab of C with Eigen's
//   single-threaded kernel (the host is built without OpenMP, so Eigen never threads itself),
//   split along the dimension whose split duplicates the smaller packed operand; the only
//   synchronization is the join at the end.
// - A product under 0.5 MFLOP runs on one thread: the split (a region costs ~1.5 µs) would
//   cost more than it saves. The 10-class output layer of a batch of 128 (0.65 MFLOP, ~6 µs)
//   is split. A product is split even when another dimension is tiny (the 28-feature input
//   projection of all time steps of a sequence model), as long as each thread gets at least
//   kMinSlab rows or columns.
constexpr Eigen::Index kMinSlab = 32;
constexpr double kMinThreadedFlop = 5e5;

// C = beta * C + alpha * op(A) op(B) on one thread. beta is applied here, slab by slab, so the
// zeroing pass runs in parallel and leaves each slab in the cache of the thread that fills it.
//
// Always Eigen's blocked GEMM kernel, never `C += A * B`: for that expression Eigen picks a
// kernel by size — a coefficient-wise product when rows + cols + depth < 20, GEMV for one
// column, GEMM otherwise — and the three round differently (explicit FMA in the vector kernels,
// a separate multiply and add where the compiler does not contract the scalar code). A column's
// value then depended on how many columns the call had, so a recurrent time loop split 32 + 8
// over two threads differed from one thread's 40 in the last bits (seen under ASan + UBSan,
// whose code generation does not contract; -O3 hid it for those shapes, not for all). In the one
// kernel each element is the same k-ordered FMA chain whatever the call's width, so any column
// split gives the 1-thread bits. The cost is packing for tiny and one-column products, which
// are cheap either way.
template <int LhsOrder, int RhsOrder>
void gemm_kernel(MatRef C, ConstMatRef A, ConstMatRef B, Eigen::Index k, float alpha) {
  namespace ei = Eigen::internal;
  ei::gemm_blocking_space<Eigen::ColMajor, float, float, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic> blocking(
      C.rows(), C.cols(), k, 1, true);
  ei::general_matrix_matrix_product<Eigen::Index, float, LhsOrder, false, float, RhsOrder, false, Eigen::ColMajor,
                                    1>::run(C.rows(), C.cols(), k, A.data(), A.outerStride(), B.data(), B.outerStride(),
                                            C.data(), 1, C.outerStride(), alpha, blocking);
}

void product(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  if (beta == 0.0f)
    C.setZero();
  else if (beta != 1.0f)
    C *= beta;
  const Eigen::Index k = ta == Trans::No ? A.cols() : A.rows();
  if (C.size() == 0 || k == 0) return;
  // A transposed column-major operand is the same memory read row-major.
  constexpr int N = Eigen::ColMajor, T = Eigen::RowMajor;
  if (ta == Trans::No && tb == Trans::No)
    gemm_kernel<N, N>(C, A, B, k, alpha);
  else if (ta == Trans::Yes && tb == Trans::No)
    gemm_kernel<T, N>(C, A, B, k, alpha);
  else if (ta == Trans::No && tb == Trans::Yes)
    gemm_kernel<N, T>(C, A, B, k, alpha);
  else
    gemm_kernel<T, T>(C, A, B, k, alpha);
}

void gemm_impl(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  // noalias(): C never aliases A or B in unroll, and it lets Eigen write the product in place.
  const Eigen::Index m = C.rows(), n = C.cols(), k = ta == Trans::No ? A.cols() : A.rows();
  const int threads = pool::in_region() ? 1 : pool::threads();
  // Split rows of C (each thread packs its rows of op(A) and all of op(B)) or columns (all of
  // op(A), its columns of op(B)): duplicate whichever operand is smaller.
  const bool split_rows = m > n;
  const Eigen::Index len = split_rows ? m : n;
  if (threads <= 1 || len < threads * kMinSlab || 2.0 * m * n * k < kMinThreadedFlop)
    return product(C, A, ta, B, tb, alpha, beta);
  const Eigen::Index align = split_rows ? 16 : 4;
  pool::run(threads, [&](int t) {
    const Eigen::Index per = ((len + threads - 1) / threads + align - 1) / align * align;
    const Eigen::Index from = std::min(len, per * t), cnt = std::min(len, from + per) - from;
    if (cnt > 0) {
      if (split_rows) {
        if (ta == Trans::No)
          product(C.middleRows(from, cnt), A.middleRows(from, cnt), ta, B, tb, alpha, beta);
        else
          product(C.middleRows(from, cnt), A.middleCols(from, cnt), ta, B, tb, alpha, beta);
      } else {
        if (tb == Trans::No)
          product(C.middleCols(from, cnt), A, ta, B.middleCols(from, cnt), tb, alpha, beta);
        else
          product(C.middleCols(from, cnt), A, ta, B.middleRows(from, cnt), tb, alpha, beta);
      }
    }
  });
}
}  // namespace

void set_blas_threads(int) {}

#endif

void add_row_sums(Eigen::Ref<Vector> c, ConstMatRef A, float alpha) { c.noalias() += alpha * A.rowwise().sum(); }

}  // namespace unroll
