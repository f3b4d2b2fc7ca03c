#pragma once
// The ranks of a data-parallel run, as every part of unroll sees them — the host's trainer and
// plugins alike. `mpirun -np N unroll run FILE` starts N processes (ranks); each holds a replica
// of the model, trains on its slice of every global batch, and the gradients are summed across
// ranks before the update (docs/scaling.md). A one-process run has rank 0 of 1 and every
// collective below is the identity, so plugin code needs no special case.
//
// A plugin that must see the whole global batch (batch_norm with `sync: true`) calls
// unroll::communicator() in its forward/backward; it never includes host headers. The host
// installs the MPI communicator before building any component (host/distributed.hpp).
#include <cstddef>
#include <span>
#include <string>

namespace unroll {

/// Collectives over the ranks of the run. Every rank must make the same calls in the same
/// order with the same lengths (that is what a collective is); a rank that skips one hangs the
/// others. Results are identical on every rank.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank, 0 .. size()-1. Rank 0 writes the run folder.
  virtual int rank() const = 0;
  /// Number of ranks in the run (1: a plain one-process run).
  virtual int size() const = 0;
  /// Ranks on this machine (to share its cores between them).
  virtual int local_size() const = 0;
  /// Element-wise sum over every rank, in place.
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  /// Element-wise sum, scattered: `send` holds size() consecutive blocks, block r of counts[r]
  /// elements, and rank r receives the sum over every rank of block r in `recv` (counts[rank()]
  /// elements). With allgather below, the two halves of a ring allreduce: a sharded optimizer
  /// step runs between them on each rank's block only. One rank: recv = send.
  virtual void reduce_scatter_sum(std::span<const float> send, std::span<float> recv, std::span<const int> counts) = 0;
  /// Every rank's block of `all` (block r: counts[r] elements, blocks in rank order) to every
  /// rank, in place: this rank's block must be filled before the call. One rank: nothing to do.
  virtual void allgather(std::span<float> all, std::span<const int> counts) = 0;
  /// Overwrite `values` (or `text`) on every rank with rank `root`'s.
  virtual void broadcast(std::span<double> values, int root = 0) = 0;
  virtual void broadcast(std::string& text, int root = 0) = 0;
  /// Wait until every rank has arrived.
  virtual void barrier() = 0;
  /// End every rank of the job now with `code` (the launcher kills the others). For a failure
  /// on one rank that the others cannot know about: they would wait in a collective forever.
  [[noreturn]] virtual void abort(int code) = 0;
  /// "Open MPI v4.1.4" or "single process", for the run log.
  virtual std::string describe() const = 0;
};

/// The communicator of this process: the MPI one in a data-parallel run, else a one-rank one.
Communicator& communicator();

}  // namespace unroll
