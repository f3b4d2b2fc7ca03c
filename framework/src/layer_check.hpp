#pragma once
// The checks `unroll check-plugin` makes of a layer besides its gradients: the recurrent state
// contract of layer.hpp, and thread-count independence. Each returns the problems it found (empty
// when the layer passed), every one a sentence that names what failed and where. `vocab` > 0: the
// layer takes token indices in [0, vocab) (an embedding), which its inputs then are.
#include <string>
#include <vector>

#include "unroll/layer.hpp"

namespace unroll {

/// Recurrent layers (eval mode, from a random non-zero state):
///   - state carry: a forward over steps [0, 2) then one over [2, 6) gives the outputs and the
///     final state of one forward over [0, 6);
///   - set_state/state round trip: state() returns exactly what set_state() was given;
///   - state_at(t): the state after step t of the last forward (t = 1 equals the state after
///     the first half, t = 5 equals state()), and set_state(state_at(1)) continues the sequence
///     as the whole forward did;
///   - reset_state(B) zeroes the state.
std::vector<std::string> check_recurrent_state(Layer& layer, int vocab = 0);

/// Every layer (train mode, a batch wide enough that the time loop, parallel_for with small
/// grains and the matrix products are split): forward outputs, dL/dx, parameter gradients and
/// dL/d(initial state) with 2 threads equal those with 1 (up to float rounding: 1e-5 of
/// 1 + the tensor's largest magnitude), and two runs with 2 threads are identical bit for bit. Restores the
/// thread count it found.
std::vector<std::string> check_thread_counts(Layer& layer, int vocab = 0);

}  // namespace unroll
