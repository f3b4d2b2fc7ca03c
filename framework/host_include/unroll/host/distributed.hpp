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

/// The one collective of a data-parallel update: every parameter's gradient and a few numbers of
/// the window (the trainer's loss sum, counts and stop flag) packed into one float buffer and
/// summed over the ranks by ONE allreduce. Many small messages would each pay the network's
/// latency, and on a busy machine every collective also waits for the slowest rank to be
/// scheduled; one buffer pays both once. The numbers travel as floats: counts are exact below
/// 2^24, a loss sum keeps float precision (relative 6e-8).
class GradientSum {
 public:
  /// Pack, allreduce, and return the summed `extras`. The summed gradients stay in the buffer
  /// until unpack(), because how to scale them depends on the summed extras.
  std::vector<double> sum(Communicator& comm, const std::vector<Param*>& params, std::span<const double> extras);
  /// Write the summed gradients back into the parameters, multiplied by `scale`.
  void unpack(const std::vector<Param*>& params, float scale) const;

 private:
  std::vector<float> buffer_;  // kept between updates: one allocation per run
};

/// Replace each buffer (batch-norm running statistics) by its mean over the ranks.
void average_buffers(Communicator& comm, const std::vector<std::pair<std::string, Matrix*>>& buffers);

namespace detail {
/// The MPI communicator (distributed_mpi.cpp; only in builds with MPI).
std::unique_ptr<Communicator> make_mpi_communicator();
}  // namespace detail

}  // namespace unroll
