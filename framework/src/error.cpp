#include "unroll/error.hpp"

namespace unroll {
Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;  // key function: the vtable and type_info live in libunroll
}  // namespace unroll
