#pragma once
// `unroll check-plugin LIB`: loads one plugin library and checks every component it registers,
// so a plugin author learns about a wrong gradient before it costs a week of experiments.
//
// Per component (after a schema check: every option documented, the defaults — plus a value
// synthesized within range for each required option — pass validation):
//   layer        finite-difference gradient check (gradcheck.hpp) of dL/dx and every parameter,
//                1 step; recurrent layers also 4 steps from a random non-zero initial state,
//                including dL/d(initial state). Input 4 features, batch 3, random parameters.
//                A failure lists each wrong tensor: how many elements fail, the largest absolute
//                and relative errors and where. Recurrent layers: state carry (2 + 4 steps = 6
//                steps), set_state/state round trip, state_at, reset_state (layer_check.hpp).
//                Every layer: 1 and 2 threads give the same outputs and gradients, and two runs
//                with 2 threads are identical.
//   loss         gradient check with class labels and with real-valued targets (a loss may
//                refuse one of the two with an Error; refusing both fails); the loss and its
//                gradient on 4096 samples with 1 and 2 threads agree.
//   optimizer    200 steps at its own base lr on f(w) = 1/2 sum a_i (w_i - c_i)^2 lower f; a
//                frozen parameter is left alone; everything stays finite; 5 steps on a 256x256
//                parameter give the same values with 1 and 2 threads.
//   initializer  a 32x32 fill is finite and identical for the same seed; mean/std reported.
//   schedule     factor(epoch) finite and > 0 over 100 epochs (end_epoch called with metrics).
//   regularizer  penalty gradient against finite differences of the returned penalty (a failure
//                lists each wrong parameter, as for layers);
//                perturb() followed by restore() gives the parameters back exactly; gradients
//                and parameters stay finite through transform_gradients() and after_step().
//   dataset      batches have the declared shapes, labels lie in range, values are finite, and
//                two instances with the same seed give identical batches. Datasets that need a
//                file that is not there are skipped, not failed.
// Then, for a component that passed, the same checks again with one option at a time moved off
// its default, for each option whose schema declares choices, a boolean or a range (at most 8
// such variants): "with scale=2: ..." names the value a failure needs.
#include <string>
#include <vector>

#include "unroll/registry.hpp"

namespace unroll {

struct ComponentCheck {
  enum class Status { Pass, Fail, Skip };
  Kind kind = Kind::Layer;
  std::string name;
  Status status = Status::Pass;
  /// Largest relative error measured (gradient checks), or -1 when no gradient was checked.
  double error = -1;
  /// One line: what was measured, or why it failed / was skipped.
  std::string detail;
};

struct PluginCheckReport {
  std::string library;     // absolute path
  std::string load_error;  // non-empty: the host refused the library (nothing else was checked)
  std::vector<ComponentCheck> components;
  int count(ComponentCheck::Status s) const;
  /// Loaded, registered at least one component, and no component failed.
  bool ok() const;
};

/// Load `library` and check every component it registers. Components it refers to (a layer's
/// initializers, a nested schedule) come from the standard search path plus `extra_dirs`;
/// libraries there that clash with `library` are left out.
PluginCheckReport check_plugin(const std::string& library, const std::vector<std::string>& extra_dirs = {});

/// Check several libraries; the search path is loaded once for all of them.
std::vector<PluginCheckReport> check_plugins(const std::vector<std::string>& libraries,
                                             const std::vector<std::string>& extra_dirs = {});

/// The report as printed by the CLI: one PASS/FAIL/SKIP line per component and a total line.
std::string format_report(const PluginCheckReport& report);

}  // namespace unroll
