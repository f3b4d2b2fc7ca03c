#include "unroll/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>

#include "unroll/rng.hpp"

namespace unroll {

std::string GradCheckResult::summary() const {
  std::ostringstream s;
  s << (ok ? "ok" : "FAILED") << ": " << checked << " elements, " << failures << " wrong, " << kinks
    << " at kinks, relative error " << relative_error;
  if (!worst.empty()) s << "; worst " << worst;
  return s.str();
}

std::string GradCheckResult::tensor_summary() const {
  std::ostringstream bad;
  std::string good;
  bad.precision(3);
  for (const TensorCheck& t : tensors) {
    if (t.failures == 0) {
      good += (good.empty() ? "" : ", ") + t.name;
      continue;
    }
    if (bad.tellp() > 0) bad << "; ";
    bad << t.name << ": " << t.failures << " of " << t.checked << " wrong, max abs error " << t.max_abs_error << " at "
        << t.max_abs_at << ", max rel error " << t.max_rel_error << " at " << t.max_rel_at;
  }
  if (bad.tellp() == 0) return "";
  return bad.str() + (good.empty() ? "" : "; correct: " + good);
}

namespace {

void fill_normal(Matrix& m, Rng& rng, double scale) {
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(scale * rng.normal());
}

// Accumulates the per-element comparison.
struct Checker {
  const GradCheckOptions& opt;
  GradCheckResult res{};
  double diff2 = 0, a2 = 0, n2 = 0, worst_excess = -1;

  /// Later compare() calls belong to tensor `name`.
  void begin_tensor(const std::string& name) {
    TensorCheck t;
    t.name = name;
    res.tensors.push_back(std::move(t));
  }

