#include "thread_pool.hpp"
#include "unroll/parallel.hpp"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "float_mode.hpp"
#include "signal_stack.hpp"
#include "unroll/error.hpp"

namespace unroll::pool {
namespace {
using Clock = std::chrono::steady_clock;

// How long a worker spins for the next job before it sleeps. The gaps between a training
// step's regions are tens of microseconds; a sleeping worker costs a futex wake-up (~10-50 µs)
// on the next region.
constexpr auto kSpin = std::chrono::microseconds(300);
// How long the caller spins on the join before it also yields its core: a worker that lost its
// core (more runnable threads than cores) needs it back to finish.
constexpr auto kJoinSpin = std::chrono::microseconds(100);

thread_local int tl_region_threads = 0;  // 0: not in a region
// The subnormal-float mode of every thread of the pool (set_flush_denormals); a worker applies
// it when it starts.
std::atomic<bool> g_flush_denormals{false};

// Marks the calling thread as running a body of an n-thread region until the scope ends, also
// when the body throws.
struct RegionScope {
  explicit RegionScope(int n) { tl_region_threads = n; }
  ~RegionScope() { tl_region_threads = 0; }
};

class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    if (n == threads()) return;
    if (!workers_.empty()) {
      stop_ = true;
      publish();
      for (auto& w : workers_) w.join();
      workers_.clear();
      stop_ = false;
    }
    const unsigned long now = generation_.load();
    done_ = std::make_unique<Ack[]>(static_cast<size_t>(n));
    // Each worker gets a signal stack, so that a stack overflow in a plugin's parallel loop is
    // reported like one on the main thread (signal_stack.hpp).
    for (int t = 1; t < n; ++t)
      workers_.emplace_back([this, t, now] {
        install_signal_stack();
        set_thread_flush_denormals(g_flush_denormals.load());
        work(t, now);
      });
  }

  void run(int n, const std::function<void(int)>& body) {
    body_ = &body;
    n_ = n;
    publish();
    call(0, n);
    // Every worker acknowledges every job, taking part or not, so that no worker can still be
    // reading this job's fields when the next one overwrites them. Each acknowledges on a cache
    // line of its own with a plain store of the job's generation: no locked instruction.
    const unsigned long g = generation_.load(std::memory_order_relaxed);
    const auto start = Clock::now();
    for (size_t w = 0; w < workers_.size(); ++w)
      for (unsigned i = 0; done_[w].value.load(std::memory_order_acquire) != g; ++i) {
        _mm_pause();
        if ((i & 255) == 255 && Clock::now() - start > kJoinSpin) std::this_thread::yield();
      }
    body_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // The fields of the job are written before the increment (seq_cst, so also a release). The
  // sleepers check pairs with the worker's increment of sleepers_ before its last look at the
  // generation: either the worker sees the new job, or this sees the sleeper and wakes it.
  void publish() {
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
  }

  void call(int t, int n) {
    RegionScope region(n);
    try {
      (*body_)(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(int t, unsigned long seen) {
    for (;;) {
      seen = wait_for_job(seen);
      if (stop_) return;
      if (t < n_) call(t, n_);
      done_[t - 1].value.store(seen, std::memory_order_release);
    }
  }

  unsigned long wait_for_job(unsigned long seen) {
    const auto start = Clock::now();
    for (unsigned i = 0;; ++i) {
      const unsigned long g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      _mm_pause();
      if ((i & 1023) == 1023 && Clock::now() - start > kSpin) break;
    }
    sleepers_.fetch_add(1);
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    return generation_.load(std::memory_order_acquire);
  }

  // The job and the counters a worker polls share one cache line: a worker that sees the new
  // generation has the job's fields with it, and the caller's check of sleepers_ right after
  // its increment of generation_ hits a line it already owns.
  alignas(64) std::atomic<unsigned long> generation_{0};
  std::atomic<int> sleepers_{0};
  const std::function<void(int)>* body_ = nullptr;  // written by the caller before generation_
  int n_ = 1;
  bool stop_ = false;
  struct alignas(64) Ack {
    std::atomic<unsigned long> value{0};  // the generation of the last job this worker finished
  };
  std::unique_ptr<Ack[]> done_;
  alignas(64) std::exception_ptr error_;
  std::mutex error_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
};

Pool& the_pool() {
  static Pool pool;
  return pool;
}
}  // namespace

void set_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    throw Error("thread pool: " + std::to_string(n) + " threads (at least 1, at most " + std::to_string(kMaxThreads) +
                ")");
  if (in_region()) throw Error("thread pool: set_threads inside a parallel region");
  the_pool().resize(n);
}

int threads() { return the_pool().threads(); }

void set_flush_denormals(bool on) {
  if (in_region()) throw Error("thread pool: set_flush_denormals inside a parallel region");
  g_flush_denormals = on;
  // Every thread of the pool, the caller included: MXCSR is per thread.
  const int n = threads();
  if (n > 1)
    the_pool().run(n, [on](int) { set_thread_flush_denormals(on); });
  else
    set_thread_flush_denormals(on);
}

bool flush_denormals() { return g_flush_denormals.load(); }

bool in_region() { return tl_region_threads != 0; }

int region_threads() { return tl_region_threads ? tl_region_threads : 1; }

void run(int n, const std::function<void(int)>& body) {
  if (n < 1 || n > threads() || in_region())
    throw Error("thread pool: a region of " + std::to_string(n) + " threads (pool: " + std::to_string(threads()) +
                (in_region() ? ", called from inside a region)" : ")"));
  if (n > 1) return the_pool().run(n, body);
  RegionScope region(1);
  body(0);
}

}  // namespace unroll::pool
