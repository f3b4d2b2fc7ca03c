#include "unroll/host/run_marker.hpp"

#include <sys/mman.h>

#include <cstring>
#include <exception>

namespace unroll::marker {

namespace {

Mark g_local{};
Mark* g_mark = &g_local;

// strncpy that always terminates and never reads past the source's end (async-signal-safe).
void copy(char* dst, const char* src, int size) {
  int i = 0;
  for (; src && src[i] && i < size - 1; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

// Appends src to out at *pos, keeping room for the NUL.
void append(char* out, int size, int* pos, const char* src) {
  for (int i = 0; src[i] && *pos < size - 1; ++i) out[(*pos)++] = src[i];
  out[*pos] = '\0';
}

void append_int(char* out, int size, int* pos, int v) {
  char digits[16];
  int n = 0;
  unsigned u = v < 0 ? 0u - static_cast<unsigned>(v) : static_cast<unsigned>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u && n < 15);
  if (v < 0) append(out, size, pos, "-");
  char rev[16];
  for (int i = 0; i < n; ++i) rev[i] = digits[n - 1 - i];
  rev[n] = '\0';
  append(out, size, pos, rev);
}

}  // namespace

const Mark& current() { return *g_mark; }

Mark* share() {
  if (g_mark != &g_local) return g_mark;
  void* p = ::mmap(nullptr, sizeof(Mark), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return g_mark;  // the mark stays private: the report loses nothing but SIGKILL's
  std::memcpy(p, &g_local, sizeof(Mark));
  g_mark = static_cast<Mark*>(p);
  return g_mark;
}

void set_phase(const char* phase, int epoch) {
  copy(g_mark->phase, phase, kPhaseChars);
  g_mark->epoch = epoch;
}

ComponentScope::ComponentScope(const char* what, const std::string& name, const char* call)
    : exceptions_(std::uncaught_exceptions()) {
  const int d = g_mark->depth;
  g_mark->thrown_set = 0;  // a new call: an earlier exception has been dealt with
  if (d >= 0 && d < kDepth) {
    Mark::Entry& e = g_mark->entries[d];
    copy(e.what, what, kWhatChars);
    copy(e.name, name.c_str(), kNameChars);
    copy(e.call, call, kCallChars);
  }
  g_mark->depth = d + 1;
}
ComponentScope::~ComponentScope() {
  const int d = --g_mark->depth;
  // Unwinding an exception: remember the innermost component it left, for the failure report.
  if (std::uncaught_exceptions() > exceptions_ && !g_mark->thrown_set && d >= 0 && d < kDepth) {
    g_mark->thrown = g_mark->entries[d];
    g_mark->thrown_set = 1;
  }
}

PhaseScope::PhaseScope(const char* phase) : saved_epoch_(g_mark->epoch) {
  std::memcpy(saved_, g_mark->phase, kPhaseChars);
  copy(g_mark->phase, phase, kPhaseChars);
}
PhaseScope::~PhaseScope() {
  std::memcpy(g_mark->phase, saved_, kPhaseChars);
  g_mark->epoch = saved_epoch_;
}

void format_phase(const Mark& m, char* out, int size) {
  int pos = 0;
  out[0] = '\0';
  append(out, size, &pos, m.phase[0] ? m.phase : "start-up");
  if (m.epoch > 0) {
    append(out, size, &pos, m.phase[0] && std::strcmp(m.phase, "train epoch") == 0 ? " " : " (epoch ");
    append_int(out, size, &pos, m.epoch);
    if (std::strcmp(m.phase, "train epoch") != 0) append(out, size, &pos, ")");
  }
}

void format_component(const Mark& m, char* out, int size) {
  int pos = 0;
  out[0] = '\0';
  if (m.depth <= 0 && !m.thrown_set) return;
  const Mark::Entry& e = m.depth > 0 ? m.entries[(m.depth > kDepth ? kDepth : m.depth) - 1] : m.thrown;
  append(out, size, &pos, e.what);
  append(out, size, &pos, " '");
  append(out, size, &pos, e.name);
  append(out, size, &pos, "' ");
  append(out, size, &pos, e.call);
}

std::string component_text() {
  char buf[kWhatChars + kNameChars + kCallChars + 8];
  format_component(current(), buf, sizeof buf);
  return buf;
}

std::string phase_text() {
  char buf[kPhaseChars + 24];
  format_phase(current(), buf, sizeof buf);
  return buf;
}

}  // namespace unroll::marker
