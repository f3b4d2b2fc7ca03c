#include "unroll/parallel.hpp"

#include <algorithm>

#include "thread_pool.hpp"

namespace unroll {

namespace {
constexpr int kMaxRegionThreads = 256;  // parallel_sum keeps one partial sum per thread on the stack

int threads_for(Eigen::Index n, Eigen::Index grain) {
  if (pool::in_region()) return 1;
  const Eigen::Index by_size = n / std::max<Eigen::Index>(grain, 1);
  return static_cast<int>(
      std::clamp<Eigen::Index>(std::min<Eigen::Index>(pool::threads(), by_size), 1, kMaxRegionThreads));
}

// Chunk t of n split over `threads`: bounds rounded up to whole 64-byte lines of floats.
template <class F>
void run_chunks(Eigen::Index n, int threads, F&& f) {
  const Eigen::Index per = ((n + threads - 1) / threads + 15) / 16 * 16;
  pool::run(threads, [&](int t) {
    const Eigen::Index from = std::min(n, per * t), to = std::min(n, from + per);
    if (from < to) f(t, from, to);
  });
}
}  // namespace

void parallel_for(Eigen::Index n, const std::function<void(Eigen::Index, Eigen::Index)>& body, Eigen::Index grain) {
  if (n <= 0) return;
  const int threads = threads_for(n, grain);
  if (threads == 1) return body(0, n);
  run_chunks(n, threads, [&](int, Eigen::Index from, Eigen::Index to) { body(from, to); });
}

double parallel_sum(Eigen::Index n, const std::function<double(Eigen::Index, Eigen::Index)>& body, Eigen::Index grain) {
  if (n <= 0) return 0.0;
  const int threads = threads_for(n, grain);
  if (threads == 1) return body(0, n);
  double part[kMaxRegionThreads] = {};
  run_chunks(n, threads, [&](int t, Eigen::Index from, Eigen::Index to) { part[t] = body(from, to); });
  double sum = 0;
  for (int t = 0; t < threads; ++t) sum += part[t];
  return sum;
}

}  // namespace unroll
