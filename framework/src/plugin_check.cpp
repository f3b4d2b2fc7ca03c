#include "unroll/host/plugin_check.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "layer_check.hpp"
#include "thread_pool.hpp"
#include "unroll/host/trainer.hpp"
#include "unroll/gradcheck.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"

namespace fs = std::filesystem;

namespace unroll {

int PluginCheckReport::count(ComponentCheck::Status s) const {
  return static_cast<int>(
      std::count_if(components.begin(), components.end(), [s](const auto& c) { return c.status == s; }));
}

bool PluginCheckReport::ok() const {
  return load_error.empty() && !components.empty() && count(ComponentCheck::Status::Fail) == 0;
}

namespace {

using Status = ComponentCheck::Status;

// Thrown by a check to end it with SKIP (a dataset whose files are absent).
struct Skip {
  std::string why;
};

std::string num(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// ---------------------------------------------------------------- schema

// Every option documented, recursively into plain blocks.
void check_docs(const Schema& s, const std::string& prefix, std::vector<std::string>& problems) {
  if (s.summary().empty() && prefix.empty()) problems.push_back("the schema has no summary");
  for (const auto& o : s.options()) {
    if (o.doc.empty()) problems.push_back("option '" + prefix + o.name + "' has no doc line");
    if (o.type == OptType::Block && o.block_schema) check_docs(*o.block_schema, prefix + o.name + ".", problems);
  }
}

// A value inside the declared range for a required option, as YAML text; "" when none can be
// made up (a file name).
std::string synthesize(const OptionSpec& o, const PluginHost& host) {
  auto within = [&](double want, bool integer) {
    double lo = o.min, hi = o.max;
    if (integer) {
      if (std::isfinite(lo)) lo = o.min_exclusive ? std::floor(lo) + 1 : std::ceil(lo);
      if (std::isfinite(hi)) hi = o.max_exclusive ? std::ceil(hi) - 1 : std::floor(hi);
    }
    const bool lo_bad = std::isfinite(lo) && (want < lo || (!integer && o.min_exclusive && want <= lo));
    const bool hi_bad = std::isfinite(hi) && (want > hi || (!integer && o.max_exclusive && want >= hi));
    if (lo_bad || hi_bad) {
      if (std::isfinite(lo) && std::isfinite(hi))
        want = integer ? lo : (lo + hi) / 2;
      else if (lo_bad)
        want = integer ? lo : lo + 1;
      else
        want = integer ? hi : hi - 1;
    }
    if (integer) return std::to_string(static_cast<long long>(want));
    return num(want);
  };
  switch (o.type) {
    case OptType::Int: return within(3, true);
    case OptType::Float: return within(0.5, false);
    case OptType::Bool: return "false";
    case OptType::Choice: return o.choices.empty() ? "" : o.choices.front();
    case OptType::FloatList: return "[" + within(0.5, false) + "]";
    case OptType::IntList: return "[" + within(3, true) + "]";
    case OptType::Block: return "{}";
    case OptType::Map: return "";
    case OptType::Component: {
      for (Kind k : all_kinds())
        if (kind_name(k) == o.component_kind) {
          const auto names = host.registry().names(k);
          if (!names.empty()) return "{kind: " + names.front() + "}";
        }
      return "";
    }
    case OptType::String: return "";
  }
  return "";
}

// The block a user writing only the required options would write, validated.
Node minimal_block(const ComponentTable::Entry& e, const PluginHost& host) {
  Node block = Node::map(SourceLoc{"<check-plugin>", 0, 0});
  block.set("kind", Node::scalar(e.schema.name()));
  for (const auto& o : e.schema.options()) {
    // An empty list default usually means "you must list something" (multistep milestones).
    const bool empty_list = (o.type == OptType::FloatList || o.type == OptType::IntList) &&
                            (o.default_yaml.empty() || o.default_yaml == "[]");
    if (!o.required && !empty_list) continue;
    const std::string text = synthesize(o, host);
    if (text.empty())
      throw Skip{"needs a value for its required " + to_string(o.type) + " option '" + o.name +
                 "' (check it through an experiment that sets it)"};
    Node v = parse_yaml(text, "<check-plugin: " + e.schema.name() + "." + o.name + ">");
    block.set(o.name, v);
  }
  try {
    return validate_component(block, e.kind, host);
  } catch (const Error& err) {
    throw Error("the defaults do not validate: " + std::string(err.what()));
  }
}

bool has_string_option(const Schema& s) {
  return std::any_of(s.options().begin(), s.options().end(), [](const auto& o) { return o.type == OptType::String; });
}

bool finite(const Matrix& m) { return m.allFinite(); }

void fill_normal(Matrix& m, Rng& rng, double std) {
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<Scalar>(rng.normal(0, std));
}

// f() run with 1 thread, with 2, and with 2 again (the thread count found is restored): what an
// optimizer step or a loss computes may not depend on the split beyond float rounding, and may
// not change between two runs with the same count. Returns the problems found (none: empty).
template <class F>
std::vector<std::string> compare_thread_counts(F&& f) {
  const int before = pool::threads();
  std::vector<Matrix> one, two, again;
  try {
    configure_threads(1);
    one = f();
    configure_threads(2);
    two = f();
    again = f();
  } catch (...) {
    configure_threads(before);
    throw;
  }
  configure_threads(before);
  std::vector<std::string> problems;
  for (size_t i = 0; i < one.size(); ++i) {
    const double scale = 1 + one[i].cwiseAbs().maxCoeff();
    const double d12 = (one[i] - two[i]).cwiseAbs().maxCoeff(), d22 = (two[i] - again[i]).cwiseAbs().maxCoeff();
    if (!(d12 <= 1e-5 * scale))
      problems.push_back("threads: result " + std::to_string(i) + " with 2 threads differs from 1 thread by " +
                         num(d12));
    if (d22 != 0)
      problems.push_back("threads: two runs with 2 threads differ by " + num(d22) + " in result " + std::to_string(i));
  }
  return problems;
}

// ---------------------------------------------------------------- options other than the defaults

bool in_range(const OptionSpec& o, double v) {
  if (!std::isfinite(v)) return false;
  if (o.min_exclusive ? !(v > o.min) : !(v >= o.min)) return false;
  return o.max_exclusive ? v < o.max : v <= o.max;
}

// Values other than the default for an option whose schema bounds them: the other choices, the
// other boolean, a number inside a declared range. Options without a declared range or choices
// are left at their defaults (nothing says which values are meant to work).
std::vector<std::string> other_values(const OptionSpec& o) {
  std::vector<std::string> out;
  const bool bounded = std::isfinite(o.min) || std::isfinite(o.max);
  switch (o.type) {
    case OptType::Bool: out.push_back(o.default_yaml == "true" ? "false" : "true"); break;
    case OptType::Choice:
      for (const auto& c : o.choices)
        if (c != o.default_yaml && out.size() < 3) out.push_back(c);
      break;
    case OptType::Int: {
      if (!bounded || o.default_yaml.empty()) break;
      const long long d = std::stoll(o.default_yaml);
      for (long long v : {d + 1, d - 1, 2 * d})
        if (v != d && in_range(o, static_cast<double>(v))) {
          out.push_back(std::to_string(v));
          break;
        }
      break;
    }
    case OptType::Float: {
      if (!bounded || o.default_yaml.empty()) break;
      const double d = std::stod(o.default_yaml);
      const double mid = std::isfinite(o.min) && std::isfinite(o.max) ? (o.min + o.max) / 2 : NAN;
      for (double v : {2 * d, d / 2, d + 1, d - 1, mid, o.min + 1, o.max - 1})
        if (v != d && in_range(o, v)) {
          out.push_back(num(v));
          break;
        }
      break;
    }
    default: break;
  }
  return out;
}

// The validated block with one option changed, for each option other_values() gives values for
// (at most 8 in all, in declared order).
std::vector<std::pair<std::string, Node>> option_variants(const ComponentTable::Entry& e, const Node& block,
                                                          const PluginHost& host) {
  std::vector<std::pair<std::string, Node>> out;
  for (const auto& o : e.schema.options()) {
    if (o.required) continue;  // minimal_block made its value up already
    for (const std::string& v : other_values(o)) {
      if (out.size() == 8) return out;
      Node b = block;
      b.set(o.name, parse_yaml(v, "<check-plugin: " + e.schema.name() + "." + o.name + ">"));
      try {
        out.emplace_back(o.name + "=" + v, validate_component(b, e.kind, host));
      } catch (const Error&) {
        // The value passes the option's own range but not a rule between options: not a variant.
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- per kind

void check_layer(ComponentCheck& out, const ComponentTable::Entry& e, const PluginHost& host, const Node& given) {
  // A layer with an integer `vocab` option takes token indices (an embedding): one feature
  // holding integers in [0, vocab), with vocab 0 ("the data's") given 7 here.
  const OptionSpec* vocab_spec = e.schema.find("vocab");
  const int vocab = vocab_spec && vocab_spec->type == OptType::Int ? 7 : 0;
  const Node block = vocab ? with_data_vocab(given, e.schema, vocab) : given;
  const int input = vocab ? 1 : 4;
  const std::string lname = e.schema.name() + "0";
  HostBuildContext ctx(host, lname, input, 1, fs::current_path().string());
  auto layer = host.build<Layer>(Kind::Layer, block, ctx);
  layer->bind(LayerContext{lname, input});
  // The declared initializers first (as the trainer runs them), then noise on top: a weight
  // initialized to zero would make a wrong dL/dx invisible.
  Rng noise(7);
  for (Param* p : layer->params()) {
    if (!p->init.is_null() || !p->blocks.empty()) {
      try {
        initialize_param(*p, host, 1, fs::current_path().string());
      } catch (const Error&) {
        fill_normal(p->value, noise, 0.5);  // the initializer is not available here
      }
    }
    for (Eigen::Index k = 0; k < p->value.size(); ++k) p->value.data()[k] += static_cast<Scalar>(noise.normal(0, 0.1));
  }

  // Several steps too: recurrent layers carry state through them, and sequence reducers
  // (last_step) only differ from the identity there.
  const std::vector<int> step_counts{1, layer->is_recurrent() ? 4 : 3};
  std::string detail;
  double worst = 0;
  for (int steps : step_counts) {
    GradCheckOptions opt;
    opt.steps = steps;
    opt.batch = 3;
    opt.index_inputs = vocab;
    const GradCheckResult r = check_layer_gradients(*layer, opt);
    worst = std::max(worst, r.relative_error);
    if (!detail.empty()) detail += "; ";
    detail += "steps " + std::to_string(steps) + (steps > 1 && layer->is_recurrent() ? " from a non-zero state" : "") +
              ": " + std::to_string(r.checked) + " elements, relative error " + num(r.relative_error);
    if (!r.ok) {
      out.status = Status::Fail;
      detail += ", " + std::to_string(r.failures) + " wrong; worst " + r.worst;
      if (const std::string per = r.tensor_summary(); !per.empty()) detail += "; per tensor: " + per;
    }
    if (r.checked == 0) {
      out.status = Status::Fail;
      detail += " (nothing was checked)";
    }
  }
  // Eval mode must run too and give finite outputs.
  Seq x, y;
  x.resize(input, 2, 3);
  fill_normal(x.data, noise, 1.0);
  if (vocab)
    for (Eigen::Index k = 0; k < x.data.size(); ++k) x.data.data()[k] = static_cast<Scalar>(k % vocab);
  if (layer->is_recurrent()) layer->reset_state(3);
  layer->forward(x, y, Mode::Eval);
  if (!finite(y.data)) {
    out.status = Status::Fail;
    detail += "; eval-mode output is not finite";
  }
  // The recurrent state contract, and the same numbers for any thread count.
  std::vector<std::string> problems = check_recurrent_state(*layer, vocab);
  if (layer->is_recurrent() && problems.empty()) detail += "; state carry, set_state/state_at ok";
  const std::vector<std::string> thread_problems = check_thread_counts(*layer, vocab);
  if (thread_problems.empty()) detail += "; 1 and 2 threads agree";
  problems.insert(problems.end(), thread_problems.begin(), thread_problems.end());
  for (const std::string& p : problems) {
    out.status = Status::Fail;
    detail += "; " + p;
  }
  out.error = worst;
  out.detail = "gradients " + detail;
}

void check_loss(ComponentCheck& out, const ComponentTable::Entry& e, const PluginHost& host, const Node& block) {
  HostBuildContext ctx(host, "loss", 0, 1, fs::current_path().string());
  auto loss = host.build<Loss>(Kind::Loss, block, ctx);
  std::string detail;
  double worst = 0;
  int done = 0;
  for (bool labels : {true, false}) {
    GradCheckOptions opt;
    opt.batch = 4;
    opt.input_scale = 2.0;
    if (!detail.empty()) detail += "; ";
    detail += labels ? "labels: " : "values: ";
    try {
      const GradCheckResult r = check_loss_gradients(*loss, 5, labels, opt);
      ++done;
      worst = std::max(worst, r.relative_error);
      detail += std::to_string(r.checked) + " elements, relative error " + num(r.relative_error);
      if (!r.ok) {
        out.status = Status::Fail;
        detail += ", " + std::to_string(r.failures) + " wrong; worst " + r.worst + "; " + r.tensor_summary();
      }
    } catch (const Error& err) {
      detail += std::string("not supported (") + err.what() + ")";
    }
  }
  if (done == 0) {
    out.status = Status::Fail;
    detail += "; the loss accepts neither labels nor values";
  }
  // A wide batch (10 x 4096 scores: element-wise work is split) with 1 and 2 threads: the loss
  // and its gradient.
  for (bool labels : {true, false}) {
    Rng rng(19);
    Matrix scores(10, 4096);
    fill_normal(scores, rng, 2.0);
    Targets t;
    t.steps = 1;
    t.batch = 4096;
    if (labels) {
      for (int j = 0; j < 4096; ++j) t.labels.push_back(static_cast<int32_t>(rng.below(10)));
    } else {
      t.values.resize(10, 4096);
      for (Eigen::Index k = 0; k < t.values.size(); ++k) t.values.data()[k] = static_cast<Scalar>(rng.uniform());
    }
    std::vector<std::string> problems;
    try {
      problems = compare_thread_counts([&] {
        Matrix grad;
        Matrix value(1, 1);
        value(0, 0) = static_cast<Scalar>(loss->evaluate(scores, t, &grad));
        return std::vector<Matrix>{value, grad};
      });
    } catch (const Error&) {
      continue;  // the kind of target it refuses (reported above)
    }
    for (const std::string& p : problems) {
      out.status = Status::Fail;
      detail += std::string("; ") + (labels ? "labels " : "values ") + p + " (0: the loss, 1: its gradient)";
    }
    if (problems.empty() && labels) detail += "; 1 and 2 threads agree";
  }
  (void)e;
  out.error = worst;
  out.detail = "gradients " + detail;
}

// An optimizer that declares elementwise() is stepped in shares by data-parallel runs
// (docs/scaling.md): two optimizers, each stepping its share of a parameter cut in the middle,
// must end with the values one optimizer stepping it whole ends with. Up to float rounding, not
// bit for bit: a share that starts inside a vector packet is computed partly by scalar code,
// which the compiler may contract into fused multiply-adds differently.
void check_shares(ComponentCheck& out, const PluginHost& host, const Node& block, HostBuildContext& ctx) {
  auto whole_opt = host.build<Optimizer>(Kind::Optimizer, block, ctx);
  auto first = host.build<Optimizer>(Kind::Optimizer, block, ctx),
       second = host.build<Optimizer>(Kind::Optimizer, block, ctx);
  Rng r(29);
  Param w("share.W", 7, 5, 5, 7, Node());
  fill_normal(w.value, r, 1.0);
  Param a = w, b = w;
  const Eigen::Index cut = w.value.size() / 2 + 1;
  for (int s = 0; s < 5; ++s) {
    fill_normal(w.grad, r, 1.0);
    a.grad = b.grad = w.grad;
    whole_opt->step({&w}, whole_opt->base_lr());
    first->step_range({ParamRange{&a, 0, cut}}, whole_opt->base_lr());
    second->step_range({ParamRange{&b, cut, w.value.size()}}, whole_opt->base_lr());
  }
  std::copy(b.value.data() + cut, b.value.data() + b.value.size(), a.value.data() + cut);  // the two shares
  const double scale = std::max(1.0, static_cast<double>(w.value.cwiseAbs().maxCoeff()));
  if (!(static_cast<double>((a.value - w.value).cwiseAbs().maxCoeff()) <= 1e-5 * scale)) {
    out.status = Status::Fail;
    out.detail +=
        "; elementwise() is declared, but stepping a parameter in two shares (step_range) differs from "
        "stepping it whole: a data-parallel run would shard it wrongly";
  } else {
    out.detail += "; stepping shares equals stepping whole";
  }
}

void check_optimizer(ComponentCheck& out, const PluginHost& host, const Node& block) {
  HostBuildContext ctx(host, "optimizer", 0, 1, fs::current_path().string());
  auto opt = host.build<Optimizer>(Kind::Optimizer, block, ctx);
  const double lr = opt->base_lr();
  if (!std::isfinite(lr) || lr <= 0) {
    out.status = Status::Fail;
    out.detail = "base_lr() is " + num(lr) + ", expected a finite positive learning rate";
    return;
  }
  Rng rng(3);
  Param w("quad.W", 4, 5, 5, 4, Node()), frozen("quad.F", 3, 2, 2, 3, Node());
  Matrix c(4, 5), a(4, 5);
  fill_normal(w.value, rng, 1.0);
  fill_normal(c, rng, 1.0);
  for (Eigen::Index k = 0; k < a.size(); ++k) a.data()[k] = static_cast<Scalar>(rng.uniform(0.5, 2.0));
  fill_normal(frozen.value, rng, 1.0);
  frozen.frozen = true;
  const Matrix frozen0 = frozen.value;
  auto f = [&] { return 0.5 * (a.cast<double>().array() * (w.value - c).cast<double>().array().square()).sum(); };
  const double f0 = f();
  const int steps = 200;
  for (int s = 0; s < steps; ++s) {
    w.grad = a.cwiseProduct(w.value - c);
    frozen.grad.setConstant(1.0f);
    opt->step({&w, &frozen}, lr);
    w.grad.setZero();
    frozen.grad.setZero();
    if (!finite(w.value)) {
      out.status = Status::Fail;
      out.detail = "parameters became non-finite at step " + std::to_string(s + 1);
      return;
    }
  }
  const double f1 = f();
  out.detail = "quadratic " + num(f0) + " -> " + num(f1) + " in " + std::to_string(steps) + " steps at lr " + num(lr);
  if (!(f1 < f0 * (1 - 1e-3))) {
    out.status = Status::Fail;
    out.detail += ": the steps did not lower it";
  }
  if (frozen.value != frozen0) {
    out.status = Status::Fail;
    out.detail += "; a frozen parameter was changed";
  }
  for (const auto& [name, m] : opt->state())
    if (!finite(m)) {
      out.status = Status::Fail;
      out.detail += "; state '" + name + "' is not finite";
    }
  // Five steps on a 256 x 256 parameter (large enough that element-wise updates are split over
  // the threads), a fresh optimizer for each thread count.
  const auto problems = compare_thread_counts([&] {
    auto o = host.build<Optimizer>(Kind::Optimizer, block, ctx);
    Rng r(23);
    Param big("big.W", 256, 256, 256, 256, Node());
    fill_normal(big.value, r, 1.0);
    for (int s = 0; s < 5; ++s) {
      fill_normal(big.grad, r, 1.0);
      o->step({&big}, o->base_lr());
    }
    return std::vector<Matrix>{big.value};
  });
  for (const std::string& p : problems) {
    out.status = Status::Fail;
    out.detail += "; " + p + " (the parameter after 5 steps)";
  }
  if (problems.empty()) out.detail += "; 1 and 2 threads agree";
  if (opt->elementwise()) check_shares(out, host, block, ctx);
}

void check_initializer(ComponentCheck& out, const ComponentTable::Entry& e, const PluginHost& host, const Node& block) {
  HostBuildContext ctx(host, "check.W", 0, 1, fs::current_path().string());
  std::shared_ptr<Initializer> init;
  try {
    init = host.build<Initializer>(Kind::Initializer, block, ctx);
  } catch (const Error& err) {
    // One reading a file or a run (pretrained) needs one to be named; as for datasets, not its fault.
    if (has_string_option(e.schema)) throw Skip{std::string("cannot be built with its defaults: ") + err.what()};
    throw;
  }
  auto fill = [&](uint64_t seed) {
    Param p("check.W", 32, 32, 32, 32, Node());
    Rng rng = Rng::derive(seed, p.name);
    init->fill(p, rng);
    if (p.value.rows() != 32 || p.value.cols() != 32) throw Error("fill() changed the parameter's shape");
    return Matrix(p.value);
  };
  const Matrix m1 = fill(1), m1b = fill(1), m2 = fill(2);
  const double mean = m1.cast<double>().mean();
  const double sd = std::sqrt((m1.cast<double>().array() - mean).square().mean());
  const bool random = m1 != m2;
  out.detail = "32x32: mean " + num(mean) + ", std " + num(sd) + ", range [" + num(m1.minCoeff()) + ", " +
               num(m1.maxCoeff()) + "], " + (random ? "seed-dependent" : "the same for every seed");
  if (!finite(m1) || !finite(m2)) {
    out.status = Status::Fail;
    out.detail += ": values are not finite";
  } else if (m1 != m1b) {
    out.status = Status::Fail;
    out.detail += ": the same seed gave different values (draw only from the Rng passed to fill())";
  } else if (random && sd == 0) {
    out.status = Status::Fail;
    out.detail += ": every value is the same";
  }
}

void check_schedule(ComponentCheck& out, const PluginHost& host, const Node& block) {
  HostBuildContext ctx(host, "schedule", 0, 1, fs::current_path().string());
  auto sched = host.build<Schedule>(Kind::Schedule, block, ctx);
  double lo = INFINITY, hi = -INFINITY;
  const long long per_epoch = 10;
  const int epochs = 100;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    for (long long k : {0LL, per_epoch / 2}) {
      ScheduleState s{epoch, epoch * per_epoch + k, per_epoch, epochs, epochs * per_epoch};
      const double f = sched->factor(s);
      // Zero is allowed later on (cosine annealing to eta_min = 0), not at the start.
      if (!std::isfinite(f) || f < 0 || (epoch == 0 && k == 0 && f <= 0)) {
        out.status = Status::Fail;
        out.detail = "factor at epoch " + std::to_string(epoch) + " is " + num(f) +
                     (epoch == 0 ? ", expected finite and > 0" : ", expected finite and >= 0");
        return;
      }
      lo = std::min(lo, f);
      hi = std::max(hi, f);
    }
    const double loss = 1.0 / (1 + epoch % 10);  // improves, then stalls and restarts
    sched->end_epoch(epoch, {{"train_loss", loss},
                             {"val_loss", loss + 0.1},
                             {"train_accuracy", 1 - loss / 2},
                             {"val_accuracy", 0.9 - loss / 2}});
  }
  out.detail = "factor over 100 epochs in [" + num(lo) + ", " + num(hi) + "]";
}

void check_regularizer(ComponentCheck& out, const PluginHost& host, const Node& block) {
  HostBuildContext ctx(host, "regularizers[0]", 0, 1, fs::current_path().string());
  auto reg = host.build<Regularizer>(Kind::Regularizer, block, ctx);
  Rng rng(5);
  Param W("check0.W", 6, 5, 5, 6, Node()), U("check0.U", 6, 6, 6, 6, Node()), b("check0.b", 6, 1, 1, 6, Node());
  for (Param* p : {&W, &U, &b}) fill_normal(p->value, rng, 0.7);
  const std::vector<Param*> ps{&W, &U, &b};
  auto zero = [&] {
    for (Param* p : ps) p->grad.setZero();
  };

  // Penalty gradient against central differences of the penalty it returns.
  zero();
  const double base = reg->add_penalty_gradient(ps, 1.0);
  std::vector<Matrix> analytic;
  for (Param* p : ps) analytic.push_back(p->grad);
  const double h = 1e-3;  // penalties are smooth away from kinks; float values, double sums
  struct Elem {
    std::string where;
    double an, numeric, left, right;
    size_t tensor;  // index in ps
  };
  std::vector<Elem> elems;
  double scale = 0;
  for (size_t i = 0; i < ps.size(); ++i)
    for (Eigen::Index k = 0; k < ps[i]->value.size(); ++k) {
      Scalar& v = ps[i]->value.data()[k];
      const Scalar orig = v;
      v = static_cast<Scalar>(orig + h);
      zero();
      const double plus = reg->add_penalty_gradient(ps, 1.0);
      v = static_cast<Scalar>(orig - h);
      zero();
      const double minus = reg->add_penalty_gradient(ps, 1.0);
      v = orig;
      const Elem el{ps[i]->name + "(" + std::to_string(k % ps[i]->value.rows()) + "," +
                        std::to_string(k / ps[i]->value.rows()) + ")",
                    analytic[i].data()[k],
                    (plus - minus) / (2 * h),
                    (base - minus) / h,
                    (plus - base) / h,
                    i};
      scale = std::max({scale, std::fabs(el.an), std::fabs(el.numeric)});
      elems.push_back(el);
    }
  // Penalty strengths are small (1e-4): the absolute tolerance follows the largest gradient.
  long checked = 0, wrong = 0;
  double d2 = 0, a2 = 0, n2 = 0, worst_excess = -1;
  std::string worst_text;
  // Per parameter, as the layer checks report it (gradcheck.hpp's TensorCheck).
  GradCheckResult per;
  for (Param* p : ps) per.tensors.push_back(TensorCheck{p->name});
  for (const Elem& el : elems) {
    const double err = std::fabs(el.an - el.numeric);
    const double tol = 1e-2 * std::max(std::fabs(el.an), std::fabs(el.numeric)) + 1e-3 * scale + 1e-12;
    TensorCheck& tc = per.tensors[el.tensor];
    ++tc.checked;
    const std::string at = el.where.substr(el.where.find('('));
    const double rel = err / std::max({std::fabs(el.an), std::fabs(el.numeric), 1e-3 * scale + 1e-12});
    ++checked;
    d2 += err * err;
    a2 += el.an * el.an;
    n2 += el.numeric * el.numeric;
    if (err > tol) {
      // A kink (L1 at 0): any value between the one-sided slopes is a valid subgradient.
      if (std::fabs(el.right - el.left) > tol && el.an >= std::min(el.left, el.right) - tol &&
          el.an <= std::max(el.left, el.right) + tol)
        continue;
      ++wrong;
      ++tc.failures;
    }
    if (err > tc.max_abs_error || tc.max_abs_at.empty()) {
      tc.max_abs_error = err;
      tc.max_abs_at = at;
    }
    if (rel > tc.max_rel_error || tc.max_rel_at.empty()) {
      tc.max_rel_error = rel;
      tc.max_rel_at = at;
    }
    if (err - tol > worst_excess) {
      worst_excess = err - tol;
      worst_text = el.where + ": analytic " + num(el.an) + ", numeric " + num(el.numeric);
    }
  }
  out.error = std::sqrt(d2) / (std::sqrt(a2) + std::sqrt(n2) + 1e-30);
  out.detail = "penalty gradient: " + std::to_string(checked) + " elements, relative error " + num(out.error);
  if (wrong) {
    out.status = Status::Fail;
    out.detail +=
        ", " + std::to_string(wrong) + " wrong; worst " + worst_text + "; per tensor: " + per.tensor_summary();
  }

  // perturb() then restore() must give the exact values back.
  std::vector<Matrix> before;
  for (Param* p : ps) before.push_back(p->value);
  Rng prng(9);
  reg->perturb(ps, prng);
  reg->restore(ps);
  for (size_t i = 0; i < ps.size(); ++i)
    if (ps[i]->value != before[i]) {
      out.status = Status::Fail;
      out.detail += "; restore() did not undo perturb() on " + ps[i]->name;
      break;
    }
  zero();
  for (Param* p : ps) fill_normal(p->grad, rng, 1.0);
  reg->transform_gradients(ps, 1, prng);
  reg->after_step(ps);
  for (Param* p : ps)
    if (!finite(p->grad) || !finite(p->value)) {
      out.status = Status::Fail;
      out.detail += "; " + p->name + " is not finite after transform_gradients()/after_step()";
      break;
    }
  out.detail += "; perturb/restore exact";
}

void check_dataset(ComponentCheck& out, const ComponentTable::Entry& e, const PluginHost& host, const Node& block) {
  auto make = [&] {
    HostBuildContext ctx(host, "data", 0, 1, fs::current_path().string());
    try {
      return host.build<Dataset>(Kind::Dataset, block, ctx);
    } catch (const Error& err) {
      // A dataset reading files cannot be checked where they are absent; that is not its fault.
      if (has_string_option(e.schema)) throw Skip{std::string("cannot be built with its defaults: ") + err.what()};
      throw;
    }
  };
  auto d1 = make(), d2 = make();
  const DatasetInfo info = d1->info();
  std::ostringstream s;
  std::vector<std::string> problems;
  if (info.input_size < 1) problems.push_back("info().input_size is " + std::to_string(info.input_size));
  if (info.output_size < 1) problems.push_back("info().output_size is " + std::to_string(info.output_size));
  if (info.steps < 1) problems.push_back("info().steps is " + std::to_string(info.steps));
  s << "x " << info.input_size << "x" << info.steps << " steps, " << (info.labels ? "labels" : "values") << " "
    << info.output_size << (info.every_step ? " at every step" : "");
  auto check_split = [&](Split split, const char* sname) {
    const std::size_t n = d1->size(split);
    s << ", " << sname << " " << n;
    if (n == 0) {
      problems.push_back(std::string(sname) + " split is empty");
      return;
    }
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < std::min<std::size_t>(4, n); ++i) idx.push_back(i);
    if (n > 4) idx.back() = n - 1;  // also the last sample
    const int B = static_cast<int>(idx.size());
    Seq x1, x2, x3;
    Targets y1, y2, y3;
    d1->batch(split, idx, x1, y1);
    d1->batch(split, idx, x3, y3);
    d2->batch(split, idx, x2, y2);
    const std::string w = std::string(sname) + " batch: ";
    if (x1.features() != info.input_size || x1.steps != info.steps || x1.batch != B ||
        x1.data.cols() != static_cast<Eigen::Index>(info.steps) * B)
      problems.push_back(w + "x is " + std::to_string(x1.data.rows()) + "x" + std::to_string(x1.data.cols()) +
                         " (steps " + std::to_string(x1.steps) + ", batch " + std::to_string(x1.batch) +
                         "), expected " + std::to_string(info.input_size) + "x" + std::to_string(info.steps * B));
    const int tsteps = info.every_step ? info.steps : 1;
    if (y1.steps != tsteps || y1.batch != B)
      problems.push_back(w + "targets have steps " + std::to_string(y1.steps) + ", batch " + std::to_string(y1.batch) +
                         ", expected " + std::to_string(tsteps) + ", " + std::to_string(B));
    const Eigen::Index cols = static_cast<Eigen::Index>(tsteps) * B;
    if (info.labels) {
      if (static_cast<Eigen::Index>(y1.labels.size()) != cols)
        problems.push_back(w + std::to_string(y1.labels.size()) + " labels, expected " + std::to_string(cols));
      for (int32_t l : y1.labels)
        if (l < -1 || l >= info.output_size) {
          problems.push_back(w + "label " + std::to_string(l) + " outside [-1, " + std::to_string(info.output_size) +
                             ")");
          break;
        }
    } else if (y1.values.rows() != info.output_size || y1.values.cols() != cols || !finite(y1.values)) {
      problems.push_back(w + "values are " + std::to_string(y1.values.rows()) + "x" + std::to_string(y1.values.cols()) +
                         (finite(y1.values) ? "" : " (not finite)") + ", expected " + std::to_string(info.output_size) +
                         "x" + std::to_string(cols));
    }
    if (!finite(x1.data)) problems.push_back(w + "x is not finite");
    if (x1.data != x3.data || y1.labels != y3.labels || y1.values != y3.values)
      problems.push_back(w + "the same indices gave different batches");
    if (x1.data != x2.data || y1.labels != y2.labels || y1.values != y2.values)
      problems.push_back(w + "two instances with the same seed gave different batches");
  };
  check_split(Split::Train, "train");
  if (info.has_test) check_split(Split::Test, "test");
  out.detail = s.str() + "; shapes and determinism ok";
  if (!problems.empty()) {
    out.status = Status::Fail;
    out.detail = s.str();
    for (const auto& p : problems) out.detail += "; " + p;
  }
}

// Every lib*.so of the search path, one at a time: a library that clashes with the one under
// test (or is broken) is left out instead of stopping the check.
void load_dependencies(PluginHost& host, const std::vector<std::string>& extra_dirs) {
  for (const auto& dir : PluginHost::search_path(extra_dirs)) {
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> libs;
    for (const auto& f : fs::directory_iterator(dir)) {
      const auto name = f.path().filename().string();
      if (f.is_regular_file() && name.rfind("lib", 0) == 0 && f.path().extension() == ".so") libs.push_back(f.path());
    }
    std::sort(libs.begin(), libs.end());
    for (const auto& p : libs) {
      try {
        host.load_library(p);
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace

namespace {

PluginCheckReport check_loaded(const PluginHost& host, const std::string& where);

}  // namespace

std::vector<PluginCheckReport> check_plugins(const std::vector<std::string>& libraries,
                                             const std::vector<std::string>& extra_dirs) {
  // One host with the whole search path serves every library that is part of it (checking all
  // built-in plugins loads them once, not once per library).
  PluginHost shared;
  load_dependencies(shared, extra_dirs);
  std::vector<PluginCheckReport> out;
  for (const auto& library : libraries) {
    PluginCheckReport rep;
    std::error_code ec;
    fs::path path = fs::weakly_canonical(fs::absolute(library), ec);
    if (ec) path = fs::absolute(library);
    rep.library = path.string();
    const auto& loaded = shared.loaded();
    if (std::find(loaded.begin(), loaded.end(), rep.library) != loaded.end()) {
      rep.components = check_loaded(shared, rep.library).components;
      out.push_back(std::move(rep));
      continue;
    }
    // Not on the search path (or refused there): load it FIRST into a fresh host, so that a
    // library on the path providing the same names is the one left out.
    PluginHost host;
    try {
      host.load_library(path);
    } catch (const Error& e) {
      rep.load_error = e.what();
      out.push_back(std::move(rep));
      continue;
    }
    const std::string where = host.loaded().front();
    load_dependencies(host, extra_dirs);
    rep.components = check_loaded(host, where).components;
    out.push_back(std::move(rep));
  }
  return out;
}

PluginCheckReport check_plugin(const std::string& library, const std::vector<std::string>& extra_dirs) {
  return check_plugins({library}, extra_dirs).front();
}

namespace {

void run_checks(ComponentCheck& c, const ComponentTable::Entry& e, const PluginHost& host, const Node& block) {
  switch (e.kind) {
    case Kind::Layer: check_layer(c, e, host, block); break;
    case Kind::Loss: check_loss(c, e, host, block); break;
    case Kind::Optimizer: check_optimizer(c, host, block); break;
    case Kind::Initializer: check_initializer(c, e, host, block); break;
    case Kind::Schedule: check_schedule(c, host, block); break;
    case Kind::Regularizer: check_regularizer(c, host, block); break;
    case Kind::Dataset: check_dataset(c, e, host, block); break;
  }
}

// The same checks with one option at a time moved off its default: a backward that is right
// only at the default (a forgotten factor of an option) fails here.
void check_other_options(ComponentCheck& c, const ComponentTable::Entry& e, const PluginHost& host, const Node& block) {
  const auto variants = option_variants(e, block, host);
  if (variants.empty()) return;
  std::string passed, refused;
  for (const auto& [label, b] : variants) {
    ComponentCheck v;
    v.kind = c.kind;
    v.name = c.name;
    try {
      run_checks(v, e, host, b);
    } catch (const Skip&) {
      continue;
    } catch (const Error&) {
      // A clear refusal of a combination (nesterov without momentum) is the component's right.
      refused += (refused.empty() ? "" : ", ") + label;
      continue;
    } catch (const std::exception& ex) {
      v.status = Status::Fail;
      v.detail = std::string("threw: ") + ex.what();
    }
    if (v.status == Status::Fail) {
      c.status = Status::Fail;
      c.detail += "; with " + label + ": " + v.detail;
    } else {
      passed += (passed.empty() ? "" : ", ") + label;
      c.error = std::max(c.error, v.error);
    }
  }
  if (!passed.empty()) c.detail += "; also passes with " + passed;
  if (!refused.empty()) c.detail += "; refuses " + refused + " with an error";
}

PluginCheckReport check_loaded(const PluginHost& host, const std::string& where) {
  PluginCheckReport rep;

  for (const ComponentTable::Entry* e : host.registry().entries()) {
    if (e->library != where) continue;
    ComponentCheck c;
    c.kind = e->kind;
    c.name = e->schema.name();
    try {
      std::vector<std::string> problems;
      check_docs(e->schema, "", problems);
      if (!problems.empty()) {
        c.status = Status::Fail;
        c.detail = "schema: ";
        for (size_t i = 0; i < problems.size(); ++i) c.detail += (i ? "; " : "") + problems[i];
        rep.components.push_back(c);
        continue;
      }
      const Node block = minimal_block(*e, host);
      run_checks(c, *e, host, block);
      if (c.status == Status::Pass) check_other_options(c, *e, host, block);
    } catch (const Skip& s) {
      c.status = Status::Skip;
      c.detail = "skipped: " + s.why;
    } catch (const std::exception& ex) {
      c.status = Status::Fail;
      c.detail = std::string("threw: ") + ex.what();
    }
    rep.components.push_back(c);
  }
  return rep;
}

}  // namespace

std::string format_report(const PluginCheckReport& r) {
  std::ostringstream s;
  s << "checking " << r.library << "\n";
  if (!r.load_error.empty()) {
    s << "  FAIL  load: " << r.load_error << "\n";
    return s.str();
  }
  if (r.components.empty()) s << "  FAIL  the library registers no component\n";
  for (const auto& c : r.components) {
    const char* tag = c.status == Status::Pass ? "PASS" : c.status == Status::Fail ? "FAIL" : "SKIP";
    std::string label = kind_name(c.kind) + " " + c.name;
    if (label.size() < 26) label.resize(26, ' ');
    s << "  " << tag << "  " << label << " " << c.detail << "\n";
  }
  s << r.components.size() << " component" << (r.components.size() == 1 ? "" : "s") << ": " << r.count(Status::Pass)
    << " passed, " << r.count(Status::Fail) << " failed, " << r.count(Status::Skip) << " skipped\n";
  return s.str();
}

}  // namespace unroll
