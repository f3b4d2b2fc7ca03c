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
#include "unroll/parallel.hpp"
#include "thread_pool.hpp"

namespace unroll {
namespace {
// The backend (below): Eigen with unroll's own threading, or OpenBLAS.
void gemm_impl(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta);
// C = alpha * A B + beta * C from A's packed panels (PackedMatrix), when the backend has a
// packed path and the product's blocking is the one the panels were packed for; else false.
bool packed_impl(MatRef C, const Vector& panels, Eigen::Index kc, Eigen::Index mc, Eigen::Index k, ConstMatRef B,
                 Trans tb, float alpha, float beta);

// Runs the product f, timed into UNROLL_GEMM_PROFILE's table when that is on.
template <class F>
void profiled(Eigen::Index m, Eigen::Index k, Eigen::Index n, Trans ta, Trans tb, F&& f) {
  GemmProfile* profile = GemmProfile::get();
  if (!profile) return f();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  profile->add(m, k, n, ta == Trans::Yes, tb == Trans::Yes,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}
}  // namespace

void gemm(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  profiled(C.rows(), ta == Trans::No ? A.cols() : A.rows(), C.cols(), ta, tb,
           [&] { gemm_impl(C, A, ta, B, tb, alpha, beta); });
}

void gemm(MatRef C, const PackedMatrix& A, ConstMatRef B, Trans tb, float alpha, float beta) {
  profiled(C.rows(), A.k_, C.cols(), A.ta_, tb, [&] {
    if (!packed_impl(C, A.panels_, A.kc_, A.mc_, A.k_, B, tb, alpha, beta))
      gemm_impl(C, A.source_, A.ta_, B, tb, alpha, beta);
  });
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

bool packed_impl(MatRef, const Vector&, Eigen::Index, Eigen::Index, Eigen::Index, ConstMatRef, Trans, float, float) {
  return false;  // OpenBLAS packs inside each call; PackedMatrix keeps no panels here
}
}  // namespace

PackedMatrix::PackedMatrix(ConstMatRef A, Trans ta, Eigen::Index)
    : source_(A.data(), A.rows(), A.cols(), Eigen::OuterStride<>(A.outerStride())),
      ta_(ta),
      m_(ta == Trans::No ? A.rows() : A.cols()),
      k_(ta == Trans::No ? A.cols() : A.rows()) {}

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

// C = beta * C, the first half of every product here (beta = 0 ignores C's old contents).
void scale_by_beta(MatRef C, float beta) {
  if (beta == 0.0f)
    C.setZero();
  else if (beta != 1.0f)
    C *= beta;
}

void product(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  scale_by_beta(C, beta);
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

// Threads for an m x k x n product: 1 inside a parallel region (a time loop's thread) and for
// products too small to split.
int threads_for(Eigen::Index m, Eigen::Index n, Eigen::Index k) {
  const int threads = pool::in_region() ? 1 : pool::threads();
  const Eigen::Index len = std::max(m, n);  // the dimension gemm_impl splits
  return threads <= 1 || len < threads * kMinSlab || 2.0 * m * n * k < kMinThreadedFlop ? 1 : threads;
}

void gemm_impl(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  const Eigen::Index m = C.rows(), n = C.cols(), k = ta == Trans::No ? A.cols() : A.rows();
  const int threads = threads_for(m, n, k);
  if (threads == 1) return product(C, A, ta, B, tb, alpha, beta);
  // Split rows of C (each thread packs its rows of op(A) and all of op(B)) or columns (all of
  // op(A), its columns of op(B)): duplicate whichever operand is smaller.
  const bool split_rows = m > n;
  const Eigen::Index len = split_rows ? m : n;
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

// Packed products (PackedMatrix). Eigen's sequential GEMM (general_matrix_matrix_product::run)
// walks panels of mc rows x kc depth of op(A), packs each one, and multiplies it with packed
// blocks of nc columns of op(B). The panels of A are packed here once, with the blocking Eigen
// chooses for the product's shape, and a product reuses them with the same kernel and the same
// loop, so each element is computed exactly as product() computes it. The blocking depends on
// the column count (kc on the depth only, mc also on the columns), hence one packing per shape.
namespace ei = Eigen::internal;
using Traits = ei::gebp_traits<float, float>;

struct Blocking {
  Eigen::Index kc, mc, nc;
};

Blocking blocking_for(Eigen::Index m, Eigen::Index n, Eigen::Index k) {
  ei::gemm_blocking_space<Eigen::ColMajor, float, float, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic> b(m, n, k, 1,
                                                                                                           true);
  return {b.kc(), std::min(m, b.mc()), std::min(n, b.nc())};
}

// Panels start on 64-byte boundaries: the kernel reads them with aligned vector loads.
Eigen::Index aligned_floats(Eigen::Index n) { return (n + 15) / 16 * 16; }

template <int Order>
void pack_panels(Vector& panels, const Eigen::Map<const Matrix, 0, Eigen::OuterStride<> >& a, Eigen::Index m,
                 Eigen::Index k, const Blocking& b) {
  using Mapper = ei::const_blas_data_mapper<float, Eigen::Index, Order>;
  ei::gemm_pack_lhs<float, Eigen::Index, Mapper, Traits::mr, Traits::LhsProgress, typename Traits::LhsPacket4Packing,
                    Order>
      pack;
  const Mapper lhs(a.data(), a.outerStride());
  Eigen::Index size = 0;
  for (Eigen::Index i2 = 0; i2 < m; i2 += b.mc)
    for (Eigen::Index k2 = 0; k2 < k; k2 += b.kc)
      size += aligned_floats(std::min(b.mc, m - i2) * std::min(b.kc, k - k2));
  panels.resize(size);
  Eigen::Index at = 0;
  for (Eigen::Index i2 = 0; i2 < m; i2 += b.mc) {
    const Eigen::Index mc = std::min(b.mc, m - i2);
    for (Eigen::Index k2 = 0; k2 < k; k2 += b.kc) {
      const Eigen::Index kc = std::min(b.kc, k - k2);
      pack(panels.data() + at, lhs.getSubMapper(i2, k2), kc, mc);
      at += aligned_floats(mc * kc);
    }
  }
}

template <int RhsOrder>
void packed_product(MatRef C, const Vector& panels, Eigen::Index k, ConstMatRef B, float alpha, const Blocking& b) {
  using RhsMapper = ei::const_blas_data_mapper<float, Eigen::Index, RhsOrder>;
  using ResMapper = ei::blas_data_mapper<float, Eigen::Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  ei::gemm_pack_rhs<float, Eigen::Index, RhsMapper, Traits::nr, RhsOrder> pack_rhs;
  ei::gebp_kernel<float, float, Eigen::Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
  const RhsMapper rhs(B.data(), B.outerStride());
  const ResMapper res(C.data(), C.outerStride(), 1);
  const Eigen::Index m = C.rows(), n = C.cols();
  thread_local Vector block_b;  // one thread's packed columns of B, kept for its next product
  if (block_b.size() < b.kc * b.nc) block_b.resize(b.kc * b.nc);
  Eigen::Index at = 0;
  for (Eigen::Index i2 = 0; i2 < m; i2 += b.mc) {
    const Eigen::Index mc = std::min(b.mc, m - i2);
    for (Eigen::Index k2 = 0; k2 < k; k2 += b.kc) {
      const Eigen::Index kc = std::min(b.kc, k - k2);
      for (Eigen::Index j2 = 0; j2 < n; j2 += b.nc) {
        const Eigen::Index nc = std::min(b.nc, n - j2);
        pack_rhs(block_b.data(), rhs.getSubMapper(k2, j2), kc, nc);
        gebp(res.getSubMapper(i2, j2), panels.data() + at, block_b.data(), mc, kc, nc, alpha);
      }
      at += aligned_floats(mc * kc);
    }
  }
}

bool packed_impl(MatRef C, const Vector& panels, Eigen::Index kc, Eigen::Index mc, Eigen::Index k, ConstMatRef B,
                 Trans tb, float alpha, float beta) {
  const Eigen::Index m = C.rows(), n = C.cols();
  if (kc == 0 || threads_for(m, n, k) > 1) return false;
  const Blocking b = blocking_for(m, n, k);
  if (b.kc != kc || b.mc != mc) return false;
  scale_by_beta(C, beta);
  if (C.size() == 0 || k == 0) return true;
  if (tb == Trans::No)
    packed_product<Eigen::ColMajor>(C, panels, k, B, alpha, b);
  else
    packed_product<Eigen::RowMajor>(C, panels, k, B, alpha, b);
  return true;
}
}  // namespace

PackedMatrix::PackedMatrix(ConstMatRef A, Trans ta, Eigen::Index cols)
    : source_(A.data(), A.rows(), A.cols(), Eigen::OuterStride<>(A.outerStride())),
      ta_(ta),
      m_(ta == Trans::No ? A.rows() : A.cols()),
      k_(ta == Trans::No ? A.cols() : A.rows()) {
  if (m_ == 0 || k_ == 0 || cols <= 0) return;
  const Blocking b = blocking_for(m_, cols, k_);
  kc_ = b.kc;
  mc_ = b.mc;
  if (ta == Trans::No)
    pack_panels<Eigen::ColMajor>(panels_, source_, m_, k_, b);
  else
    pack_panels<Eigen::RowMajor>(panels_, source_, m_, k_, b);
}

void set_blas_threads(int) {}

#endif

namespace {
// Passes over fewer floats than this (1 MiB) stay on one thread: a recurrent layer's whole batch
// (LSTM h128: 512 x 3584 floats) is split, a dense layer's batch is not.
constexpr Eigen::Index kMinSplitFloats = Eigen::Index{1} << 18;

// parallel_for's grain for splitting the columns of a rows x cols matrix.
Eigen::Index column_grain(Eigen::Index rows, Eigen::Index cols) {
  return rows * cols >= kMinSplitFloats
             ? std::max<Eigen::Index>(1, kMinSplitFloats / 4 / std::max<Eigen::Index>(rows, 1))
             : std::max<Eigen::Index>(cols, 1);
}
}  // namespace

void fill_columns(MatRef C, Eigen::Ref<const Vector> b) {
  parallel_for(
      C.cols(), [&](Eigen::Index c0, Eigen::Index c1) { C.middleCols(c0, c1 - c0).colwise() = b; },
      column_grain(C.rows(), C.cols()));
}

void copy_matrix(MatRef C, ConstMatRef A) {
  parallel_for(
      C.cols(), [&](Eigen::Index c0, Eigen::Index c1) { C.middleCols(c0, c1 - c0) = A.middleCols(c0, c1 - c0); },
      column_grain(C.rows(), C.cols()));
}

void add_row_sums(Eigen::Ref<Vector> c, ConstMatRef A, float alpha) {
  // A recurrent layer's bias gradient sums all steps of the batch, a pass worth splitting. Rows
  // are split in the 16-row chunks of parallel_for, so each row is summed by the same vector
  // code, in the same column order, as in one pass over all rows: the same bits for any thread
  // count.
  const Eigen::Index rows = A.rows();
  parallel_for(
      rows,
      [&](Eigen::Index r0, Eigen::Index r1) {
        c.segment(r0, r1 - r0).noalias() += alpha * A.middleRows(r0, r1 - r0).rowwise().sum();
      },
      A.size() >= kMinSplitFloats ? 16 : std::max<Eigen::Index>(rows, 1));
}

}  // namespace unroll
