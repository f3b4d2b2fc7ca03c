#pragma once
// Deterministic random streams. No plugin keeps a global RNG: the host hands each consumer a
// stream derived from (experiment seed, consumer name), so results never depend on plugin load
// order or on which other components exist. The generator is
// xoshiro256** seeded through splitmix64; normals use Box-Muller. Both are specified bit for bit
// here, so numbers are identical across compilers and standard libraries.
#include <cmath>
#include <cstdint>
#include <string_view>

namespace unroll {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  /// Stream for a named consumer: Rng::derive(seed, "dense0.W").
  static Rng derive(uint64_t seed, std::string_view name) { return Rng(seed ^ hash(name)); }
  /// Child stream of this one (does not advance this stream).
  Rng fork(std::string_view name) const { return Rng(s_[0] ^ s_[2] ^ hash(name)); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix(x);
    has_spare_ = false;
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  /// Standard normal.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }
  double normal(double mean, double std) { return mean + std * normal(); }

  /// FNV-1a, so names map to seeds identically everywhere.
  static uint64_t hash(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace unroll
