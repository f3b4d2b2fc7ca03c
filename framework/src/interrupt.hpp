#pragma once
// The stop request that SIGINT/SIGTERM (or request_interrupt) leave for a running trainer, which
// looks at it between batches. The handlers are declared in unroll/host/trainer.hpp.

namespace unroll {

/// The signal that asked the run to stop, or 0.
int interrupt_requested();

}  // namespace unroll
