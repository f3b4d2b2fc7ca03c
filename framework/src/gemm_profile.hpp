#pragma once
// UNROLL_GEMM_PROFILE=FILE: every unroll::gemm call is timed by shape, and FILE gets one JSON
// line per shape ({"m","k","n","ta","tb","calls","seconds"}) when the process exits. tools/bench
// uses it to split an epoch into its matrix products and the rest; it works on any experiment.
// Off, it costs one null check per product. The same file also gets one line per layer and
// phase ({"layer","phase","calls","seconds"}; phase forward_train, forward_eval or backward): the
// wall time of each Model::forward / backward step of that layer, what tools/bench sets beside
// oneDNN's RNN primitives (the data, the loss and the optimizer are not in it).
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace unroll {

class GemmProfile {
 public:
  /// The process's profile, or nullptr when UNROLL_GEMM_PROFILE is not set.
  static GemmProfile* get();

  explicit GemmProfile(std::string path) : path_(std::move(path)) {}
  ~GemmProfile();  // writes the file
  /// One product of C (m x n) = op(A) (m x k) op(B) that took `seconds`.
  void add(long m, long k, long n, bool ta, bool tb, double seconds);
  /// One forward or backward of a layer (phase: forward_train, forward_eval, backward).
  void add_layer(const std::string& layer, const char* phase, double seconds);

 private:
  struct Total {
    long calls = 0;
    double seconds = 0;
  };
  std::string path_;
  std::mutex mutex_;
  std::map<std::tuple<long, long, long, int, int>, Total> shapes_;
  std::map<std::pair<std::string, std::string>, Total> layers_;
};

}  // namespace unroll
