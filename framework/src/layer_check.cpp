#include "layer_check.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "thread_pool.hpp"
#include "unroll/host/trainer.hpp"
#include "unroll/rng.hpp"

namespace unroll {

namespace {

void fill_normal(Matrix& m, Rng& rng, double std) {
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<Scalar>(rng.normal(0, std));
}

// The layer's input: normal values, or for a layer that takes token indices (vocab > 0, an
// embedding) the integers 0, 1, ..., vocab - 1 over and over.
void fill_input(Matrix& x, Rng& rng, int vocab) {
  if (vocab > 0)
    for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = static_cast<Scalar>((k * 5 + 3) % vocab);
  else
    fill_normal(x, rng, 1.0);
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// Steps [t0, t0 + steps) of a sequence.
Seq slice(const Seq& s, int t0, int steps) {
  Seq out;
  out.resize(s.features(), steps, s.batch);
  out.data = s.data.middleCols(static_cast<Eigen::Index>(t0) * s.batch, out.data.cols());
  return out;
}

// "" when a and b agree within tol * (1 + largest |a|); else where and by how much they differ.
// Columns are laid out as steps of `batch` samples (types.hpp), so a column names its step.
std::string differ(const Matrix& a, const Matrix& b, double tol, int batch) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    return "shapes differ (" + std::to_string(a.rows()) + "x" + std::to_string(a.cols()) + " and " +
           std::to_string(b.rows()) + "x" + std::to_string(b.cols()) + ")";
  if (a.size() == 0) return "";
  const Matrix d = (a - b).cwiseAbs();
  Eigen::Index r = 0, c = 0;
  const double worst = d.maxCoeff(&r, &c);
  const double scale = 1 + a.cwiseAbs().maxCoeff();
  if (!(worst > tol * scale) && std::isfinite(worst)) return "";
  return "max abs difference " + num(worst) + " at row " + std::to_string(r) +
         (batch > 0 ? ", step " + std::to_string(c / batch) + ", sample " + std::to_string(c % batch)
                    : ", column " + std::to_string(c));
}

std::string differ_states(const std::vector<Matrix>& a, const std::vector<Matrix>& b, double tol) {
  if (a.size() != b.size()) return std::to_string(a.size()) + " state matrices against " + std::to_string(b.size());
  for (size_t k = 0; k < a.size(); ++k)
    if (std::string d = differ(a[k], b[k], tol, 0); !d.empty()) return "state " + std::to_string(k) + ": " + d;
  return "";
}

// The tolerance of "the same numbers computed in a different grouping" (halves vs the whole
// sequence: the all-steps products are made over fewer columns; float rounding only).
constexpr double kSameTol = 1e-4;

}  // namespace

std::vector<std::string> check_recurrent_state(Layer& layer, int vocab) {
  std::vector<std::string> problems;
  if (!layer.is_recurrent()) return problems;
  const int T = 6, T1 = 2, B = 3;
  Rng rng(11);
  Seq x;
  x.resize(layer.input_size(), T, B);
  fill_input(x.data, rng, vocab);
  layer.reset_state(B);
  std::vector<Matrix> s0 = layer.state();
  if (s0.empty())
    return {"state() after reset_state(" + std::to_string(B) + ") is empty: a recurrent layer has a state"};
  for (const Matrix& m : s0)
    if (m.cols() != B || !m.isZero(0))
      return {"reset_state(" + std::to_string(B) + ") must leave a zero state of " + std::to_string(B) +
              " columns, got " + std::to_string(m.rows()) + "x" + std::to_string(m.cols()) +
              (m.isZero(0) ? "" : " with non-zero values")};
  for (Matrix& m : s0) fill_normal(m, rng, 0.5);

  // set_state then state(): exactly what was set.
  layer.set_state(s0);
  if (std::string d = differ_states(s0, layer.state(), 0); !d.empty())
    problems.push_back("set_state/state round trip: state() right after set_state(s) is not s (" + d + ")");

  // One forward over all steps.
  Seq whole;
  layer.set_state(s0);
  layer.forward(x, whole, Mode::Eval);
  const std::vector<Matrix> s_whole = layer.state();
  std::vector<Matrix> at_mid, at_end;
  try {
    at_mid = layer.state_at(T1 - 1);
    at_end = layer.state_at(T - 1);
  } catch (const std::exception& e) {
    problems.push_back(std::string("state_at: threw after a ") + std::to_string(T) + "-step forward: " + e.what());
  }
  const bool reduced = whole.steps == 1 && T > 1;  // a recurrent layer that outputs its last step only

  // The same steps in two forwards: the second must start where the first ended.
  Seq first, second;
  layer.set_state(s0);
  layer.forward(slice(x, 0, T1), first, Mode::Eval);
  const std::vector<Matrix> s_first = layer.state();
  layer.forward(slice(x, T1, T - T1), second, Mode::Eval);
  const std::vector<Matrix> s_second = layer.state();
  const std::string split = std::to_string(T1) + " + " + std::to_string(T - T1) + " steps";
  const Matrix whole_tail = reduced ? Matrix(whole.data) : Matrix(whole.data.rightCols(second.data.cols()));
  if (!reduced)
    if (std::string d = differ(whole.data.leftCols(first.data.cols()), first.data, kSameTol, B); !d.empty())
      problems.push_back("state carry: the first forward of " + split + " differs from the first steps of one " +
                         std::to_string(T) + "-step forward from the same state (" + d + ")");
  if (std::string d = differ(whole_tail, second.data, kSameTol, B); !d.empty())
    problems.push_back("state carry: a forward over " + split + " differs from one " + std::to_string(T) +
                       "-step forward in its second part (" + d +
                       "); a forward must start from the state the previous forward ended in");
  if (std::string d = differ_states(s_whole, s_second, kSameTol); !d.empty())
    problems.push_back("state carry: the state after " + split + " differs from the state after one " +
                       std::to_string(T) + "-step forward (" + d + ")");

  // state_at: the states the halves passed through, and a place to continue from.
  if (!at_mid.empty() || !at_end.empty()) {
    if (std::string d = differ_states(s_first, at_mid, kSameTol); !d.empty())
      problems.push_back("state_at(" + std::to_string(T1 - 1) + ") after a " + std::to_string(T) +
                         "-step forward is not the state after step " + std::to_string(T1 - 1) + " (" + d + ")");
    if (std::string d = differ_states(s_whole, at_end, kSameTol); !d.empty())
      problems.push_back("state_at(" + std::to_string(T - 1) + ") is not state() after a " + std::to_string(T) +
                         "-step forward (" + d + ")");
    if (!at_mid.empty()) {
      layer.reset_state(B);
      Seq scratch, resumed;
      layer.forward(slice(x, 0, 1), scratch, Mode::Eval);  // some other state in between
      layer.set_state(at_mid);
      layer.forward(slice(x, T1, T - T1), resumed, Mode::Eval);
      if (std::string d = differ(whole_tail, resumed.data, kSameTol, B); !d.empty())
        problems.push_back("set_state(state_at(" + std::to_string(T1 - 1) +
                           ")) does not continue the sequence: the "
                           "next steps differ from the whole forward's (" +
                           d + ")");
    }
  }
  layer.reset_state(B);
  return problems;
}

std::vector<std::string> check_thread_counts(Layer& layer, int vocab) {
  // 64 samples: the recurrent time loop gives each of 2 threads 32 columns (it splits from 16 per
  // thread), element-wise work with small grains is split, and the products are not tiny.
  const int T = layer.is_recurrent() ? 3 : 2, B = 64;
  Rng rng(13);
  Seq x, dy_seq;
  x.resize(layer.input_size(), T, B);
  fill_input(x.data, rng, vocab);
  std::vector<Matrix> s0;
  if (layer.is_recurrent()) {
    layer.reset_state(B);
    s0 = layer.state();
    for (Matrix& m : s0) fill_normal(m, rng, 0.5);
  }
  const Rng noise = rng.fork("layer-noise");
  Matrix dy;  // drawn once the output's shape is known

  struct Pass {
    std::vector<std::pair<std::string, Matrix>> tensors;  // y, dx, parameter gradients, state gradients
  };
  auto pass = [&](int threads) {
    configure_threads(threads);
    if (layer.is_recurrent()) layer.set_state(s0);
    layer.set_epoch_rng(noise);
    for (Param* p : layer.params()) p->grad.setZero();
    Seq y, dx;
    layer.forward(x, y, Mode::Train);
    if (dy.size() == 0) {
      dy.resize(y.data.rows(), y.data.cols());
      Rng r(17);
      fill_normal(dy, r, 1.0);
    }
    dy_seq.resize(layer.output_size(), y.steps, y.batch);
    dy_seq.data = dy;
    layer.backward(dy_seq, dx, true);
    Pass out;
    out.tensors.emplace_back("output", y.data);
    out.tensors.emplace_back("dL/dx", dx.data);
    for (Param* p : layer.params()) out.tensors.emplace_back(p->name + " gradient", p->grad);
    const std::vector<Matrix> ds = layer.initial_state_grad();
    for (size_t k = 0; k < ds.size(); ++k)
      out.tensors.emplace_back("dL/d(initial state " + std::to_string(k) + ")", ds[k]);
    return out;
  };
  const int before = pool::threads();
  std::vector<std::string> problems;
  try {
    const Pass one = pass(1), two = pass(2), again = pass(2);
    for (size_t i = 0; i < one.tensors.size() && i < two.tensors.size(); ++i) {
      const auto& [name, a] = one.tensors[i];
      const int batch = i < 2 ? B : 0;  // output and dx have a step layout
      if (std::string d = differ(a, two.tensors[i].second, kSameTol / 10, batch); !d.empty())
        problems.push_back("threads: the " + name + " with 2 threads differs from 1 thread (" + d +
                           "); split work by samples or elements so that no value depends on the split");
      if (std::string d = differ(two.tensors[i].second, again.tensors[i].second, 0, batch); !d.empty())
        problems.push_back("threads: two runs with 2 threads give different " + name + " (" + d +
                           "); a race, or a sum whose order depends on timing");
    }
  } catch (...) {
    configure_threads(before);
    throw;
  }
  configure_threads(before);
  if (layer.is_recurrent()) layer.reset_state(B);
  return problems;
}

}  // namespace unroll
