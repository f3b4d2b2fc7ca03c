// Launcher detection, starting MPI and rank slices (host/distributed.hpp). The one-rank
// communicator every process starts with is in communicator.cpp (plugin API); the MPI one is in
// distributed_mpi.cpp, compiled only when MPI is found.
#include "unroll/host/distributed.hpp"

#include "communicator_slot.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "unroll/error.hpp"

namespace unroll {

namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

}  // namespace

bool launched_as_rank() {
  // Open MPI's mpirun, then MPICH/Hydra or srun --mpi=pmi2 (PMI_SIZE), then PMIx launchers
  // (srun --mpi=pmix), which set a rank but no size of their own.
  if (const int n = env_int("OMPI_COMM_WORLD_SIZE")) return n > 1;
  if (const int n = env_int("PMI_SIZE")) return n > 1;
  if (std::getenv("PMIX_RANK")) return env_int("SLURM_STEP_NUM_TASKS") != 1;
  return false;
}

void start_distributed() {
  if (!launched_as_rank() || communicator().size() > 1) return;
#ifdef UNROLL_HAVE_MPI
  detail::install_communicator(detail::make_mpi_communicator());
#else
  throw Error(
      "this process was started by an MPI launcher as one of several ranks, but this unroll was built without MPI "
      "(UNROLL_MPI=OFF, or Boost.MPI/Open MPI not found when it was configured): every rank would train alone and "
      "write the same run folder. Install openmpi-bin, libopenmpi-dev and libboost-mpi-dev (tools/setup) and "
      "rebuild, or run without mpirun");
#endif
}

void GradientSum::sum(Communicator& comm, const std::vector<Param*>& params) {
  small_.clear();
  for (Param* p : params) {
    if (p->grad.size() >= kInPlaceFloats)
      comm.allreduce_sum(std::span<float>(p->grad.data(), static_cast<size_t>(p->grad.size())));
    else
      small_.insert(small_.end(), p->grad.data(), p->grad.data() + p->grad.size());
  }
  if (small_.empty()) return;
  comm.allreduce_sum(std::span<float>(small_));
  const float* summed = small_.data();
  for (Param* p : params)
    if (p->grad.size() < kInPlaceFloats) {
      std::copy_n(summed, p->grad.size(), p->grad.data());
      summed += p->grad.size();
    }
}

void average_buffers(Communicator& comm, const std::vector<std::pair<std::string, Matrix*>>& buffers) {
  // In double: the mean of identical values (synchronized statistics) is then exactly that value.
  std::vector<double> sum;
  for (const auto& [name, m] : buffers) sum.insert(sum.end(), m->data(), m->data() + m->size());
  if (sum.empty()) return;
  comm.allreduce_sum(std::span<double>(sum));
  size_t at = 0;
  for (const auto& [name, m] : buffers)
    for (Eigen::Index i = 0; i < m->size(); ++i) m->data()[i] = static_cast<Scalar>(sum[at++] / comm.size());
}

Slice rank_slice(size_t n, int rank, int size) {
  const size_t r = static_cast<size_t>(rank), s = static_cast<size_t>(size);
  const size_t base = n / s, extra = n % s;
  Slice out;
  out.begin = r * base + std::min(r, extra);
  out.end = out.begin + base + (r < extra ? 1 : 0);
  return out;
}

}  // namespace unroll
