#include "unroll/host/trainer.hpp"

#include <sys/resource.h>

#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/host/bptt.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/progress.hpp"
#include "unroll/param_selection.hpp"
#include "unroll/parallel.hpp"
#include "thread_pool.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace unroll {

int configure_threads(int requested) {
  int n = requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool::set_threads(n);
  set_blas_threads(n);
  return n;
}

namespace {

volatile std::sig_atomic_t g_interrupt = 0;

extern "C" void on_interrupt_signal(int sig) {
  g_interrupt = sig;
  std::signal(sig, SIG_DFL);  // a second signal kills as usual
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_interrupt_signal);
  std::signal(SIGTERM, on_interrupt_signal);
}
void request_interrupt() { g_interrupt = SIGINT; }
void clear_interrupt() { g_interrupt = 0; }

namespace {

/// Thrown between batches when a stop was requested; caught in Trainer::run.
struct Interrupted {
  int epoch;
  long batch;
};
/// A NaN or infinite loss (an Error, so callers that do not care see a plain failure).
struct Diverged : Error {
  using Error::Error;
};

/// Where a monitored metric sits in the metrics row, and which way is better.
struct Monitor {
  std::string name;
  size_t column = 0;
  bool maximize = false;
  bool improves(double v, double best, double min_delta = 0) const {
    if (!std::isfinite(v)) return false;
    if (std::isnan(best)) return true;
    return maximize ? v > best + min_delta : v < best - min_delta;
  }
};

std::string fmt(double v, int prec = 6) {
  if (std::isnan(v)) return "nan";
  std::ostringstream s;
  s.precision(prec);
  s << v;
  return s.str();
}

/// Loss, accuracy and counts accumulated over batches.
struct Tally {
  double loss = 0;
  long count = 0, correct = 0;
  double mean() const { return count ? loss / count : NAN; }
  double accuracy() const { return count ? static_cast<double>(correct) / count : NAN; }
};

/// Number of non-masked columns and correctly classified ones.
void score(const ConstMatRef& out, const Targets& y, long& count, long& correct) {
  if (!y.has_labels()) {
    count += out.cols();
    return;
  }
  for (Eigen::Index j = 0; j < out.cols(); ++j) {
    if (y.labels[j] < 0) continue;
    ++count;
    Eigen::Index arg;
    out.col(j).maxCoeff(&arg);
    if (arg == y.labels[j]) ++correct;
  }
}

class Trainer {
 public:
  Trainer(const Experiment& exp, PluginHost& host, const RunOptions& opt) : exp_(exp), host_(host), opt_(opt) {}

  RunResult run();

 private:
  void build();
  void train_epoch(int epoch);
  void train_batch(std::span<const size_t> idx, int epoch, long batch_no);
  Monitor monitor(const Node& metric, const Node& mode);
  TrainProgress progress() const;
  void resume();
  /// Write the last epoch-boundary snapshot as checkpoint/ unless it is already there.
  void save_pending_snapshot();
  void update(int epoch);
  Tally evaluate(Split split, const std::vector<size_t>& idx);
  void log(const std::string& line, bool echo = true);
  void write_metrics();
  void write_summary(const std::string& status, const std::string& stop, const std::string& error = "",
                     const std::map<std::string, double>& test = {});

  const Experiment& exp_;
  PluginHost& host_;
  RunOptions opt_;
  const Node& cfg() const { return exp_.config; }

  uint64_t seed_ = 1;
  std::shared_ptr<Dataset> data_;
  DatasetInfo info_;
  std::unique_ptr<Model> model_;
  std::shared_ptr<Loss> loss_;
  std::shared_ptr<Optimizer> optim_;
  std::shared_ptr<Schedule> sched_;
  std::vector<std::shared_ptr<Regularizer>> regs_;
  std::vector<Param*> params_;
  std::vector<size_t> train_idx_, val_idx_, test_idx_;

  // Settings.
  int epochs_ = 1, batch_ = 32, eval_batch_ = 1000, k1_ = 0, k2_ = 0, threads_ = 1;
  bool shuffle_ = true, every_step_ = false, stateful_ = false, grad_lags_ = false;
  double clip_norm_ = 0, clip_value_ = 0, loss_below_ = 0;
  int ckpt_every_ = 1, early_patience_ = 0;
  double early_min_delta_ = 0, max_seconds_ = 0;
  Monitor best_mon_, early_mon_;

