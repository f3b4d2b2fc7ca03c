#pragma once
// Internal to the libraries (not a public header): how the host replaces the one-rank
// communicator with the MPI one when a run starts as one of several ranks (distributed.cpp).
#include <memory>

#include "unroll/communicator.hpp"

namespace unroll::detail {
/// Make `c` what communicator() returns from now on.
void install_communicator(std::unique_ptr<Communicator> c);
}  // namespace unroll::detail
