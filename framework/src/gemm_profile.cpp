#include "gemm_profile.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "thread_pool.hpp"

namespace unroll {

GemmProfile* GemmProfile::get() {
  static const std::unique_ptr<GemmProfile> profile = [] {
    const char* path = std::getenv("UNROLL_GEMM_PROFILE");
    return path && *path ? std::make_unique<GemmProfile>(path) : nullptr;
  }();
  return profile.get();
}

GemmProfile::~GemmProfile() {
  if (FILE* f = std::fopen(path_.c_str(), "w")) {
    for (const auto& [key, v] : shapes_) {
      const auto& [m, k, n, ta, tb] = key;
      std::fprintf(f, "{\"m\":%ld,\"k\":%ld,\"n\":%ld,\"ta\":%d,\"tb\":%d,\"calls\":%ld,\"seconds\":%.6f}\n", m, k, n,
                   ta, tb, v.calls, v.seconds);
    }
    for (const auto& [key, v] : layers_)
      std::fprintf(f, "{\"layer\":\"%s\",\"phase\":\"%s\",\"calls\":%ld,\"seconds\":%.6f}\n", key.first.c_str(),
                   key.second.c_str(), v.calls, v.seconds);
    std::fclose(f);
  }
}

// Products inside a parallel region (a recurrent layer's per-thread time loop) run
// concurrently: each counts its share of the wall time, seconds / threads, so that the shapes'
// seconds add up to wall time.
void GemmProfile::add(long m, long k, long n, bool ta, bool tb, double seconds) {
  const double share = seconds / pool::region_threads();
  std::lock_guard<std::mutex> lock(mutex_);
  auto& v = shapes_[{m, k, n, ta, tb}];
  ++v.calls;
  v.seconds += share;
}

}  // namespace unroll

namespace unroll {

void GemmProfile::add_layer(const std::string& layer, const char* phase, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& v = layers_[{layer, phase}];
  ++v.calls;
  v.seconds += seconds;
}

}  // namespace unroll
