// unroll_bench_gemm: the GEMM floor of a model. For each product shape given on the command line
// it times unroll::gemm (the host's backend and threading policy, exactly what the layers call)
// and prints GFLOP/s and the seconds an epoch spends in that shape alone.
//
//   unroll_bench_gemm --threads N M:K:N:TA:TB:CALLS ...
//
// Shape M:K:N is C(MxN) = op(A)(MxK) op(B)(KxN); TA/TB are 0 or 1 (transposed operand); CALLS is
// how many times an epoch makes that product. Last line: JSON {"gflop", "seconds", "shapes"},
// read by tools/bench.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "unroll/host/trainer.hpp"
#include "unroll/linalg.hpp"

using namespace unroll;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else
      specs.push_back(a);
  }
  if (specs.empty()) {
    std::fprintf(stderr, "usage: unroll_bench_gemm --threads N M:K:N:TA:TB:CALLS ...\n");
    return 2;
  }
  configure_threads(threads);
  double total_flop = 0, total_s = 0;
  std::string json = "[";
  for (const auto& s : specs) {
    long m, k, n, ta, tb, calls;
    if (std::sscanf(s.c_str(), "%ld:%ld:%ld:%ld:%ld:%ld", &m, &k, &n, &ta, &tb, &calls) != 6) {
      std::fprintf(stderr, "bad shape '%s' (want M:K:N:TA:TB:CALLS)\n", s.c_str());
      return 2;
    }
    // Allocated twice: the first large blocks are fresh page-aligned mmaps, on which the first
    // shape measured ran 8x slower (the host's buffers are reused from the heap instead).
    { Matrix scratch = Matrix::Random(ta ? k : m, ta ? m : k), scratch2 = Matrix::Random(tb ? n : k, tb ? k : n); }
    Matrix A = Matrix::Random(ta ? k : m, ta ? m : k), B = Matrix::Random(tb ? n : k, tb ? k : n);
    Matrix C = Matrix::Zero(m, n);
    const Trans TA = ta ? Trans::Yes : Trans::No, TB = tb ? Trans::Yes : Trans::No;
    const double flop = 2.0 * m * k * n;
    // Enough repetitions for ~0.2 s, best of 5 rounds (the floor: what the hardware allows).
    const long reps = std::max(1L, static_cast<long>(4e9 / flop));  // ~4 GFLOP a round
    // A full round of warm-up: the first ~0.1 s of a new shape runs several times slower.
    for (long r = 0; r < reps; ++r) gemm(C, A, TA, B, TB);
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
      const auto t0 = Clock::now();
      for (long r = 0; r < reps; ++r) gemm(C, A, TA, B, TB, 1.0f, 1.0f);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / reps);
    }
    const double gflops = flop / best / 1e9, epoch_s = best * calls;
    total_flop += flop * calls;
    total_s += epoch_s;
    std::printf("%5ld x %5ld x %5ld  %s%s  %8.1f GFLOP/s  %6ld calls  %7.3f s/epoch\n", m, k, n, ta ? "T" : "N",
                tb ? "T" : "N", gflops, calls, epoch_s);
    json += std::string(json.size() > 1 ? "," : "") + "{\"shape\":\"" + s + "\",\"gflops\":" + std::to_string(gflops) +
            ",\"seconds\":" + std::to_string(epoch_s) + "}";
  }
  std::printf("total %.2f GFLOP/epoch, GEMM floor %.3f s/epoch (%.1f GFLOP/s)\n", total_flop / 1e9, total_s,
              total_flop / 1e9 / total_s);
  std::printf("{\"gflop\":%f,\"seconds\":%f,\"shapes\":%s]}\n", total_flop / 1e9, total_s, json.c_str());
  return 0;
}
