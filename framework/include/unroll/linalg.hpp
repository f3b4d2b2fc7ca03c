#pragma once
// Matrix products for plugins. Plugins call these instead of writing `A * B` so that the heavy
// GEMM templates are instantiated once, in the host library (plugins build in seconds), and so
// that the backend (Eigen's own GEMM or BLAS) and its threading policy are chosen in one place.
#include "unroll/types.hpp"

namespace unroll {

using MatRef = Eigen::Ref<Matrix>;
using ConstMatRef = Eigen::Ref<const Matrix>;

enum class Trans { No, Yes };

/// C = alpha * op(A) * op(B) + beta * C. C must already have the right shape; with beta = 0
/// its old contents are ignored. Never allocates for the result.
void gemm(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha = 1.0f, float beta = 0.0f);

/// op(A) packed once into the GEMM kernel's own layout, for many products with the same A and
/// the same number of columns: a recurrent layer multiplies U by one step's state at every step,
/// and gemm(C, U, ...) repacks all of U each time (about a tenth of an LSTM epoch). Pack it once
/// per pass, per thread of the time loop (`cols` = that thread's columns), after the parameters
/// last changed; gemm(C, packed, B, ...) then gives the same bits as gemm(C, A, ta, B, ...).
/// The packed copy does not follow later changes of A, and A must outlive it: a product of
/// another shape, one the backend would split over threads, or the BLAS backend, falls back to
/// the plain gemm on A.
class PackedMatrix {
 public:
  PackedMatrix(ConstMatRef A, Trans ta, Eigen::Index cols);
  /// Rows and depth of op(A).
  Eigen::Index rows() const { return m_; }
  Eigen::Index depth() const { return k_; }

 private:
  friend void gemm(MatRef C, const PackedMatrix& A, ConstMatRef B, Trans tb, float alpha, float beta);
  Eigen::Map<const Matrix, 0, Eigen::OuterStride<>> source_;  // A itself, for the fallback
  Trans ta_;
  Eigen::Index m_, k_;
  Eigen::Index kc_ = 0, mc_ = 0;  // the kernel's blocking the panels were packed for (0: not packed)
  Vector panels_;
};

/// C = alpha * op(A) * op(B) + beta * C with A packed (see PackedMatrix).
void gemm(MatRef C, const PackedMatrix& A, ConstMatRef B, Trans tb, float alpha = 1.0f, float beta = 0.0f);

/// Threads of the BLAS backend when unroll is built with -DUNROLL_OPENBLAS=ON (else nothing);
/// the host calls it with the run's thread count.
void set_blas_threads(int n);

/// c += alpha * row sums of A (the bias gradient: sum over the batch columns). Split over the
/// run's threads when A is large, with the same bits for any thread count.
void add_row_sums(Eigen::Ref<Vector> c, ConstMatRef A, float alpha = 1.0f);

/// Every column of C set to b: the bias of all steps, before gemm(..., beta = 1) adds W x to it.
/// Split over the run's threads when C is large (a recurrent layer's gates for a whole batch).
void fill_columns(MatRef C, Eigen::Ref<const Vector> b);

/// C = A (same shape), split over the run's threads when large.
void copy_matrix(MatRef C, ConstMatRef A);

}  // namespace unroll
