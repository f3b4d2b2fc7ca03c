#pragma once
// Starting a data-parallel run, and the arithmetic of splitting work between its ranks. The
// Communicator itself is public (<unroll/communicator.hpp>) because plugins use it too.
//
// Data-parallel training (docs/scaling.md): every rank holds a replica of the model and takes a
// contiguous slice of each global batch (train.batch, as in a one-process run), from the same
// seed-derived permutation on every rank. Each rank backpropagates the SUM of its loss terms;
// one allreduce per update sums the gradients and the loss counts, and the sum divided by the
// GLOBAL count is the one-process gradient up to float summation order; every rank then
// applies the same update.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "unroll/communicator.hpp"
#include "unroll/param.hpp"

namespace unroll {

/// True when this process was started by an MPI launcher (mpirun/mpiexec, or srun with a PMI
/// plugin) as one of several ranks, judged from the launcher's environment variables. A plain
/// `unroll run` never initializes MPI.
bool launched_as_rank();

/// If launched_as_rank(), initialize MPI (thread level "funneled": only the main thread calls
/// MPI; the thread pool never does) and install it as communicator(); MPI is finalized when the
/// process exits. Otherwise communicator() stays the one-rank one. Throws Error when launched as
/// a rank by a host built without MPI (every rank would train alone and write the same folder).
void start_distributed();

/// A contiguous slice of n items for `rank` of `size`: [begin, end). The first n % size ranks
/// get one item more, so slice sizes differ by at most one and depend only on (n, rank, size).
struct Slice {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};
Slice rank_slice(size_t n, int rank, int size);

/// The gradient sum of a data-parallel update, in place. Before it, the ranks have agreed on the
/// window's global loss count and backpropagated with it (Trainer::agree_on_window), so each
/// rank's gradient is already its share of the global mean and the sum needs no scaling after.
/// A gradient of at least kInPlaceFloats is summed where it lies; the smaller ones share one
/// buffer and one allreduce. Copying a large gradient into a buffer and back cost ~10% of a
/// 2-rank MLP update here; a separate allreduce per small gradient would pay a message latency
/// each (tens of microseconds across Ethernet), which is about what copying 64K floats costs.
class GradientSum {
 public:
  static constexpr Eigen::Index kInPlaceFloats = 65536;
  /// Replace every gradient by its sum over the ranks (a collective: every rank calls it with
  /// the same parameters in the same order).
  void sum(Communicator& comm, const std::vector<Param*>& params);

 private:
  std::vector<float> small_;  // the small gradients, end to end; kept: one allocation per run
};

/// Replace each buffer (batch-norm running statistics) by its mean over the ranks.
void average_buffers(Communicator& comm, const std::vector<std::pair<std::string, Matrix*>>& buffers);

namespace detail {
/// The MPI communicator (distributed_mpi.cpp; only in builds with MPI).
std::unique_ptr<Communicator> make_mpi_communicator();
}  // namespace detail

}  // namespace unroll
