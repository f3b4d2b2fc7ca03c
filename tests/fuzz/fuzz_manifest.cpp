// Fuzzes the checkpoint manifest parser (manifest.json: progress, metrics rows, tensor entries),
// what --resume and the pretrained initializer read first.
#include <cstdint>
#include <string>

#include "unroll/error.hpp"
#include "unroll/host/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    unroll::parse_manifest(std::string(reinterpret_cast<const char*>(data), size), "manifest.json");
  } catch (const unroll::Error&) {
  }
  return 0;
}
