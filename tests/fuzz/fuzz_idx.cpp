// Fuzzes the IDX reader (plain and gzip) the idx and fashion_mnist datasets use: the input is
// decoded as an images file (3 dimensions) and as a labels file (1 dimension).
#include <cstdint>
#include <vector>

#include "idx_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  for (int ndims : {3, 1}) {
    try {
      unroll::idx::decode_array(bytes, "fuzz.idx", ndims, ndims == 3 ? "images" : "labels");
    } catch (const unroll::Error&) {
    }
  }
  return 0;
}
