// PackedMatrix: op(A) packed once for many products. A recurrent layer's numbers must not change
// because U is packed once per pass instead of by every step's product, so a packed product must
// equal the plain gemm bit for bit, for every shape, transposition and beta, including shapes
// the packing does not cover (they fall back to the plain gemm on A).
#include <catch2/catch.hpp>

#include "support.hpp"
#include "unroll/linalg.hpp"
#include "unroll/parallel.hpp"

using namespace unroll;

TEST_CASE("gemm with a packed A equals the plain gemm bit for bit", "[gemm]") {
  // m = 512 with one column packs in panels of 48 rows; depth 1000 is more than one depth block;
  // 132 rows leave a remainder below the kernel's 16-row vectors.
  int compared = 0;
  for (Eigen::Index m : {5, 132, 512})
    for (Eigen::Index k : {3, 128, 1000})
      for (Eigen::Index n : {1, 16, 64})
        for (Trans ta : {Trans::No, Trans::Yes})
          for (Trans tb : {Trans::No, Trans::Yes})
            for (float beta : {0.0f, 1.0f}) {
              INFO("m " << m << ", k " << k << ", n " << n << ", A" << (ta == Trans::Yes ? "^T" : "") << " B"
                        << (tb == Trans::Yes ? "^T" : "") << ", beta " << beta);
              // A is a block of a larger matrix (a stride, as U.middleRows in an equation cell).
              const Matrix big = testing::normal(ta == Trans::No ? m + 7 : k + 7, ta == Trans::No ? k : m, 1);
              const auto A = big.middleRows(3, ta == Trans::No ? m : k);
              const Matrix B = tb == Trans::No ? testing::normal(k, n, 2) : testing::normal(n, k, 2);
              const Matrix C0 = testing::normal(m, n, 3);
              Matrix plain = C0, packed = C0;
              gemm(plain, A, ta, B, tb, 0.5f, beta);
              const PackedMatrix P(A, ta, n);
              CHECK(P.rows() == m);
              CHECK(P.depth() == k);
              gemm(packed, P, B, tb, 0.5f, beta);
              CHECK((packed.array() == plain.array()).all());
              // The same packing twice in a row (a time loop's second step) gives the same again.
              packed = C0;
              gemm(packed, P, B, tb, 0.5f, beta);
              CHECK((packed.array() == plain.array()).all());
              ++compared;
            }
  CHECK(compared == 3 * 3 * 3 * 2 * 2 * 2);
}

TEST_CASE("a packed A serves its column count, and other shapes fall back to A itself", "[gemm]") {
  // The packed copy does not follow later changes of A (so it must be packed after the last
  // update); that makes the path a product took visible here.
  const Eigen::Index m = 512, k = 128;
  Matrix A = testing::normal(m, k, 1);
  const PackedMatrix P(A, Trans::No, 64);
  const Matrix old_A = A;
  A *= 2.0f;
  const Matrix B64 = testing::normal(k, 64, 2), B1 = testing::normal(k, 1, 3);
  Matrix c64(m, 64), c1(m, 1), want64(m, 64), want1(m, 1);
  gemm(c64, P, B64, Trans::No);
  gemm(want64, old_A, Trans::No, B64, Trans::No);
  CHECK((c64.array() == want64.array()).all());  // packed: the A of packing time
  gemm(c1, P, B1, Trans::No);
  gemm(want1, A, Trans::No, B1, Trans::No);
  CHECK((c1.array() == want1.array()).all());  // another blocking: the fallback reads A now
}

TEST_CASE("a packed product large enough to split over threads equals the plain split product", "[gemm][parallel]") {
  // Outside a time loop a large product is split over the run's threads (gemm's own policy, not
  // the packing's): the packed call must take the same split, so its bits match the plain call.
  const Eigen::Index m = 512, k = 128, n = 256;
  const Matrix A = testing::normal(m, k, 1), B = testing::normal(k, n, 2);
  Matrix plain(m, n), packed(m, n);
  configure_threads(2);
  gemm(plain, A, Trans::No, B, Trans::No);
  gemm(packed, PackedMatrix(A, Trans::No, n), B, Trans::No);
  configure_threads(1);
  CHECK((packed.array() == plain.array()).all());
}
