// communicator() (<unroll/communicator.hpp>): the one-rank communicator every process starts
// with, and the slot the host's start_distributed() puts the MPI one in. It lives in the plugin
// API library because plugins call communicator(); starting MPI is the host's business.
#include "communicator_slot.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace unroll {

namespace {

/// A plain run: rank 0 of 1, where every collective is the identity.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void reduce_scatter_sum(std::span<const float> send, std::span<float> recv, std::span<const int>) override {
    std::copy(send.begin(), send.begin() + static_cast<std::ptrdiff_t>(recv.size()), recv.begin());
  }
  void allgather(std::span<float>, std::span<const int>) override {}
  void broadcast(std::span<double>, int) override {}
  void broadcast(std::string&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
  std::string describe() const override { return "single process"; }
};

std::unique_ptr<Communicator>& installed() {
  static std::unique_ptr<Communicator> c = std::make_unique<SingleProcess>();
  return c;
}

}  // namespace

Communicator& communicator() { return *installed(); }

namespace detail {
void install_communicator(std::unique_ptr<Communicator> c) { installed() = std::move(c); }
}  // namespace detail

}  // namespace unroll
