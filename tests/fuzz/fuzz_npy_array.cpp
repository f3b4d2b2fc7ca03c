// Fuzzes the reader behind the `npy` dataset (unroll::NpyArray): the input is written to a file
// and opened both as a .npy file (memory-mapped) and as a .npz archive (minizip: every member
// that ends in .npy, stored ones mapped in place, deflated ones inflated). Every array that
// opens is read back — its first, last and a spread of elements in between, through `at`,
// `integer` and `to_float` — so a header that passes the checks but points past the mapping
// is a sanitizer report, not a silent read. A clean unroll::Error is the expected outcome.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/npy_array.hpp"

namespace {

std::string g_file;

void read_back(const unroll::NpyArray& a) {
  const std::size_t n = a.size();
  if (n == 0) return;
  // Both ends and 62 elements between them: enough to catch an offset outside the data
  // (Fortran order, byte swapping) without walking a million-element array per input.
  volatile double sink = 0;
  for (std::size_t k = 0; k < 64; ++k) {
    const std::size_t i = k == 63 ? n - 1 : n / 64 * k;
    sink = sink + a.at(i) + static_cast<double>(a.integer(i));
  }
  const std::size_t count = std::min<std::size_t>(n, 256);
  std::vector<float> out(count);
  a.to_float(n - count, count, out.data());
  sink = sink + out[0];
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/unroll-fuzz-npy-array-XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  g_file = std::string(dir) + "/data";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::ofstream(g_file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    read_back(unroll::NpyArray::open(g_file));
  } catch (const unroll::Error&) {
  }
  std::vector<std::string> names;
  try {
    names = unroll::NpyArray::npz_names(g_file);
  } catch (const unroll::Error&) {
  }
  // A crafted central directory can list thousands of members; eight cover stored, deflated and
  // broken ones without making one input cost seconds.
  if (names.size() > 8) names.resize(8);
  for (const auto& name : names) {
    try {
      read_back(unroll::NpyArray::open_npz(g_file, name));
    } catch (const unroll::Error&) {
    }
  }
  return 0;
}
