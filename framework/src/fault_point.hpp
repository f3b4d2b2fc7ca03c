#pragma once
// Fault injection for the fault tests (tests/test_faults.cpp): a named point in the code where a
// test can make the process die as a power cut would, at an exact moment that random kills hit
// only by luck (between the two renames of a checkpoint swap, say).
//
// Off unless the environment variable UNROLL_FAULT is set, to POINT or POINT:N — the N-th time
// (default 1) the process passes fault_point(POINT), it sends SIGKILL to its parent when that is
// the supervising `unroll run` (so nothing survives to clean up, as after a power cut) and then
// to itself. Reading one environment variable once is the whole cost when it is unset.
namespace unroll {

/// Die here if UNROLL_FAULT names this point (see the file comment). `point` is a literal such as
/// "checkpoint-between-renames"; docs/testing.md lists them.
void fault_point(const char* point);

}  // namespace unroll
