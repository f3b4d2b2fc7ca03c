// Subnormal floats: every thread of a run flushes them to zero (configure_threads sets FTZ + DAZ
// on the caller and on each pool worker), unless UNROLL_KEEP_DENORMALS=1 keeps IEEE gradual
// underflow. Why (a vanishing gradient full of subnormals made GRU epochs 5-6x slower):
// docs/performance.md, "Subnormal floats".
#include <catch2/catch.hpp>
#include <bit>
#include <cfloat>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "support.hpp"
#include "unroll/parallel.hpp"

using namespace unroll;

namespace {

struct Probe {
  std::thread::id thread;
  float result;   // FLT_MIN * 0.5: a subnormal result, 0 under flush-to-zero
  float operand;  // the smallest subnormal * 1: a subnormal operand, 0 under denormals-are-zero
};

// One probe on each thread of an n-thread parallel_for (n chunks of 16).
std::vector<Probe> probe(int n) {
  std::mutex m;
  std::vector<Probe> out;
  parallel_for(
      16 * n,
      [&](Eigen::Index, Eigen::Index) {
        volatile float tiny = FLT_MIN, half = 0.5f, one = 1.0f, smallest = std::bit_cast<float>(1u);
        const Probe p{std::this_thread::get_id(), tiny * half, smallest * one};
        std::lock_guard<std::mutex> lock(m);
        out.push_back(p);
      },
      16);
  return out;
}

size_t distinct_threads(const std::vector<Probe>& ps) {
  std::set<std::thread::id> ids;
  for (const Probe& p : ps) ids.insert(p.thread);
  return ids.size();
}

}  // namespace

TEST_CASE("a run's threads flush subnormal floats to zero, every pool thread alike", "[parallel][denormals]") {
  unsetenv("UNROLL_KEEP_DENORMALS");
  for (int threads : {2, 3, 1}) {  // 3: a worker started after the mode was set gets it too
    configure_threads(threads);
    const auto ps = probe(threads);
    REQUIRE(ps.size() == static_cast<size_t>(threads));
    REQUIRE(distinct_threads(ps) == static_cast<size_t>(threads));
    for (const Probe& p : ps) {  // bits: under DAZ a subnormal would compare equal to 0.0f
      CHECK(std::bit_cast<uint32_t>(p.result) == 0u);
      CHECK(std::bit_cast<uint32_t>(p.operand) == 0u);
    }
  }
}

TEST_CASE("UNROLL_KEEP_DENORMALS=1 keeps IEEE subnormals on every thread", "[parallel][denormals]") {
  setenv("UNROLL_KEEP_DENORMALS", "1", 1);
  configure_threads(2);
  const auto ps = probe(2);
  unsetenv("UNROLL_KEEP_DENORMALS");
  configure_threads(1);  // later tests in this process run as a run does: flushing
  // Bit patterns, not float comparisons: this thread flushes again, and under DAZ a subnormal
  // compares equal to 0.
  REQUIRE(distinct_threads(ps) == 2);
  for (const Probe& p : ps) {
    CHECK(std::bit_cast<uint32_t>(p.result) ==
          std::bit_cast<uint32_t>(FLT_MIN) / 2);  // 2^-127: exponent 0, top mantissa bit
    CHECK(std::bit_cast<uint32_t>(p.operand) == 1u);
  }
}