  // where: the element "(r,c)" of the current tensor.
  void compare(const std::string& where, double analytic, double plus, double minus, double base) {
    TensorCheck& t = res.tensors.back();
    const std::string what = t.name + where;
    const double numeric = (plus - minus) / (2 * opt.step);
    const double tol = [&](double a, double n) {
      return opt.rel_tol * std::max(std::fabs(a), std::fabs(n)) + opt.abs_tol;
    }(analytic, numeric);
    double err = std::fabs(analytic - numeric);
    ++res.checked;
    ++t.checked;
    diff2 += err * err;
    a2 += analytic * analytic;
    n2 += numeric * numeric;
    if (err > tol) {
      // A kink: one-sided slopes disagree; any value between them is a valid subgradient.
      const double right = (plus - base) / opt.step, left = (base - minus) / opt.step;
      const double lo = std::min(left, right), hi = std::max(left, right);
      if (hi - lo > tol && analytic >= lo - tol && analytic <= hi + tol) {
        ++res.kinks;
        return;
      }
      ++res.failures;
      ++t.failures;
      res.ok = false;
    }
    const double rel = err / std::max({std::fabs(analytic), std::fabs(numeric), opt.abs_tol});
    if (err > t.max_abs_error || t.max_abs_at.empty()) {
      t.max_abs_error = err;
      t.max_abs_at = where;
    }
    if (rel > t.max_rel_error || t.max_rel_at.empty()) {
      t.max_rel_error = rel;
      t.max_rel_at = where;
    }
    if (err - tol > worst_excess) {
      worst_excess = err - tol;
      std::ostringstream s;
      s << what << ": analytic " << analytic << ", numeric " << numeric;
      res.worst = s.str();
    }
  }
  GradCheckResult finish() {
    res.relative_error = std::sqrt(diff2) / (std::sqrt(a2) + std::sqrt(n2) + 1e-30);
    return res;
  }
};

// Indices to check in a tensor of `size` elements: all, or a seeded subset.
std::vector<Eigen::Index> pick(Eigen::Index size, int max, Rng& rng) {
  std::vector<Eigen::Index> idx(size);
  std::iota(idx.begin(), idx.end(), 0);
  if (size > max) {
    for (Eigen::Index i = 0; i < max; ++i) std::swap(idx[i], idx[i + rng.below(size - i)]);
    idx.resize(max);
  }
  return idx;
}

// Element k of m as "(row,col)". Appended piece by piece: GCC 12 reports `"(" + std::string`
// here as an overlapping copy (-Wrestrict, a false positive: GCC bug 105651).
std::string element(const Matrix& m, Eigen::Index k) {
  std::string out = "(";
  out += std::to_string(k % m.rows());
  out += ',';
  out += std::to_string(k / m.rows());
  out += ')';
  return out;
}

}  // namespace

GradCheckResult check_layer_gradients(Layer& layer, const GradCheckOptions& opt) {
  Rng rng(opt.seed);
  const int T = opt.steps, B = opt.batch;
  Seq x, y, dy, dx;
  x.resize(layer.input_size(), T, B);
  if (opt.index_inputs > 0) {
    for (Eigen::Index k = 0; k < x.data.size(); ++k)
      x.data.data()[k] = static_cast<Scalar>(rng.below(static_cast<uint64_t>(opt.index_inputs)));
  } else {
    fill_normal(x.data, rng, opt.input_scale);
  }

  std::vector<Matrix> state0;
  if (layer.is_recurrent()) {
    layer.reset_state(B);
    state0 = layer.state();
    if (opt.nonzero_state)
      for (auto& s : state0) fill_normal(s, rng, 0.5);
  }
  const Rng noise_rng = rng.fork("layer-noise");  // the same stream for every forward pass

  auto run_forward = [&]() {
    if (layer.is_recurrent()) layer.set_state(state0);
    layer.set_epoch_rng(noise_rng);
    layer.forward(x, y, Mode::Train);
  };
  // The objective's weights take the output's shape, which is not always the input's: a
  // sequence reducer (last_step) keeps one step.
  run_forward();
  Matrix r(y.data.rows(), y.data.cols());
  fill_normal(r, rng, 1.0);

  auto objective = [&]() {
    run_forward();
    return (y.data.cast<double>().array() * r.cast<double>().array()).sum();
  };

  // Analytic gradients.
  auto params = layer.params();
  for (Param* p : params) p->grad.setZero();
  const double base = objective();
  dy.resize(layer.output_size(), y.steps, y.batch);
  dy.data = r;
  layer.backward(dy, dx, true);
  const Matrix dx_analytic = dx.data;
  std::vector<Matrix> dp;
  for (Param* p : params) dp.push_back(p->grad);
  std::vector<Matrix> ds = layer.initial_state_grad();

  Checker c{opt};
  auto perturb = [&](Matrix& m, const std::string& name, const Matrix& analytic, double base_value) {
    c.begin_tensor(name);
    for (Eigen::Index k : pick(m.size(), opt.max_per_tensor, rng)) {
      const Scalar orig = m.data()[k];
      m.data()[k] = static_cast<Scalar>(orig + opt.step);
      const double plus = objective();
      m.data()[k] = static_cast<Scalar>(orig - opt.step);
      const double minus = objective();
      m.data()[k] = orig;
      c.compare(element(m, k), analytic.data()[k], plus, minus, base_value);
    }
  };
  if (opt.index_inputs > 0) {  // no gradient w.r.t. an index: dx must be zeros of the input's shape
    ++c.res.checked;
    if (dx_analytic.rows() != x.data.rows() || dx_analytic.cols() != x.data.cols() || !dx_analytic.isZero(0)) {
      c.res.ok = false;
      ++c.res.failures;
      c.worst_excess = 1e300;  // this is the message to keep
      c.res.worst = layer.name() + ".input: dL/dx of an index input must be all zeros (max |dx| " +
                    std::to_string(dx_analytic.size() ? dx_analytic.cwiseAbs().maxCoeff() : 0.0f) + ")";
    }
  } else {
    perturb(x.data, layer.name() + ".input", dx_analytic, base);
  }
  for (size_t i = 0; i < params.size(); ++i) perturb(params[i]->value, params[i]->name, dp[i], base);
  if (layer.is_recurrent() && ds.size() == state0.size())
    for (size_t i = 0; i < state0.size(); ++i)
      perturb(state0[i], layer.name() + ".state" + std::to_string(i), ds[i], base);
  else if (layer.is_recurrent()) {
    c.res.ok = false;
    c.res.worst = layer.name() + ": initial_state_grad() returned " + std::to_string(ds.size()) +
                  " tensors, state() has " + std::to_string(state0.size());
  }
  return c.finish();
}

GradCheckResult check_loss_gradients(Loss& loss, int outputs, bool labels, const GradCheckOptions& opt) {
  Rng rng(opt.seed);
  const int cols = opt.steps * opt.batch;
  Matrix out(outputs, cols);
  fill_normal(out, rng, opt.input_scale);
  Targets t;
  t.steps = opt.steps;
  t.batch = opt.batch;
  if (labels) {
    for (int j = 0; j < cols; ++j) t.labels.push_back(static_cast<int32_t>(rng.below(outputs)));
  } else {
    t.values.resize(outputs, cols);
    for (Eigen::Index k = 0; k < t.values.size(); ++k) t.values.data()[k] = static_cast<Scalar>(rng.uniform());
  }
  Matrix grad;
  const double base = loss.evaluate(out, t, &grad);
  Checker c{opt};
  c.begin_tensor("output");
  for (Eigen::Index k : pick(out.size(), opt.max_per_tensor, rng)) {
    const Scalar orig = out.data()[k];
    out.data()[k] = static_cast<Scalar>(orig + opt.step);
    const double plus = loss.evaluate(out, t, nullptr);
    out.data()[k] = static_cast<Scalar>(orig - opt.step);
    const double minus = loss.evaluate(out, t, nullptr);
    out.data()[k] = orig;
    c.compare(element(out, k), grad.data()[k], plus, minus, base);
  }
  return c.finish();
}

}  // namespace unroll
