// The MPI communicator (Boost.MPI over Open MPI). Built only when CMake finds MPI (UNROLL_MPI).
// Every collective is MPI's own; unroll adds none.
#include <mpi.h>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <cstdlib>
#include <vector>

#include "unroll/host/distributed.hpp"

namespace unroll {

namespace {

namespace mpi = boost::mpi;

class MpiCommunicator final : public Communicator {
 public:
  // "funneled": only the main thread calls MPI (the thread pool's workers never do). Exceptions
  // are unroll's to handle: a failing rank aborts the job itself (Communicator::abort).
  MpiCommunicator() : env_(mpi::threading::funneled, false) {
    // Ranks sharing this machine's memory, so that they can share its cores.
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_.rank(), MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }

  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }
  int local_size() const override { return local_size_; }
  // In-place sums call MPI_Allreduce with MPI_IN_PLACE directly: Boost.MPI's inplace() form
  // binds a C++ reference to MPI_IN_PLACE (address 1), undefined behaviour that UBSan reports.
  void allreduce_sum(std::span<float> v) override {
    if (!v.empty()) MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_FLOAT, MPI_SUM, world_);
  }
  void allreduce_sum(std::span<double> v) override {
    if (!v.empty()) MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, world_);
  }
  // Boost.MPI has no reduce-scatter and its all_gatherv copies; these are MPI's own calls.
  void reduce_scatter_sum(std::span<const float> send, std::span<float> recv, std::span<const int> counts) override {
    MPI_Reduce_scatter(send.data(), recv.data(), counts.data(), MPI_FLOAT, MPI_SUM, MPI_Comm(world_));
  }
  void allgather(std::span<float> all, std::span<const int> counts) override {
    displacements_.resize(counts.size());
    int at = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
      displacements_[r] = at;
      at += counts[r];
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all.data(), counts.data(), displacements_.data(), MPI_FLOAT,
                   MPI_Comm(world_));
  }
  void broadcast(std::span<double> v, int root) override {
    if (!v.empty()) mpi::broadcast(world_, v.data(), static_cast<int>(v.size()), root);
  }
  void broadcast(std::string& text, int root) override { mpi::broadcast(world_, text, root); }
  void barrier() override { world_.barrier(); }
  [[noreturn]] void abort(int code) override {
    world_.abort(code);
    std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
  }
  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    if (auto cut = v.find_first_of(",\n"); cut != std::string::npos) v.resize(cut);
    return v;
  }

 private:
  mpi::environment env_;  // MPI_Init_thread here, MPI_Finalize when the process exits
  mpi::communicator world_;
  int local_size_ = 1;
  std::vector<int> displacements_;  // allgather's, kept: one allocation per run
};

}  // namespace

std::unique_ptr<Communicator> detail::make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace unroll
