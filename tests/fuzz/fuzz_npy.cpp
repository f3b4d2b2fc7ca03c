// Fuzzes the .npy reader that checkpoints and the pretrained initializer use.
#include <cstdint>
#include <string>

#include "unroll/error.hpp"
#include "unroll/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    unroll::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  } catch (const unroll::Error&) {
  }
  return 0;
}
