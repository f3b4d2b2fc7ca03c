#pragma once
// The run's worker threads, behind unroll::gemm, parallel_for and parallel_sum.
//
// Why not OpenMP: on the 2-core VMs unroll is benchmarked on, a libgomp parallel region costs
// ~3 µs to open and join, whatever OMP_WAIT_POLICY or GOMP_SPINCOUNT say, and an MLP training
// step opens 17. Here the caller publishes a job with one atomic increment, the workers
// (spinning between jobs) pick it up, and each acknowledges on a cache line of its own:
// ~0.8 µs bare, ~1.5 µs through parallel_for (tools/bench_fork_join.cpp measures it against
// OpenMP). A worker that sees no job for a while sleeps on a
// condition variable, so an idle stretch (data loading, a single-threaded evaluation) does not
// keep a core busy.
//
// One thread at a time drives the pool (the host's main thread); regions do not nest.
#include <functional>

namespace unroll::pool {

/// Sets the number of threads a region runs on: the caller plus n - 1 workers (n >= 1).
/// Not from inside a region.
void set_threads(int n);

/// The number set_threads configured (1 until it is called).
int threads();

/// True on any thread while it runs a region's body: work split inside a region runs on that
/// thread alone.
bool in_region();

/// Threads of the region the calling thread runs in (1 outside one).
int region_threads();
/// Flush subnormal floats to zero (FTZ + DAZ) on the calling thread and on every worker, now
/// and on workers started later, or keep IEEE gradual underflow (on = false). Not from inside a
/// region. Off until the first call; configure_threads turns it on for a run (trainer.hpp).
void set_flush_denormals(bool on);
/// The mode set_flush_denormals last set (false before any call).
bool flush_denormals();

/// Runs body(t) for t = 0 .. n - 1, t = 0 on the calling thread and the others on workers,
/// and returns when all are done. n must be in [1, threads()]; the caller picks n = 1 inside a
/// region (in_region()). An exception thrown by a body is rethrown here after the join (the
/// first one, if several threw).
void run(int n, const std::function<void(int t)>& body);

}  // namespace unroll::pool
