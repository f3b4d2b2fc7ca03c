// parallel.hpp: element-wise work split over the run's threads. The splits must cover every
// element once, never share a cache line, and give the same numbers for a given thread count;
// optimizer updates split over 2 threads must equal the 1-thread update bit for bit.
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"
#include "unroll/linalg.hpp"
#include "unroll/parallel.hpp"

using namespace unroll;
using unroll::testing::make_optimizer;

namespace {

// Sets the run's thread count for one test and puts 1 back afterwards.
struct Threads {
  explicit Threads(int n) { configure_threads(n); }
  ~Threads() { configure_threads(1); }
};

}  // namespace

TEST_CASE("parallel_for covers every index once, in chunks starting on 64-byte lines", "[parallel]") {
  Threads threads(2);
  for (Eigen::Index n : {0L, 1L, 17L, 40000L, 100003L}) {
    std::vector<int> seen(static_cast<size_t>(n), 0);
    std::vector<std::pair<Eigen::Index, Eigen::Index>> chunks;
    std::mutex m;
    parallel_for(n, [&](Eigen::Index from, Eigen::Index to) {
      std::lock_guard<std::mutex> lock(m);
      chunks.emplace_back(from, to);
      for (Eigen::Index i = from; i < to; ++i) ++seen[static_cast<size_t>(i)];
    });
    INFO("n = " << n);
    for (int s : seen) REQUIRE(s == 1);
    for (auto [from, to] : chunks) CHECK(from % 16 == 0);
    // Above the grain the range really is split; below it one chunk on the calling thread.
    CHECK(chunks.size() == (n >= 2 * 16384 ? 2u : n > 0 ? 1u : 0u));
  }
}

// The threads behind parallel_for (framework/src/thread_pool.cpp): workers spin between
// regions, sleep after a while without one, and must come back for the next.
TEST_CASE("the worker threads run every region, also after they slept or were resized", "[parallel]") {
  const Eigen::Index n = 4 * 16384;
  auto chunk_threads = [&] {
    std::set<std::thread::id> ids;
    std::mutex m;
    std::vector<int> seen(static_cast<size_t>(n), 0);
    parallel_for(n, [&](Eigen::Index from, Eigen::Index to) {
      {
        std::lock_guard<std::mutex> lock(m);
        ids.insert(std::this_thread::get_id());
      }
      for (Eigen::Index i = from; i < to; ++i) ++seen[static_cast<size_t>(i)];
    });
    for (int s : seen) REQUIRE(s == 1);
    return ids.size();
  };
  for (int threads : {2, 3, 2, 1, 2}) {
    Threads t(threads);
    INFO(threads << " threads");
    CHECK(chunk_threads() == static_cast<size_t>(threads));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the workers go to sleep
    CHECK(chunk_threads() == static_cast<size_t>(threads));
  }
  // Many short regions back to back: every one joins all its chunks before returning.
  Threads t(2);
  long total = 0;
  for (int r = 0; r < 20000; ++r) {
    std::atomic<int> chunks{0};
    parallel_for(
        64, [&](Eigen::Index, Eigen::Index) { chunks.fetch_add(1); }, 16);
    total += chunks.load();
  }
  CHECK(total == 2 * 20000);
}

TEST_CASE("a nested parallel_for runs on the calling thread, and a worker's exception reaches the caller",
          "[parallel]") {
  Threads threads(2);
  const Eigen::Index n = 4 * 16384;
  std::atomic<int> inner_chunks{0}, foreign{0};
  parallel_for(n, [&](Eigen::Index, Eigen::Index) {
    const auto outer = std::this_thread::get_id();
    parallel_for(n, [&](Eigen::Index from, Eigen::Index to) {
      inner_chunks.fetch_add(1);
      if (std::this_thread::get_id() != outer || from != 0 || to != n) foreign.fetch_add(1);
    });
  });
  CHECK(inner_chunks == 2);
  CHECK(foreign == 0);

  // The second chunk runs on a worker thread; its exception is rethrown after the join.
  CHECK_THROWS_WITH(parallel_for(n,
                                 [&](Eigen::Index from, Eigen::Index) {
                                   if (from > 0) throw Error("chunk at " + std::to_string(from) + " failed");
                                 }),
                    Catch::Contains("chunk at 32768 failed"));
  // ... and the threads still work.
  CHECK(parallel_sum(n, [](Eigen::Index from, Eigen::Index to) { return static_cast<double>(to - from); }) == n);
}

TEST_CASE("parallel_sum adds chunk sums in a fixed order", "[parallel]") {
  Threads threads(2);
  const Matrix a = testing::normal(300, 400, 7);
  auto sum = [&] {
    return parallel_sum(a.size(), [&](Eigen::Index from, Eigen::Index to) {
      return static_cast<double>(a.reshaped().segment(from, to - from).squaredNorm());
    });
  };
  const double first = sum();
  CHECK(first == Approx(static_cast<double>(a.squaredNorm())).epsilon(1e-5));
  for (int i = 0; i < 20; ++i) REQUIRE(sum() == first);  // bit for bit, every time
}

TEST_CASE("for_each_block sees matching blocks and refuses matrices of different sizes", "[parallel]") {
  Threads threads(2);
  Matrix x = testing::normal(256, 300, 1), y = Matrix::Zero(256, 300);
  const Matrix& cx = x;
  for_each_block([](ConstArrayMap a, ArrayMap b) { b = 2.0f * a + 1.0f; }, cx, y);
  CHECK(y.isApprox((2.0f * x.array() + 1.0f).matrix()));
  Matrix small(3, 3);
  CHECK_THROWS_WITH(for_each_block([](ArrayMap, ArrayMap) {}, y, small),
                    Catch::Contains("different sizes") && Catch::Contains("76800"));
}

