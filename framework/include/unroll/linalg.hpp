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

/// Threads of the BLAS backend when unroll is built with -DUNROLL_OPENBLAS=ON (else nothing);
/// the host calls it with the run's thread count.
void set_blas_threads(int n);

/// c += alpha * row sums of A (the bias gradient: sum over the batch columns).
void add_row_sums(Eigen::Ref<Vector> c, ConstMatRef A, float alpha = 1.0f);

}  // namespace unroll
