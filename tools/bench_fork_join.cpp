// unroll_bench_fork_join: what one parallel region costs, unroll's pool (thread_pool.hpp, behind
// gemm, parallel_for and parallel_sum) against an OpenMP region doing the same work.
//
//   unroll_bench_fork_join [--threads N] [--regions R]
//
// Each region has every thread write one number to its own cache line, so the time is the
// fork and the join alone. Prints microseconds per region, best of 5 rounds.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "unroll/host/trainer.hpp"
#include "unroll/parallel.hpp"

using Clock = std::chrono::steady_clock;

namespace {
template <class F>
double best_us(long regions, F&& region) {
  for (long i = 0; i < regions / 10; ++i) region();  // warm-up: threads started and spinning
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = Clock::now();
    for (long i = 0; i < regions; ++i) region();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / regions * 1e6);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  long regions = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "--regions")
      regions = std::stol(argv[i + 1]);
  }
  alignas(64) static float lines[256][16];
  const Eigen::Index n = 16L * threads;  // one 16-float chunk per thread
  unroll::configure_threads(threads);
  const double pool_us = best_us(regions, [&] {
    unroll::parallel_for(
        n, [&](Eigen::Index from, Eigen::Index) { lines[from / 16][0] += 1; }, 16);
  });
  unroll::configure_threads(1);  // the pool's workers stop spinning before OpenMP's start
  omp_set_num_threads(threads);
  const double omp_us = best_us(regions, [&] {
#pragma omp parallel num_threads(threads)
    lines[omp_get_thread_num()][0] += 1;
  });
  std::printf("%d threads: unroll pool %.2f us per region, OpenMP (libgomp) %.2f us per region\n", threads, pool_us,
              omp_us);
  return 0;
}