TEST_CASE("optimizer updates split over 2 threads equal the 1-thread update bit for bit", "[parallel][optimizers]") {
  // 600 x 200 = 120,000 elements: above the grain of every update, so 2 threads really split it.
  for (const char* yaml : {"{kind: sgd, lr: 0.1}", "{kind: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01}",
                           "{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}", "{kind: adam, lr: 0.01}",
                           "{kind: adamw, lr: 0.01, weight_decay: 0.1}", "{kind: rmsprop, lr: 0.01, momentum: 0.5}",
                           "{kind: adagrad, lr: 0.1}"}) {
    Matrix result[2];
    for (int threads : {1, 2}) {
      Threads t(threads);
      auto opt = make_optimizer(yaml);
      Param p("dense0.W", 600, 200, 200, 600, Node());
      p.value = testing::normal(600, 200, 3);
      std::vector<Param*> params{&p};
      for (uint64_t step = 0; step < 3; ++step) {
        p.grad = testing::normal(600, 200, 10 + step);
        opt->step(params, 0.1);
      }
      result[threads - 1] = p.value;
    }
    INFO(yaml);
    CHECK_FALSE(result[0].isApprox(testing::normal(600, 200, 3)));  // the update did something
    CHECK((result[0].array() == result[1].array()).all());
  }
}

TEST_CASE("gemm: a column's numbers do not depend on how many columns the call has", "[parallel][gemm]") {
  // A recurrent time loop gives each thread its own columns (samples) of every product, so a
  // 2-thread run equals a 1-thread run only if a column of C comes out the same from a call over
  // all B columns and from one over a slab of them (16-aligned, as parallel_for cuts, including
  // a 1-column tail). Eigen's size-based choice of kernel broke this for tiny products; the
  // shapes below include those (rows + cols + depth < 20) and one-column slabs.
  int compared = 0;
  for (Eigen::Index m : {1, 3, 4, 5, 17, 48})
    for (Eigen::Index k : {1, 3, 4, 12, 130})
      for (Eigen::Index n : {17, 33, 40})
        for (Trans ta : {Trans::No, Trans::Yes})
          for (Trans tb : {Trans::No, Trans::Yes}) {
            INFO("m " << m << ", k " << k << ", n " << n << ", A" << (ta == Trans::Yes ? "^T" : "") << " B"
                      << (tb == Trans::Yes ? "^T" : ""));
            const Matrix A = ta == Trans::No ? testing::normal(m, k, 1) : testing::normal(k, m, 1);
            const Matrix B = tb == Trans::No ? testing::normal(k, n, 2) : testing::normal(n, k, 2);
            const Matrix C0 = testing::normal(m, n, 3);
            Matrix whole = C0;
            gemm(whole, A, ta, B, tb, 0.5f, 1.0f);
            // The kernel is right: against a double-precision product.
            const Eigen::MatrixXd a = A.cast<double>(), b = B.cast<double>();
            const Eigen::MatrixXd opA = ta == Trans::No ? a : Eigen::MatrixXd(a.transpose());
            const Eigen::MatrixXd opB = tb == Trans::No ? b : Eigen::MatrixXd(b.transpose());
            const Eigen::MatrixXd ref = C0.cast<double>() + 0.5 * opA * opB;
            REQUIRE((whole.cast<double>() - ref).cwiseAbs().maxCoeff() <= 1e-4 * (1 + ref.cwiseAbs().maxCoeff()));
            for (Eigen::Index split : {16, 32}) {
              if (split >= n) continue;
              Matrix parts = C0;
              for (auto [c0, c1] : {std::pair{Eigen::Index{0}, split}, std::pair{split, n}}) {
                auto slab = parts.middleCols(c0, c1 - c0);
                if (tb == Trans::No)
                  gemm(slab, A, ta, B.middleCols(c0, c1 - c0), tb, 0.5f, 1.0f);
                else
                  gemm(slab, A, ta, B.middleRows(c0, c1 - c0), tb, 0.5f, 1.0f);
              }
              CHECK((parts.array() == whole.array()).all());
              ++compared;
            }
          }
  CHECK(compared == 6 * 5 * 4 * (1 + 2 + 2));  // n = 17 has one split, 33 and 40 two
}

TEST_CASE("add_row_sums split over 2 threads equals the 1-thread sums bit for bit", "[parallel][gemm]") {
  // A recurrent layer's bias gradient: all steps of a batch (LSTM h128, 28 steps x 128 samples),
  // and a row count with a tail below the 16-row vectors.
  for (Eigen::Index rows : {512, 132}) {
    INFO("rows " << rows);
    const Matrix A = testing::normal(rows, 3584, 1);
    const Vector c0 = testing::normal(rows, 1, 2).col(0);
    Vector one = c0, two = c0;
    {
      Threads t(1);
      add_row_sums(one, A, 0.5f);
    }
    {
      Threads t(2);
      add_row_sums(two, A, 0.5f);
    }
    const Eigen::VectorXd ref = c0.cast<double>() + 0.5 * A.cast<double>().rowwise().sum();
    CHECK((one.cast<double>() - ref).cwiseAbs().maxCoeff() <= 1e-3);
    CHECK((one.array() == two.array()).all());
  }
}