  // Checkpoint state: the snapshot taken at the last epoch boundary (what an interrupt or a
  // divergence writes), and which epoch checkpoint/ on disk holds.
  Snapshot snapshot_;
  int saved_epoch_ = -1;
  std::string config_text_;
  int first_epoch_ = 0;
  double best_value_ = NAN, early_best_ = NAN, train_seconds_ = 0;
  int best_epoch_ = 0, early_bad_ = 0;

  // Reused buffers.
  Seq x_;
  Targets y_;
  Bptt bptt_;  // truncation windows of a batch (bptt.hpp)

  // Progress of the run.
  long long step_ = 0;
  long long steps_per_epoch_ = 0;
  Rng reg_rng_;
  Tally epoch_train_;
  double grad_norm_sum_ = 0;
  long updates_in_epoch_ = 0, clipped_in_epoch_ = 0;
  double lr_ = 0;
  std::vector<std::vector<double>> lag_sum_;  // per recurrent layer, per lag
  std::vector<long> lag_count_;
  std::string lag_csv_ = "epoch,layer,lag,grad_norm\n";

  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
  std::string log_text_;
  std::unique_ptr<Progress> progress_;
  int current_epoch_ = 0;
  long current_batch_ = 0;
  Clock::time_point start_, last_echo_;
  std::string unshown_;  // the last epoch line not echoed to the terminal
};

void Trainer::log(const std::string& line, bool echo) {
  log_text_ += line + "\n";
  if (echo && !opt_.quiet) {
    if (progress_) progress_->clear();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

namespace {
// A regularizer option named `params` selects parameters by name (param_selection.hpp). It is
// checked against the model here, before training, so that a pattern matching nothing is
// reported at its place in the file rather than at the first update.
void check_param_selection(const Node& block, const std::vector<Param*>& params) {
  const Node* pattern = block.find("params");
  if (!pattern || !pattern->is_scalar()) return;
  try {
    ParamSelection(pattern->text(), block.at("kind").text() + " regularizer").select(params);
  } catch (const Error& e) {
    throw Error(pattern->loc().str() + ": " + e.what());
  }
}
}  // namespace

void Trainer::build() {
  seed_ = static_cast<uint64_t>(cfg().at("seed").as_int().value_or(1));
  const Node& train = cfg().at("train");
  epochs_ = static_cast<int>(*train.at("epochs").as_int());
  batch_ = static_cast<int>(*train.at("batch").as_int());
  eval_batch_ = static_cast<int>(*train.at("eval_batch").as_int());
  shuffle_ = *train.at("shuffle").as_bool();
  const Node& bptt = train.at("bptt");
  k1_ = static_cast<int>(*bptt.at("k1").as_int());
  k2_ = static_cast<int>(*bptt.at("k2").as_int());
  stateful_ = *bptt.at("stateful").as_bool();
  if (k2_ && k1_ && k2_ < k1_)
    throw Error(bptt.at("k2").loc().str() + ": bptt.k2 (" + std::to_string(k2_) + ") must be >= k1 (" +
                std::to_string(k1_) + ")");
  clip_norm_ = *train.at("clip").at("norm").as_double();
  clip_value_ = *train.at("clip").at("value").as_double();
  grad_lags_ = *train.at("diagnostics").at("grad_lags").as_bool();
  if (const Node& lb = train.at("stop").at("train_loss_below"); !lb.is_null()) loss_below_ = *lb.as_double();
  if (const Node& ms = train.at("stop").at("max_seconds"); !ms.is_null()) max_seconds_ = *ms.as_double();
  early_patience_ = static_cast<int>(*train.at("stop").at("early").at("patience").as_int());
  early_min_delta_ = *train.at("stop").at("early").at("min_delta").as_double();
  ckpt_every_ = static_cast<int>(*train.at("checkpoint").at("every").as_int());
  int threads = opt_.threads > 0 ? opt_.threads : static_cast<int>(*train.at("threads").as_int());
  threads_ = configure_threads(threads);

  HostBuildContext dctx(host_, "data", 0, seed_, exp_.base_dir);
  data_ = host_.build<Dataset>(Kind::Dataset, cfg().at("data"), dctx);
  info_ = data_->info();

  const std::string loss_at = train.at("loss_at").text();
  every_step_ = loss_at == "auto" ? info_.every_step : loss_at == "every";
  if (every_step_ && !info_.every_step && info_.steps > 1)
    throw Error(train.at("loss_at").loc().str() + ": loss_at: every needs per-step targets, but dataset '" +
                cfg().at("data").at("kind").text() + "' has targets at the last step only");

  model_ = std::make_unique<Model>(cfg().at("model"), info_.input_size, host_, seed_, exp_.base_dir);
  if (model_->output_size() != info_.output_size)
    throw Error(cfg().at("model").loc().str() + ": the model outputs " + std::to_string(model_->output_size()) +
                " features, but dataset '" + cfg().at("data").at("kind").text() + "' has " +
                std::to_string(info_.output_size) + (info_.labels ? " classes" : " target features") +
                " (set the last layer's units to " + std::to_string(info_.output_size) + ")");
  model_->initialize(host_, seed_, exp_.base_dir);
  params_ = model_->params();

  HostBuildContext lctx(host_, "loss", 0, seed_, exp_.base_dir);
  loss_ = host_.build<Loss>(Kind::Loss, cfg().at("loss"), lctx);
  HostBuildContext octx(host_, "optimizer", 0, seed_, exp_.base_dir);
  optim_ = host_.build<Optimizer>(Kind::Optimizer, cfg().at("optimizer"), octx);
  HostBuildContext sctx(host_, "schedule", 0, seed_, exp_.base_dir);
  sched_ = host_.build<Schedule>(Kind::Schedule, cfg().at("schedule"), sctx);
  int r = 0;
  for (const Node& block : cfg().at("regularizers").items()) {
    HostBuildContext rctx(host_, "regularizer" + std::to_string(r++), 0, seed_, exp_.base_dir);
    regs_.push_back(host_.build<Regularizer>(Kind::Regularizer, block, rctx));
    check_param_selection(block, params_);
  }

  // Train/validation split: a seeded permutation, the last `validation` samples held out.
  const size_t n_train = data_->size(Split::Train);
  const size_t n_val = static_cast<size_t>(*cfg().at("data").at("validation").as_int());
  if (n_val >= n_train)
    throw Error(cfg().at("data").at("validation").loc().str() + ": validation (" + std::to_string(n_val) +
                ") must be smaller than the training set (" + std::to_string(n_train) + " samples)");
  std::vector<size_t> perm(n_train);
  std::iota(perm.begin(), perm.end(), 0);
  if (n_val > 0) {
    Rng split = Rng::derive(seed_, "validation-split");
    for (size_t i = n_train - 1; i > 0; --i) std::swap(perm[i], perm[split.below(i + 1)]);
  }
  train_idx_.assign(perm.begin(), perm.end() - static_cast<long>(n_val));
  val_idx_.assign(perm.end() - static_cast<long>(n_val), perm.end());
  std::sort(train_idx_.begin(), train_idx_.end());
  std::sort(val_idx_.begin(), val_idx_.end());
  if (info_.has_test) {
    test_idx_.resize(data_->size(Split::Test));
    std::iota(test_idx_.begin(), test_idx_.end(), 0);
  }
  steps_per_epoch_ = static_cast<long long>((train_idx_.size() + batch_ - 1) / batch_);
  if (stateful_) steps_per_epoch_ = static_cast<long long>(train_idx_.size() / batch_);
  if (steps_per_epoch_ == 0)
    throw Error("the training split has " + std::to_string(train_idx_.size()) + " samples, fewer than one batch of " +
                std::to_string(batch_));

  // Metrics columns, fixed for the run.
  const bool acc = info_.labels && loss_->classifies();
  columns_ = {"epoch", "train_loss"};
  if (acc) columns_.push_back("train_accuracy");
  if (!val_idx_.empty()) {
    columns_.push_back("val_loss");
    if (acc) columns_.push_back("val_accuracy");
  }
  if (info_.bits_per_symbol) {
    columns_.push_back("train_bpc");
    if (!val_idx_.empty()) columns_.push_back("val_bpc");
  }
  for (const char* c : {"lr", "grad_norm", "clip_rate", "seconds"}) columns_.push_back(c);

  const Node& ck = train.at("checkpoint");
  best_mon_ = monitor(ck.at("monitor"), ck.at("mode"));
  const Node& early = train.at("stop").at("early");
  if (early_patience_ > 0) early_mon_ = monitor(early.at("metric"), early.at("mode"));
}

Monitor Trainer::monitor(const Node& metric, const Node& mode) {
  std::string name = metric.text();
  auto col = std::find(columns_.begin(), columns_.end(), name);
  if (col == columns_.end() && name.rfind("val_", 0) == 0 && val_idx_.empty()) {
    // No validation split: watch the training counterpart rather than fail every such run.
    const std::string alt = "train_" + name.substr(4);
    col = std::find(columns_.begin(), columns_.end(), alt);
    if (col != columns_.end()) {
      log("note: no validation split (data.validation is 0), so " + alt + " stands in for " + name, false);
      name = alt;
    }
  }
  if (col == columns_.end() || name == "epoch" || name == "seconds") {
    std::string have;
    for (size_t i = 1; i + 1 < columns_.size(); ++i) have += (have.empty() ? "" : ", ") + columns_[i];
    throw Error(metric.loc().str() + ": metric '" + metric.text() + "' is not a column of this run's metrics.csv (" +
                have + ")");
  }
  Monitor m;
  m.name = name;
  m.column = static_cast<size_t>(col - columns_.begin());
  m.maximize = mode.text() == "max" || (mode.text() == "auto" && name.find("accuracy") != std::string::npos);
  return m;
}

TrainProgress Trainer::progress() const {
  TrainProgress p;
  p.epoch = static_cast<int>(rows_.size());
  p.step = step_;
  p.columns = columns_;
  p.rows = rows_;
  p.best_metric = best_mon_.name;
  p.best_value = best_value_;
  p.best_epoch = best_epoch_;
  p.early_best = early_best_;
  p.early_bad = early_bad_;
  p.seconds = train_seconds_;
  return p;
}

void Trainer::save_pending_snapshot() {
  if (snapshot_.progress.epoch == saved_epoch_) return;
  save_checkpoint(opt_.out_dir + "/checkpoint", snapshot_);
  saved_epoch_ = snapshot_.progress.epoch;
}

void Trainer::resume() {
  const std::string dir = opt_.out_dir + "/checkpoint";
  Snapshot s = read_checkpoint(dir);
  if (!s.config_yaml.empty() && config_hash(s.config_yaml) != config_hash(config_text_))
    log("warning: " + opt_.out_dir + "/config.yaml differs from the config the checkpoint was saved with (hash " +
        config_hash(s.config_yaml) + "); resuming with config.yaml as it is now");
  const TrainProgress& p = s.progress;
  if (p.columns != columns_) {
    std::string a, b;
    for (const auto& c : p.columns) a += (a.empty() ? "" : ",") + c;
    for (const auto& c : columns_) b += (b.empty() ? "" : ",") + c;
    throw Error(dir + ": the checkpoint's metrics columns (" + a + ") differ from this run's (" + b +
                "); it was saved by a different experiment");
  }
  restore(s, *model_, *optim_, sched_.get());
  rows_ = p.rows;
  step_ = p.step;
  best_value_ = p.best_metric == best_mon_.name ? p.best_value : NAN;
  best_epoch_ = p.best_metric == best_mon_.name ? p.best_epoch : 0;
  early_best_ = p.early_best;
  early_bad_ = p.early_bad;
  train_seconds_ = p.seconds;
  first_epoch_ = p.epoch;
  // The last lr shown in metrics.csv, so a resume with nothing left to train reports the same.
  if (!rows_.empty()) lr_ = rows_.back()[std::find(columns_.begin(), columns_.end(), "lr") - columns_.begin()];
  if (grad_lags_ && fs::exists(opt_.out_dir + "/grad_lags.csv")) {
    // Keep the rows of the epochs the checkpoint holds.
    std::istringstream in(read_file(opt_.out_dir + "/grad_lags.csv"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line))
      if (!line.empty() && std::stoi(line) <= first_epoch_) lag_csv_ += line + "\n";
  }
  saved_epoch_ = first_epoch_;
  log("resuming from " + dir + " at the end of epoch " + std::to_string(first_epoch_) + " (step " +
      std::to_string(step_) + ")");
}

namespace {
// Sum of squares of every gradient, split over the threads (float sums per L1 block, double
// across, in a fixed order); with `zero`, each block is zeroed right after it is read.
double gradient_squared_norm(const std::vector<Param*>& params, bool zero) {
  double sq = 0;
  for (Param* p : params) {
    float* g = p->grad.data();
    sq += parallel_sum(p->grad.size(), [g, zero](Eigen::Index from, Eigen::Index to) {
      double s = 0;
      for (Eigen::Index b = from; b < to; b += 1024) {
        ArrayMap block(g + b, std::min<Eigen::Index>(1024, to - b));
        s += static_cast<double>(block.square().sum());
        if (zero) block = 0.0f;
      }
      return s;
    }, kMinBytesPerThread / static_cast<Eigen::Index>(sizeof(float)));
  }
  return sq;
}
}  // namespace

void Trainer::update(int epoch) {
  double penalty = 0;
  for (auto& r : regs_) penalty += r->add_penalty_gradient(params_, 1.0);
  (void)penalty;
  // The optimizer only reads the gradients, so when nothing acts on their norm before the step
  // (no clipping, no regularizer that may change them) it is taken in the pass that zeroes them
  // afterwards: one pass over every gradient fewer per update.
  const bool norm_after_step = clip_norm_ <= 0 && clip_value_ <= 0 && regs_.empty();
  const double norm = norm_after_step ? 0.0 : std::sqrt(gradient_squared_norm(params_, false));
  ++updates_in_epoch_;
  bool clipped = false;
  if (clip_norm_ > 0 && norm > clip_norm_) {
    const float s = static_cast<float>(clip_norm_ / norm);
    for (Param* p : params_) for_each_block([s](ArrayMap g) { g *= s; }, p->grad);
    clipped = true;
  }
  if (clip_value_ > 0) {
    const float v = static_cast<float>(clip_value_);
    for (Param* p : params_) {
      if ((p->grad.array().abs() > v).any()) clipped = true;
      p->grad = p->grad.cwiseMax(-v).cwiseMin(v);
    }
  }
  if (clipped) ++clipped_in_epoch_;
  for (auto& r : regs_) r->transform_gradients(params_, step_, reg_rng_);
  lr_ = optim_->base_lr() * sched_->factor(ScheduleState{epoch, step_, steps_per_epoch_});
  optim_->step(params_, lr_);
  for (auto& r : regs_) r->after_step(params_);
  if (norm_after_step) {
    grad_norm_sum_ += std::sqrt(gradient_squared_norm(params_, true));
  } else {
    grad_norm_sum_ += norm;
    for (Param* p : params_) for_each_block([](ArrayMap g) { g = 0.0f; }, p->grad);
  }
  ++step_;
}

void Trainer::train_batch(std::span<const size_t> idx, int epoch, long batch_no) {
  data_->batch(Split::Train, idx, x_, y_);
  auto& layers = model_->layers();
  BpttHooks hooks;
  hooks.before_forward = [&](const BpttWindow&) {
    for (auto& r : regs_) r->perturb(params_, reg_rng_);
  };
  hooks.after_loss = [&](const BpttWindow& w) {
    long count = 0, correct = 0;
    score(w.outputs->data.middleCols(w.col0, w.ncols), *w.targets, count, correct);
    if (!std::isfinite(w.loss_sum)) {
      std::ostringstream s;
      s << "training diverged: the loss is " << w.loss_sum << " at epoch " << epoch + 1 << ", batch " << batch_no + 1
        << " (lr " << fmt(lr_) << "); the last good checkpoint is kept. Lower the learning rate or clip gradients "
        << "(train.clip.norm)";
      throw Diverged(s.str());
    }
    epoch_train_.loss += w.loss_sum;
    epoch_train_.count += count;
    epoch_train_.correct += correct;
  };
  hooks.after_backward = [&](const BpttWindow& w) {
    if (w.has_loss && grad_lags_) {
      size_t li = 0;
      for (auto& l : layers) {
        if (!l->is_recurrent()) continue;
        auto norms = l->hidden_grad_norms();
        if (lag_sum_.size() <= li) lag_sum_.resize(li + 1);
        auto& sums = lag_sum_[li];
        const int last = w.end - 1 - w.start;  // lag measured from the window's last step
        for (int s = 0; s < static_cast<int>(norms.size()); ++s) {
          const size_t lag = static_cast<size_t>(last - s);
          if (sums.size() <= lag) sums.resize(lag + 1, 0.0);
          sums[lag] += norms[s];
        }
        ++li;
      }
      if (lag_count_.size() < lag_sum_.size()) lag_count_.resize(lag_sum_.size(), 0);
      for (auto& c : lag_count_) ++c;
    }
    for (auto& r : regs_) r->restore(params_);
    if (w.has_loss) update(epoch);
  };
  bptt_.run(*model_, *loss_, x_, y_, BpttSettings{k1_, k2_, every_step_, stateful_}, hooks);
}

void Trainer::train_epoch(int epoch) {
  model_->set_epoch(seed_, epoch);
  reg_rng_ = Rng::derive(seed_, "regularizers/epoch" + std::to_string(epoch));
  epoch_train_ = {};
  grad_norm_sum_ = 0;
  updates_in_epoch_ = clipped_in_epoch_ = 0;
  lag_sum_.clear();
  lag_count_.clear();

  std::vector<size_t> order = train_idx_;
  const size_t n = order.size();
  const size_t nb = static_cast<size_t>(steps_per_epoch_);
  if (stateful_) {
    // B parallel streams: batch i holds sample b * (n / B) + i of stream b, so each column
    // continues where the same column of the previous batch stopped.
    const size_t per_stream = n / batch_;
    std::vector<size_t> streams;
    for (size_t i = 0; i < per_stream; ++i)
      for (int b = 0; b < batch_; ++b) streams.push_back(order[b * per_stream + i]);
    order = streams;
    model_->reset_state(batch_);
  } else if (shuffle_) {
    Rng rng = Rng::derive(seed_, "shuffle/epoch" + std::to_string(epoch));
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  }
  for (size_t b = 0; b < nb; ++b) {
    const size_t from = b * batch_, to = std::min(n, from + batch_);
    current_batch_ = static_cast<long>(b);
    if (g_interrupt) throw Interrupted{epoch, static_cast<long>(b)};
    train_batch(std::span<const size_t>(order.data() + from, to - from), epoch, static_cast<long>(b));
    if (progress_) progress_->batch(epoch, static_cast<long>(b + 1), static_cast<long>(nb), epoch_train_.mean());
  }
}

Tally Trainer::evaluate(Split split, const std::vector<size_t>& idx) {
  Tally t;
  Seq x;
  Targets y, sel;
  for (size_t from = 0; from < idx.size(); from += eval_batch_) {
    const size_t to = std::min(idx.size(), from + eval_batch_);
    data_->batch(split, std::span<const size_t>(idx.data() + from, to - from), x, y);
    model_->reset_state(x.batch);
    const Seq& out = model_->forward(x, Mode::Eval);
    const int B = x.batch, T = x.steps;
    const int first = every_step_ ? 0 : T - 1;
    const Eigen::Index col0 = static_cast<Eigen::Index>(first) * B, ncols = static_cast<Eigen::Index>(T - first) * B;
    slice_targets(y, y.steps == 1 ? 0 : col0, ncols, T - first, sel);
    const auto cols = out.data.middleCols(output_is_last_step(out, T, every_step_) ? 0 : col0, ncols);
    t.loss += loss_->evaluate(cols, sel, nullptr);
    score(cols, sel, t.count, t.correct);
  }
  return t;
}

void Trainer::write_metrics() {
  std::string csv;
  for (size_t i = 0; i < columns_.size(); ++i) csv += (i ? "," : "") + columns_[i];
  csv += "\n";
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) csv += (i ? "," : "") + fmt(row[i], i == 0 ? 6 : 8);
    csv += "\n";
  }
  write_file_atomic(opt_.out_dir + "/metrics.csv", csv);
  write_file_atomic(opt_.out_dir + "/log.txt", log_text_);
  if (grad_lags_) write_file_atomic(opt_.out_dir + "/grad_lags.csv", lag_csv_);
}

void Trainer::write_summary(const std::string& status, const std::string& stop, const std::string& error,
                            const std::map<std::string, double>& test) {
  nlohmann::ordered_json j;
  j["name"] = cfg().at("name").text();
  j["status"] = status;
  j["stop_reason"] = stop;
  if (!error.empty()) j["error"] = error;
  j["epochs"] = rows_.size();
  double secs = 0;
  for (const auto& r : rows_) secs += r.back();
  j["seconds_per_epoch"] = rows_.empty() ? 0.0 : secs / rows_.size();
  j["seconds_total"] = std::chrono::duration<double>(Clock::now() - start_).count();
  j["threads"] = threads_;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);  // ru_maxrss is in KiB on Linux; whole process so far
  j["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
  j["seed"] = seed_;
  j["steps"] = step_;
  if (best_epoch_ > 0)
    j["best"] = {{"metric", best_mon_.name}, {"value", best_value_}, {"epoch", best_epoch_}, {"checkpoint", "best"}};
  if (first_epoch_ > 0) j["resumed_from_epoch"] = first_epoch_;
  nlohmann::ordered_json fin;
  if (!rows_.empty())
    for (size_t i = 1; i < columns_.size(); ++i)
      if (std::isfinite(rows_.back()[i])) fin[columns_[i]] = rows_.back()[i];
  for (const auto& [k, v] : test) fin[k] = v;
  j["final"] = fin;
  write_file_atomic(opt_.out_dir + "/summary.json", j.dump(2) + "\n");
}

RunResult Trainer::run() {
  start_ = Clock::now();
  fs::create_directories(opt_.out_dir);
  const std::string config_file = opt_.out_dir + "/config.yaml";
  if (opt_.resume) {
    // config.yaml stays as it was written (its hash is in the manifest); the log continues.
    config_text_ = fs::exists(config_file) ? read_file(config_file) : to_yaml(cfg());
    if (fs::exists(opt_.out_dir + "/log.txt")) log_text_ = read_file(opt_.out_dir + "/log.txt");
  } else {
    config_text_ = to_yaml(cfg());
    write_file_atomic(config_file, config_text_);
  }
  log("unroll: " + cfg().at("name").text() + " (" + exp_.file + ") -> " + opt_.out_dir);
  build();
  log("data: " + cfg().at("data").at("kind").text() + ", " + std::to_string(train_idx_.size()) + " train / " +
      std::to_string(val_idx_.size()) + " validation / " + std::to_string(test_idx_.size()) + " test samples, " +
      std::to_string(info_.steps) + " step(s) of " + std::to_string(info_.input_size) + " features");
  log("model:\n" + model_->describe(), false);
  log("threads: " + std::to_string(threads_) + ", seed " + std::to_string(seed_), false);
  if (opt_.resume) resume();
  if (!opt_.quiet && ::isatty(STDERR_FILENO)) progress_ = std::make_unique<Progress>(epochs_);

  auto take_snapshot = [&] {
    snapshot_ = capture(*model_, *optim_, sched_.get(), progress());
    snapshot_.config_yaml = config_text_;
    snapshot_.base_dir = exp_.base_dir;
  };
  take_snapshot();  // epoch 0 (or the resumed epoch): what an interrupt in the first epoch saves

  RunResult result;
  result.dir = opt_.out_dir;
  std::string stop = "epochs";
  const bool acc = info_.labels && loss_->classifies();
  try {
    for (int epoch = first_epoch_; epoch < epochs_; ++epoch) {
      current_epoch_ = epoch;
      const auto t0 = Clock::now();
      train_epoch(epoch);
      std::vector<double> row{static_cast<double>(epoch + 1), epoch_train_.mean()};
      std::map<std::string, double> m{{"train_loss", epoch_train_.mean()}};
      if (acc) row.push_back(epoch_train_.accuracy());
      Tally val;
      if (!val_idx_.empty()) {
        val = evaluate(Split::Train, val_idx_);
        row.push_back(val.mean());
        m["val_loss"] = val.mean();
        if (acc) {
          row.push_back(val.accuracy());
          m["val_accuracy"] = val.accuracy();
        }
      }
      if (info_.bits_per_symbol) {
        row.push_back(epoch_train_.mean() / std::log(2.0));
        if (!val_idx_.empty()) row.push_back(val.mean() / std::log(2.0));
      }
      row.push_back(lr_);
      row.push_back(updates_in_epoch_ ? grad_norm_sum_ / updates_in_epoch_ : 0.0);
      row.push_back(updates_in_epoch_ ? static_cast<double>(clipped_in_epoch_) / updates_in_epoch_ : 0.0);
      row.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      rows_.push_back(row);
      train_seconds_ += row.back();
      for (size_t li = 0; li < lag_sum_.size(); ++li)
        for (size_t lag = 0; lag < lag_sum_[li].size(); ++lag)
          lag_csv_ += std::to_string(epoch + 1) + "," + std::to_string(li) + "," + std::to_string(lag) + "," +
                      fmt(lag_sum_[li][lag] / std::max<long>(1, lag_count_[li])) + "\n";
      sched_->end_epoch(epoch, m);

      std::ostringstream line;
      line << "epoch " << epoch + 1 << "/" << epochs_;
      for (size_t i = 1; i + 1 < columns_.size(); ++i) line << "  " << columns_[i] << " " << fmt(row[i], 4);
      line << "  " << fmt(row.back(), 3) << "s";
      // Fast epochs (the textbook XOR takes microseconds) would flood the terminal: echo at most
      // one epoch line a second, plus the first and the last; log.txt keeps every line.
      const auto now = Clock::now();
      const bool echo = epoch == 0 || epoch + 1 == epochs_ || now - last_echo_ >= std::chrono::seconds(1);
      log(line.str(), echo);
      if (echo) {
        last_echo_ = now;
        unshown_.clear();
      } else {
        unshown_ = line.str();
      }

      // Best by the monitored metric, and the early-stopping counter.
      const bool improved = best_mon_.improves(row[best_mon_.column], best_value_);
      if (improved) {
        best_value_ = row[best_mon_.column];
        best_epoch_ = epoch + 1;
      }
      if (early_patience_ > 0) {
        const double v = row[early_mon_.column];
        if (early_mon_.improves(v, early_best_, early_min_delta_)) {
          early_best_ = v;
          early_bad_ = 0;
        } else {
          ++early_bad_;
        }
      }
      std::string why;
      if (loss_below_ > 0 && epoch_train_.mean() < loss_below_) {
        stop = "train_loss_below";
        why = "the training loss " + fmt(epoch_train_.mean()) + " fell below " + fmt(loss_below_);
      } else if (early_patience_ > 0 && early_bad_ >= early_patience_) {
        stop = "early_stopping";
        why = early_mon_.name + " has not improved on " + fmt(early_best_) + " (by more than " +
              fmt(early_min_delta_) + ") for " + std::to_string(early_bad_) + " epochs";
      } else if (max_seconds_ > 0 && train_seconds_ >= max_seconds_) {
        stop = "max_seconds";
        why = "the wall-clock budget of " + fmt(max_seconds_) + " s is used up (" + fmt(train_seconds_, 4) + " s)";
      }

      take_snapshot();
      if (improved) save_checkpoint(opt_.out_dir + "/best", snapshot_);
      const bool checkpoint_now = (epoch + 1) % ckpt_every_ == 0 || epoch + 1 == epochs_ || !why.empty();
      if (checkpoint_now) save_pending_snapshot();
      // Rewriting metrics.csv costs O(epochs); for microsecond epochs do it about once a second.
      if (echo || checkpoint_now) write_metrics();
      if (progress_) progress_->epoch_done(epoch + 1, row.back());
      if (!why.empty()) {
        if (!unshown_.empty() && !opt_.quiet) std::printf("%s\n", unshown_.c_str());  // the epoch that stopped it
        log("stopping: " + why);
        break;
      }
    }
    save_pending_snapshot();  // the end of the run is always checkpointed
  } catch (const Interrupted& in) {
    if (progress_) progress_->clear();
    save_pending_snapshot();
    log("interrupted at epoch " + std::to_string(in.epoch + 1) + ", batch " + std::to_string(in.batch + 1) +
        "; the checkpoint holds the end of epoch " + std::to_string(saved_epoch_) +
        " (the partial epoch is discarded and redone on resume)");
    log("resume with: unroll run --resume " + opt_.out_dir);
    write_metrics();
    write_summary("interrupted", "interrupted");
    result.status = "interrupted";
    result.stop_reason = "interrupted";
    result.epochs = static_cast<int>(rows_.size());
    return result;
  } catch (const Diverged& e) {
    if (progress_) progress_->clear();
    save_pending_snapshot();
    log(std::string("error: ") + e.what() + " (checkpoint/ holds the end of epoch " + std::to_string(saved_epoch_) +
            ")",
        false);
    write_metrics();
    write_summary("diverged", "diverged", e.what());
    throw;
  } catch (const Error& e) {
    if (progress_) progress_->clear();
    log(std::string("error: ") + e.what(), false);
    write_metrics();
    write_summary("failed", "error", e.what());
    throw;
  }
  if (progress_) progress_->clear();

  std::map<std::string, double> fin;
  if (!rows_.empty())
    for (size_t i = 1; i < columns_.size(); ++i) fin[columns_[i]] = rows_.back()[i];
  std::string test_line;
  if (!test_idx_.empty()) {
    Tally test = evaluate(Split::Test, test_idx_);
    fin["test_loss"] = test.mean();
    test_line = "test_loss " + fmt(test.mean(), 4);
    if (acc) {
      fin["test_accuracy"] = test.accuracy();
      test_line += "  test_accuracy " + fmt(test.accuracy(), 4);
    }
    if (info_.bits_per_symbol) fin["test_bpc"] = test.mean() / std::log(2.0);
  }
  if (!test_line.empty()) log(test_line);
  write_metrics();
  std::map<std::string, double> test;
  for (const auto& [k, v] : fin)
    if (k.rfind("test_", 0) == 0) test[k] = v;
  write_summary("completed", stop, "", test);
  result.stop_reason = stop;
  result.epochs = static_cast<int>(rows_.size());
  result.final_metrics = fin;
  return result;
}

}  // namespace

RunResult run_experiment(const Experiment& exp, PluginHost& host, const RunOptions& opt) {
  Trainer t(exp, host, opt);
  return t.run();
}

}  // namespace unroll
