#include "unroll/linalg.hpp"

namespace unroll {

void gemm(MatRef C, ConstMatRef A, Trans ta, ConstMatRef B, Trans tb, float alpha, float beta) {
  // noalias(): C never aliases A or B in unroll, and it lets Eigen write the product in place.
  if (beta == 0.0f) C.setZero();
  else if (beta != 1.0f) C *= beta;
  if (ta == Trans::No && tb == Trans::No) C.noalias() += alpha * A * B;
  else if (ta == Trans::Yes && tb == Trans::No) C.noalias() += alpha * A.transpose() * B;
  else if (ta == Trans::No && tb == Trans::Yes) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

void add_row_sums(Eigen::Ref<Vector> c, ConstMatRef A, float alpha) {
  c.noalias() += alpha * A.rowwise().sum();
}

}  // namespace unroll
