#pragma once
// Element-wise work split over the run's threads (the same threads unroll::gemm uses), for
// plugins whose per-batch passes are long enough to matter: optimizer updates, activations on
// wide batches, batch conversion. Plugins need no threading flags: the host owns the threads.
//
// Every split depends only on the range length and the thread count, and each element is
// computed by exactly one thread, so results are reproducible for a given thread count.
#include "unroll/eigen.hpp"
#include <algorithm>
#include <functional>
#include <string>
#include <type_traits>

#include "unroll/error.hpp"

namespace unroll {

/// The most threads a run may ask for (train.threads, --threads): far above any machine's
/// useful count, far below what the system refuses (100000 threads failed only after 22 s with
/// "Resource temporarily unavailable"), so a typo is an immediate error.
inline constexpr int kMaxThreads = 1024;

/// Calls body(begin, end) on disjoint chunks covering [0, n), one chunk per thread, in
/// parallel. Chunk bounds are multiples of 16 (64-byte lines of floats) so no two threads write
/// the same cache line. Ranges shorter than `grain` per thread, or calls from inside another
/// parallel region, run on the calling thread as one chunk. If a chunk throws, the exception is
/// rethrown on the calling thread once every chunk has finished (the first, if several threw).
void parallel_for(Eigen::Index n, const std::function<void(Eigen::Index begin, Eigen::Index end)>& body,
                  Eigen::Index grain = 16384);

/// Sum of body(begin, end) over the chunks parallel_for would make, added in chunk order (the
/// same result for a given thread count, whatever the timing).
double parallel_sum(Eigen::Index n, const std::function<double(Eigen::Index begin, Eigen::Index end)>& body,
                    Eigen::Index grain = 16384);

/// A contiguous block of a float matrix, viewed as a 1-D array for element-wise expressions.
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

namespace detail {
template <class M>
auto block_of(M& m, Eigen::Index from, Eigen::Index len) {
  if constexpr (std::is_const_v<M>)
    return ConstArrayMap(m.data() + from, len);
  else
    return ArrayMap(m.data() + from, len);
}
}  // namespace detail

/// Element-wise work on same-sized float matrices, split over the threads and cut into blocks
/// of at most 1024 elements, so that work written as several Eigen statements reads each block
/// from memory once and finishes it in L1. body gets one ArrayMap per matrix (ConstArrayMap for
/// a const one), in argument order:
///
///   for_each_block([&](ArrayMap w, ArrayMap g, ArrayMap v) { v = mu * v + g; w -= lr * v; },
///                  p.value, p.grad, velocity);
///
/// A parallel region costs ~1.5 µs on a 2-core VM (the threads' handshake crosses cores), about
/// a serial pass over 50 KiB: the work is split only when each thread gets at least
/// kMinBytesPerThread of the matrices (a ReLU over 256x128 floats is split, one over 100x32
/// is not).
inline constexpr Eigen::Index kMinBytesPerThread = 64 * 1024;

template <class Body, class First, class... Rest>
void for_each_block(Body&& body, First& first, Rest&... rest) {
  constexpr Eigen::Index kBlock = 1024;
  constexpr Eigen::Index kGrain = kMinBytesPerThread / static_cast<Eigen::Index>(sizeof(float) * (1 + sizeof...(Rest)));
  const Eigen::Index n = first.size();
  if (((rest.size() != n) || ...))
    throw Error("for_each_block: matrices of different sizes (the first has " + std::to_string(n) + " elements)");
  parallel_for(
      n,
      [&](Eigen::Index from, Eigen::Index to) {
        for (Eigen::Index b = from; b < to; b += kBlock) {
          const Eigen::Index len = std::min(kBlock, to - b);
          body(detail::block_of(first, b, len), detail::block_of(rest, b, len)...);
        }
      },
      kGrain);
}

}  // namespace unroll
