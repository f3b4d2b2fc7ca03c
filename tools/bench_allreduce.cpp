// unroll_bench_allreduce: what one gradient allreduce costs at each size, through the same
// Communicator the trainer uses (docs/scaling.md fits time = alpha + beta * bytes to it), and
// what the sharded optimizer step's pair costs instead: a reduce-scatter of the same floats (each
// rank receiving the sum of its 1/N) followed by an allgather of the shares.
//
//   mpirun -np 2 unroll_bench_allreduce [--sizes 1024,65536,...] [--reps R]
//
// Sizes are in floats. Each size: a few warm-up calls, then R timed calls, a barrier between
// calls so that every rank starts together; rank 0 prints the median and the range of the
// per-call time (the slowest rank's, as every update waits for it) as CSV; the rs_ag_ columns
// are the reduce-scatter + allgather pair, timed the same way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "unroll/host/distributed.hpp"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::vector<long> sizes{256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304};
  int reps = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--reps") reps = std::stoi(argv[i + 1]);
    if (a == "--sizes") {
      sizes.clear();
      std::istringstream in(argv[i + 1]);
      for (std::string s; std::getline(in, s, ',');) sizes.push_back(std::stol(s));
    }
  }
  unroll::start_distributed();
  unroll::Communicator& comm = unroll::communicator();
  if (comm.rank() == 0) std::printf("floats,bytes,ranks,median_us,min_us,max_us,rs_ag_median_us,rs_ag_min_us\n");
  for (long n : sizes) {
    std::vector<float> buf(static_cast<size_t>(n), 1.0f), all(static_cast<size_t>(n), 1.0f);
    std::vector<int> counts;
    for (int k = 0; k < comm.size(); ++k)
      counts.push_back(static_cast<int>(unroll::rank_slice(static_cast<size_t>(n), k, comm.size()).size()));
    std::vector<float> share(static_cast<size_t>(counts[static_cast<size_t>(comm.rank())]));
    const int r = std::max(5, static_cast<int>(reps * std::min(1.0, 262144.0 / static_cast<double>(n))));
    // The slowest rank's time per call: every update waits for it.
    auto time = [&](auto&& collective) {
      std::vector<double> t;
      for (int i = 0; i < 5 + r; ++i) {
        comm.barrier();
        const auto t0 = Clock::now();
        collective();
        std::vector<double> each(static_cast<size_t>(comm.size()), 0.0);
        each[static_cast<size_t>(comm.rank())] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        comm.allreduce_sum(std::span<double>(each));
        if (i >= 5) t.push_back(*std::max_element(each.begin(), each.end()));
      }
      std::sort(t.begin(), t.end());
      return t;
    };
    const std::vector<double> t = time([&] { comm.allreduce_sum(std::span<float>(buf)); });
    const std::vector<double> pair = time([&] {
      comm.reduce_scatter_sum(buf, share, counts);
      comm.allgather(all, counts);
    });
    if (comm.rank() == 0)
      std::printf("%ld,%ld,%d,%.2f,%.2f,%.2f,%.2f,%.2f\n", n, n * 4, comm.size(), t[t.size() / 2], t.front(), t.back(),
                  pair[pair.size() / 2], pair.front());
  }
  return 0;
}
