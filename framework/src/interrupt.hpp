#pragma once
// The stop request that SIGINT/SIGTERM (or request_interrupt) leave for a running trainer, which
// looks at it between batches. The handlers are declared in unroll/host/trainer.hpp.

#include <string>

namespace unroll {

/// The signal that asked the run to stop, or 0.
int interrupt_requested();

/// Rank 0 of a data-parallel run: on SIGINT/SIGTERM, also append `note` to the file `path`
/// (log.txt). mpirun ends a job whose rank died by signalling the others, which may be waiting
/// inside a collective and never reach the next batch; the note records why. When the run does
/// stop cleanly at the next batch, log.txt is rewritten from memory and the note is gone.
void note_signal_in(const std::string& path, const std::string& note);

}  // namespace unroll
