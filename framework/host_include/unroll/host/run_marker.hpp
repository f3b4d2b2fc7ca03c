#pragma once
// What a run is doing right now: its phase ("train epoch 3") and the plugin call the host last
// entered ("layer 'bad0' forward"). A crash report needs both, and a fatal-signal handler cannot
// allocate or lock, so the mark lives in fixed-size plain storage: setting it is a few small
// copies, cheap enough to wrap every plugin call. The storage can be moved into memory shared
// with a supervising parent process (share()), which then still knows the last mark after the
// run process died of SIGKILL or a stack overflow on a thread without a signal stack.
#include <string>

namespace unroll::marker {

/// Longest texts kept (longer ones are cut).
constexpr int kPhaseChars = 48, kWhatChars = 16, kNameChars = 96, kCallChars = 16, kDepth = 8;

/// The mark itself, as plain data (the supervisor reads it from shared memory).
struct Mark {
  char phase[kPhaseChars];
  int epoch;  // 1-based epoch of the phase ("train epoch", "evaluate"), 0: none
  int depth;  // number of entered component scopes (only the innermost kDepth are kept)
  struct Entry {
    char what[kWhatChars];  // "layer", "dataset", "optimizer", ...
    char name[kNameChars];  // the component's name ("dense0") or kind ("adam")
    char call[kCallChars];  // "forward", "backward", "build", "batch", "step", ...
  } entries[kDepth];
  Entry thrown;    // the innermost component an exception left (kept after unwinding)
  int thrown_set;  // thrown holds the component of the exception in flight or last escaped
  int finished;    // set by the run process once it has recorded its own outcome
};

/// The current mark (async-signal-safe).
const Mark& current();
/// Move the mark into a MAP_SHARED page so that a child forked after this call and its parent
/// see the same mark. Returns it (the parent keeps the pointer). Idempotent.
Mark* share();

/// Set the phase: "build", "load data", "train epoch" (with epoch), "evaluate" (with epoch),
/// "checkpoint", "test". Clears nothing else.
void set_phase(const char* phase, int epoch = 0);

/// Marks a plugin call for the scope's lifetime; nested scopes report the innermost.
class ComponentScope {
 public:
  ComponentScope(const char* what, const std::string& name, const char* call);
  ~ComponentScope();
  ComponentScope(const ComponentScope&) = delete;
  ComponentScope& operator=(const ComponentScope&) = delete;

 private:
  int exceptions_;
};

/// Sets a phase for the scope's lifetime and restores the previous one (a checkpoint written
/// in the middle of an epoch's phase).
class PhaseScope {
 public:
  explicit PhaseScope(const char* phase);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  char saved_[kPhaseChars];
  int saved_epoch_;
};

/// "train epoch 3" (async-signal-safe; writes at most size-1 chars and a NUL).
void format_phase(const Mark& m, char* out, int size);
/// "layer 'dense0' forward": the innermost component entered, else the one the last escaping
/// exception left, else "" (async-signal-safe).
void format_component(const Mark& m, char* out, int size);
/// format_component into a std::string.
std::string component_text();
/// format_phase into a std::string.
std::string phase_text();

}  // namespace unroll::marker
