// The trainer: builds a run's parts from its experiment and runs the epoch loop. The parts live
// in files of their own: train_settings (the `train:` block), run_components (what the
// experiment builds, and the sample split), metrics_table (metrics.csv),
// stop_rules (train.stop), update_pipeline (what an update does to the gradients),
// run_outputs (every file and line a run writes), grad_lags (a diagnostic) and, in
// unroll/host/bptt.hpp, the truncation windows of a batch.
#include "unroll/host/trainer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <thread>

#include "grad_lags.hpp"
#include "interrupt.hpp"
#include "metrics_table.hpp"
#include "optimizer_shard.hpp"
#include "run_components.hpp"
#include "run_outputs.hpp"
#include "stop_rules.hpp"
#include "thread_pool.hpp"
#include "train_settings.hpp"
#include "unroll/error.hpp"
#include "unroll/host/bptt.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/host/distributed.hpp"
#include "unroll/files.hpp"
#include "unroll/host/finite_check.hpp"
#include "unroll/host/huge_pages.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/model_summary.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_data.hpp"
#include "unroll/host/run_failure.hpp"
#include "unroll/host/run_marker.hpp"
#include "unroll/parallel.hpp"
#include "update_pipeline.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace unroll {

int configure_threads(int requested) {
  int n = requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool::set_threads(n);
  set_blas_threads(n);
  // Subnormal floats cost ~100x a normal operation on x86; a vanishing gradient (a GRU's through
  // 200 steps) is full of them and made whole epochs 5-6x slower. Flushing changes only values
  // below FLT_MIN (1.2e-38), on every thread alike, so the numbers stay thread-count independent.
  const char* keep = std::getenv("UNROLL_KEEP_DENORMALS");
  pool::set_flush_denormals(!(keep && *keep && std::string(keep) != "0"));
  return n;
}

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

class Trainer {
 public:
  Trainer(const Experiment& exp, PluginHost& host, const RunOptions& opt)
      : exp_(exp), host_(host), opt_(opt), out_(opt.out_dir, opt.quiet) {
    out_.set_writing(comm_.rank() == 0);  // a data-parallel run's folder is rank 0's
  }

  RunResult run();

 private:
  const Node& cfg() const { return exp_.config; }
  void build();
  void decide_sharding();
  std::string non_finite_anywhere();
  void resume();
  std::vector<size_t> epoch_order(int epoch) const;
  void train_epoch(int epoch);
  /// `update` false: forward and backward only (the grad_lags measurement at initialization).
  void train_batch(std::span<const size_t> idx, int epoch, long batch_no, bool update = true);
  void grad_lags_at_init();
  long agree_on_window(Tally& t, long count);
  EpochMeasures measure(int epoch, Clock::time_point t0);
  Tally evaluate(Split split, const std::vector<size_t>& idx);
  /// The schedule's clock before an update of `epoch` (the pipeline fills in the step).
  ScheduleState clock(int epoch) const {
    return ScheduleState{epoch, 0, updates_per_epoch_, s_.epochs, s_.epochs * updates_per_epoch_};
  }
  TrainProgress progress() const;
  void take_snapshot();
  void write_metrics() { out_.write_metrics(*table_, s_.grad_lags ? &lags_ : nullptr); }
  RunSummary summary(const std::string& status, const std::string& stop, const std::string& error = "") const;
  RunResult interrupted(const Interrupted& in);
  RunResult finish(const std::string& stop);
  int load_best_for_test();

  const Experiment& exp_;
  PluginHost& host_;
  RunOptions opt_;
  // Data-parallel run (host/distributed.hpp): this process's rank among comm_.size(); a
  // one-process run is rank 0 of 1.
  Communicator& comm_ = communicator();
  bool stop_requested_ = false;            // some rank got SIGINT/SIGTERM (agreed on by every rank)
  GradientSum grad_sum_;                   // the gradients' sum over the ranks, in place
  std::unique_ptr<OptimizerShard> shard_;  // the optimizer step sharded over the ranks (else null)
  RunOutputs out_;
  TrainSettings s_;
  uint64_t seed_ = 1;
  int threads_ = 1;
  std::string config_text_;

  RunComponents c_;      // data, model, loss, optimizer, schedule, regularizers
  SampleSplit samples_;  // train / validation / test samples
  long long batches_per_epoch_ = 0;
  long long updates_per_epoch_ = 0;  // batches x truncation windows with a loss

  // The parts of the loop.
  std::unique_ptr<UpdatePipeline> update_;
  std::optional<MetricsTable> table_;
  std::optional<StopRules> stop_rules_;
  BestSoFar best_;  // what chooses best/
  GradLags lags_;
  Bptt bptt_;

  // Progress.
  Seq x_;
  Targets y_;
  Tally epoch_train_;
  int first_epoch_ = 0;
  double train_seconds_ = 0;
};

void Trainer::build() {
  seed_ = static_cast<uint64_t>(cfg().at("seed").as_int().value_or(1));
  s_ = read_train_settings(cfg().at("train"));
  out_.set_keep_best(s_.test_on_best);
  int threads = opt_.threads > 0 ? opt_.threads : s_.threads;
  if (threads <= 0 && comm_.local_size() > 1)  // ranks on one machine share its cores
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / comm_.local_size());
  threads_ = configure_threads(threads);
  c_ = build_components(exp_, host_, s_, seed_, opt_.data, opt_.resume ? opt_.out_dir : std::string(), opt_.model);
  if (!s_.memory.full())  // bounded-memory BPTT: every recurrent layer must be able to recompute
    for (auto& l : c_.model->layers()) bound_step_storage(*l, s_.memory, s_.memory_node.loc().str());
  samples_ = split_samples(*c_.data, c_.info, cfg().at("data"), seed_);
  c_.data = prepare_run_data(cfg().at("data"), c_.data, samples_.train, comm_.rank() == 0 ? opt_.out_dir : "");
  const long long n = static_cast<long long>(samples_.train.size());
  // Stateful streams use whole batches only (see epoch_order).
  batches_per_epoch_ = s_.stateful ? n / s_.batch : (n + s_.batch - 1) / s_.batch;
  if (batches_per_epoch_ == 0)
    throw Error("the training split has " + std::to_string(n) + " samples, fewer than one batch of " +
                std::to_string(s_.batch));
  if (s_.batch < comm_.size())
    throw Error(cfg().at("train").at("batch").loc().str() + ": train.batch (" + std::to_string(s_.batch) +
                ") is smaller than the number of ranks (" + std::to_string(comm_.size()) +
                "): each rank takes a slice of every batch, so every rank needs at least one sample");
  if (const long long tail = n % s_.batch; !s_.stateful && tail > 0 && tail < comm_.size()) {
    // Some rank would get no sample of the last batch; every rank skips it instead (a rank
    // without samples would still have to join every collective of the batch's updates).
    --batches_per_epoch_;
    out_.log("note: the last batch of each epoch has " + std::to_string(tail) + " sample(s), fewer than the " +
             std::to_string(comm_.size()) + " ranks; it is skipped (a one-process run trains it)");
  }
  // A schedule's step counts updates, so its steps_per_epoch must too: under truncated BPTT with
  // an every-step loss each window is an update, not each batch.
  updates_per_epoch_ = batches_per_epoch_ * bptt_updates(c_.info.steps, s_.k1, c_.every_step);

  const bool validation = !samples_.validation.empty();
  table_.emplace(c_.accuracy, validation, c_.info.bits_per_symbol);
  std::string note;
  best_.monitor = table_->monitor(s_.best, validation, note);
  if (!note.empty()) out_.log(note, false);
  note.clear();
  stop_rules_.emplace(s_, *table_, validation, note);
  if (!note.empty()) out_.log(note, false);
  update_ = std::make_unique<UpdatePipeline>(c_.params, c_.regularizers, *c_.optimizer, *c_.schedule, s_.clip_norm,
                                             s_.clip_value);
}

// Decided once, before training, the same way on every rank (docs/scaling.md).
void Trainer::decide_sharding() {
  if (comm_.size() == 1) return;  // one process: the step is whole, as it always was
  const std::string mode = s_.shard_optimizer.text();
  if (mode == "false") {
    out_.log("optimizer step replicated on every rank (train.distributed.shard_optimizer: false)");
    return;
  }
  const std::string why = why_not_sharded(*c_.optimizer, cfg().at("optimizer").at("kind").text(), c_.regularizers,
                                          cfg().at("regularizers").items());
  if (!why.empty()) {
    if (mode == "true")
      throw Error(s_.shard_optimizer.loc().str() + ": train.distributed.shard_optimizer is true, but " + why +
                  "; use auto (shard when possible) or false");
    out_.log("optimizer step replicated on every rank, not sharded: " + why);
    return;
  }
  shard_ = std::make_unique<OptimizerShard>(comm_, c_.params);
  update_->shard_over(shard_.get());
  out_.log("optimizer step sharded over " + std::to_string(comm_.size()) + " ranks (ZeRO-1): rank 0 steps " +
           std::to_string(shard_->share_size()) + " of " + std::to_string(shard_->total_size()) +
           " parameter elements and keeps their optimizer state");
}

// What first_non_finite finds, agreed on by every rank: with a sharded step each rank holds the
// optimizer state of its share only, and a rank that stopped alone would leave the others waiting.
std::string Trainer::non_finite_anywhere() {
  std::string bad = first_non_finite(*c_.model, *c_.optimizer);
  if (!shard_) return bad;
  std::array<double, 1> any{bad.empty() ? 0.0 : 1.0};
  comm_.allreduce_sum(any);
  if (bad.empty() && any[0] > 0) bad = "the optimizer state of another rank's share of the parameters";
  return bad;
}

TrainProgress Trainer::progress() const {
  TrainProgress p;
  p.epoch = static_cast<int>(table_->rows().size());
  p.step = update_->step();
  p.columns = table_->columns();
  p.rows = table_->rows();
  p.best_metric = best_.monitor.name;
  p.best_value = best_.value;
  p.best_epoch = best_.epoch;
  p.early_best = stop_rules_->early().value;
  p.early_bad = stop_rules_->early().bad;
  p.seconds = train_seconds_;
  return p;
}

void Trainer::take_snapshot() {
  Snapshot s = capture(*c_.model, *c_.optimizer, c_.schedule.get(), progress());
  if (shard_) {  // the checkpoint's layout does not depend on the ranks: whole state tensors
    s.optimizer.clear();
    StateMap whole = shard_->gather_state(c_.optimizer->state());
    // Only rank 0 writes checkpoints; the others keep no copy of the whole state (that is the
    // memory sharding saves).
    if (comm_.rank() == 0)
      for (auto& [name, m] : whole) s.optimizer.emplace_back(name, std::move(m));
  }
  s.config_yaml = config_text_;
  s.base_dir = exp_.base_dir;
  out_.keep_snapshot(std::move(s));
}

void Trainer::resume() {
  const std::string dir = opt_.out_dir + "/checkpoint";
  Snapshot s = read_checkpoint(dir);
  if (!opt_.continuation.empty())
    out_.log(opt_.continuation);
  else if (!s.config_yaml.empty() && config_hash(s.config_yaml) != config_hash(config_text_))
    out_.log("warning: " + opt_.out_dir + "/config.yaml differs from the config the checkpoint was saved with (hash " +
             config_hash(s.config_yaml) + "); resuming with config.yaml as it is now");
  const TrainProgress& p = s.progress;
  if (p.columns != table_->columns()) {
    std::string a, b;
    for (const auto& c : p.columns) a += (a.empty() ? "" : ",") + c;
    for (const auto& c : table_->columns()) b += (b.empty() ? "" : ",") + c;
    throw Error(dir + ": the checkpoint's metrics columns (" + a + ") differ from this run's (" + b +
                "); it was saved by a different experiment");
  }
  restore(s, *c_.model, *c_.optimizer, c_.schedule.get());
  if (shard_) shard_->trim_state(c_.optimizer->state());
  table_->set_rows(p.rows);
  const bool same_best = p.best_metric == best_.monitor.name;
  best_.value = same_best ? p.best_value : NAN;
  best_.epoch = same_best ? p.best_epoch : 0;
  stop_rules_->restore_early(p.early_best, p.early_bad);
  train_seconds_ = p.seconds;
  first_epoch_ = p.epoch;
  // The last lr shown in metrics.csv, so a resume with nothing left to train reports the same.
  update_->resume(p.step, p.rows.empty() ? 0.0 : p.rows.back()[table_->find("lr")]);
  if (s_.grad_lags && fs::exists(opt_.out_dir + "/grad_lags.csv"))
    lags_.keep_rows_up_to(read_file(opt_.out_dir + "/grad_lags.csv"), first_epoch_);
  out_.set_saved_epoch(first_epoch_);
  out_.log("resuming from " + dir + " at the end of epoch " + std::to_string(first_epoch_) + " (step " +
           std::to_string(p.step) + ")");
}

std::vector<size_t> Trainer::epoch_order(int epoch) const {
  std::vector<size_t> order = samples_.train;
  const size_t n = order.size();
  const size_t batch = static_cast<size_t>(s_.batch);
  if (s_.stateful) {
    // B parallel streams: batch i holds sample b * (n / B) + i of stream b, so each column
    // continues where the same column of the previous batch stopped.
    const size_t per_stream = n / batch;
    std::vector<size_t> streams;
    for (size_t i = 0; i < per_stream; ++i)
      for (size_t b = 0; b < batch; ++b) streams.push_back(order[b * per_stream + i]);
    return streams;
  }
  if (s_.shuffle) {
    Rng rng = Rng::derive(seed_, "shuffle/epoch" + std::to_string(epoch));
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  }
  return order;
}

void Trainer::train_epoch(int epoch) {
  marker::set_phase("train epoch", epoch + 1);
  c_.model->set_epoch(seed_, epoch, comm_.rank());
  update_->start_epoch(seed_, epoch);
  epoch_train_ = {};
  lags_.start_epoch();
  const std::vector<size_t> order = epoch_order(epoch);
  if (s_.stateful) c_.model->reset_state(static_cast<int>(rank_slice(s_.batch, comm_.rank(), comm_.size()).size()));
  const size_t n = order.size(), nb = static_cast<size_t>(batches_per_epoch_), batch = static_cast<size_t>(s_.batch);
  for (size_t b = 0; b < nb; ++b) {
    if (comm_.size() > 1 ? stop_requested_ : interrupt_requested() != 0) throw Interrupted{epoch, static_cast<long>(b)};
    const size_t from = b * batch, to = std::min(n, from + batch);
    // This rank's slice of the global batch (all of it in a one-process run). A stateful run's
    // columns are streams, so each rank carries the state of the same streams batch after batch.
    const Slice mine = rank_slice(to - from, comm_.rank(), comm_.size());
    train_batch(std::span<const size_t>(order.data() + from + mine.begin, mine.size()), epoch, static_cast<long>(b));
    if (Progress* bar = out_.progress())
      bar->batch(epoch, static_cast<long>(b + 1), static_cast<long>(nb), epoch_train_.mean());
  }
}

// grad_lags' epoch-0 rows: ||dL/dh|| at initialization, before any update, so that a plot can
// set the untrained network's gradient decay against the trained one's (epoch 1's rows already
// average over a whole epoch of updates). The first few batches of epoch 1's order run forward and
// backward with no update; the gradients are then zeroed and the batch-statistics buffers put
// back, and epoch 1 re-derives every random stream, so training gives the same numbers as
// without the measurement.
void Trainer::grad_lags_at_init() {
  constexpr size_t kBatches = 8;  // enough sequences for a smooth curve, a fraction of an epoch's cost
  std::vector<std::pair<std::string, Matrix>> saved;
  for (auto& [name, m] : c_.model->buffers()) saved.emplace_back(name, *m);
  c_.model->set_epoch(seed_, 0, comm_.rank());
  lags_.start_epoch();
  const std::vector<size_t> order = epoch_order(0);
  if (s_.stateful) c_.model->reset_state(static_cast<int>(rank_slice(s_.batch, comm_.rank(), comm_.size()).size()));
  const size_t n = order.size(), batch = static_cast<size_t>(s_.batch);
  const size_t nb = std::min(kBatches, static_cast<size_t>(batches_per_epoch_));
  for (size_t b = 0; b < nb; ++b) {
    const size_t from = b * batch, to = std::min(n, from + batch);
    const Slice mine = rank_slice(to - from, comm_.rank(), comm_.size());
    train_batch(std::span<const size_t>(order.data() + from + mine.begin, mine.size()), 0, static_cast<long>(b), false);
  }
  for (Param* p : c_.model->params()) p->grad.setZero();
  size_t i = 0;
  for (auto& [name, m] : c_.model->buffers()) *m = saved[i++].second;
  lags_.end_epoch(0);
  epoch_train_ = {};
}

void Trainer::train_batch(std::span<const size_t> idx, int epoch, long batch_no, bool update) {
  {
    marker::ComponentScope mark("dataset", cfg().at("data").at("kind").text(), "batch");
    c_.data->batch(Split::Train, idx, x_, y_);
  }
  bptt_.start(*c_.model, *c_.loss, x_, y_, BpttSettings{s_.k1, s_.k2, c_.every_step, s_.stateful});
  const bool ranks = comm_.size() > 1;
  while (const BpttWindow* w = bptt_.next()) {
    if (update) update_->perturb();
    bptt_.forward();
    Tally t;
    if (w->has_loss) t.add(w->outputs->data.middleCols(w->col0, w->ncols), *w->targets, w->loss_sum);
    // One process divides the loss gradient by the window's loss columns; ranks first agree on
    // the global batch's count, so that each rank's gradient is its share of the global mean.
    const long divisor = ranks && w->has_loss ? agree_on_window(t, w->count) : w->count;
    if (w->has_loss && !std::isfinite(t.loss)) {
      std::ostringstream s;
      s << "training diverged: the loss is " << t.loss << " at epoch " << epoch + 1 << ", batch " << batch_no + 1
        << " (lr " << fmt(update_->lr()) << "); the last good checkpoint is kept. Lower the "
        << "learning rate or clip gradients (train.clip.norm)";
      throw Diverged(s.str());
    }
    bptt_.backward(divisor);
    if (ranks && w->has_loss) {
      if (shard_)
        shard_->sum();
      else
        grad_sum_.sum(comm_, c_.params);
    }
    if (w->has_loss) {
      epoch_train_.loss += t.loss;
      epoch_train_.count += t.count;
      epoch_train_.correct += t.correct;
    }
    if (w->has_loss && s_.grad_lags) lags_.add_window(*c_.model, w->start, w->end);
    if (!update) continue;
    update_->restore();
    if (w->has_loss) {
      marker::ComponentScope mark("optimizer", cfg().at("optimizer").at("kind").text(), "update");
      update_->apply(clock(epoch));
    }
  }
}

// What every rank must know before its backward pass: the window's loss, counts and correct
// answers over the global batch (for the metrics), its loss columns (the divisor that makes the
// gradient a mean) and the stop flag, so that all ranks agree on a divergence or a stop request
// (a rank that stopped alone would leave the others waiting). One small allreduce; `count` is
// this rank's loss columns; returns the global count.
long Trainer::agree_on_window(Tally& t, long count) {
  std::array<double, 5> v{t.loss, static_cast<double>(t.count), static_cast<double>(t.correct),
                          static_cast<double>(count), interrupt_requested() ? 1.0 : 0.0};
  comm_.allreduce_sum(v);
  t.loss = v[0];
  t.count = std::lround(v[1]);
  t.correct = std::lround(v[2]);
  stop_requested_ = v[4] > 0;
  return std::lround(v[3]);
}

Tally Trainer::evaluate(Split split, const std::vector<size_t>& idx) {
  Tally t;
  Seq x;
  Targets y, sel;
  const size_t eval_batch = static_cast<size_t>(s_.eval_batch);
  // Each rank evaluates its slice of the samples; the tallies are summed below.
  const Slice mine = rank_slice(idx.size(), comm_.rank(), comm_.size());
  for (size_t from = mine.begin; from < mine.end; from += eval_batch) {
    const size_t to = std::min(mine.end, from + eval_batch);
    {
      marker::ComponentScope mark("dataset", cfg().at("data").at("kind").text(), "batch");
      c_.data->batch(split, std::span<const size_t>(idx.data() + from, to - from), x, y);
    }
    c_.model->reset_state(x.batch);
    const Seq& out = c_.model->forward(x, Mode::Eval);
    const int T = x.steps;
    const LossColumns c = loss_columns(out, y, 0, T, c_.every_step ? 0 : T - 1, c_.every_step, sel);
    const auto cols = out.data.middleCols(c.col0, c.ncols);
    t.add(cols, sel, c_.loss->evaluate(cols, sel, nullptr));
  }
  if (comm_.size() > 1) {
    std::array<double, 3> v{t.loss, static_cast<double>(t.count), static_cast<double>(t.correct)};
    comm_.allreduce_sum(v);
    t.loss = v[0];
    t.count = std::lround(v[1]);
    t.correct = std::lround(v[2]);
  }
  return t;
}

EpochMeasures Trainer::measure(int epoch, Clock::time_point t0) {
  // Per-rank batch statistics (batch_norm without sync) leave each replica with its own
  // running statistics: their mean is what every rank evaluates with and rank 0 saves.
  if (comm_.size() > 1) average_buffers(comm_, c_.model->buffers());
  update_->finish_epoch();
  EpochMeasures m;
  m.epoch = epoch + 1;
  m.train = epoch_train_;
  if (!samples_.validation.empty()) m.val = evaluate(Split::Train, samples_.validation);
  const UpdateStats& u = update_->epoch_stats();
  m.lr = update_->lr();
  m.grad_norm = u.mean_grad_norm();
  m.clip_rate = u.clip_rate();
  // Rank 0's clock for every rank, so that max_seconds stops them all at the same epoch.
  std::array<double, 1> seconds{std::chrono::duration<double>(Clock::now() - t0).count()};
  comm_.broadcast(seconds);
  m.seconds = seconds[0];
  return m;
}

RunSummary Trainer::summary(const std::string& status, const std::string& stop, const std::string& error) const {
  RunSummary s;
  s.name = cfg().at("name").text();
  s.status = status;
  s.stop_reason = stop;
  s.error = error;
  s.threads = threads_;
  s.ranks = comm_.size();
  s.seed = seed_;
  s.steps = update_->step();
  s.best_metric = best_.monitor.name;
  s.best_value = best_.value;
  s.best_epoch = best_.epoch;
  s.resumed_from_epoch = first_epoch_;
  return s;
}

RunResult Trainer::run() {
  config_text_ = out_.begin(cfg(), opt_.resume);
  out_.log("unroll: " + cfg().at("name").text() + " (" + exp_.file + ") -> " + opt_.out_dir);
  marker::set_phase("build");
  build();
  out_.log("data: " + cfg().at("data").at("kind").text() + ", " + std::to_string(samples_.train.size()) + " train / " +
           std::to_string(samples_.validation.size()) + " validation / " + std::to_string(samples_.test.size()) +
           " test samples, " + std::to_string(c_.info.steps) + " step(s) of " + std::to_string(c_.info.input_size) +
           " features");
  out_.log("model:\n" + model_summary(*c_.model, cfg().at("model"), c_.info.steps, s_.batch,
                                      cfg().at("optimizer").at("kind").text()));
  out_.log("threads: " + std::to_string(threads_) + ", seed " + std::to_string(seed_), false);
  out_.log("memory: " + huge_pages_state(), false);
  if (comm_.size() > 1) {
    out_.log("ranks: " + std::to_string(comm_.size()) + " (data-parallel, " + comm_.describe() + "), " +
             std::to_string(comm_.local_size()) + " on this machine; each takes a slice of every batch of " +
             std::to_string(s_.batch));
    if (comm_.rank() == 0)
      note_signal_in(opt_.out_dir + "/log.txt",
                     "rank 0 was stopped by a signal while training with " + std::to_string(comm_.size()) +
                         " ranks; mpirun stops a job this way when one of its ranks died (its message names the "
                         "rank). checkpoint/ holds the last checkpointed epoch; continue with any number of ranks: "
                         "unroll run --resume " +
                         opt_.out_dir + "\n");
  }
  decide_sharding();
  if (opt_.resume) resume();
  if (s_.grad_lags && first_epoch_ == 0) grad_lags_at_init();
  out_.start_progress(s_.epochs);
  take_snapshot();  // epoch 0 (or the resumed epoch): what an interrupt in the first epoch saves

  std::string stop = "epochs";
  try {
    for (int epoch = first_epoch_; epoch < s_.epochs; ++epoch) {
      const auto t0 = Clock::now();
      train_epoch(epoch);
      // An overflow in the epoch's last update shows in no loss yet; it must not reach a checkpoint.
      if (const std::string bad = non_finite_anywhere(); !bad.empty())
        throw Diverged("training diverged: " + bad + " is not finite after the last update of epoch " +
                       std::to_string(epoch + 1) + " (lr " + fmt(update_->lr()) + "); the last good checkpoint is " +
                       "kept. Lower the learning rate or clip gradients (train.clip.norm)");
      marker::set_phase("evaluate", epoch + 1);
      const EpochMeasures m = measure(epoch, t0);
      const std::vector<double>& row = table_->add(m);
      train_seconds_ += m.seconds;
      lags_.end_epoch(epoch + 1);
      c_.schedule->end_epoch(epoch, table_->schedule_metrics(m));
      const bool last = epoch + 1 == s_.epochs;
      const bool echoed = out_.epoch_line(table_->epoch_line(s_.epochs), epoch == 0 || last);

      const bool improved = best_.observe(row, epoch + 1);
      const std::optional<StopReason> why = stop_rules_->after_epoch(row, epoch + 1, train_seconds_);
      take_snapshot();
      if (improved) out_.save_best();
      const bool checkpoint_now = (epoch + 1) % s_.checkpoint_every == 0 || last || why;
      if (checkpoint_now) out_.save_checkpoint();
      // Rewriting metrics.csv costs O(epochs); for microsecond epochs do it about once a second.
      if (echoed || checkpoint_now) write_metrics();
      if (Progress* bar = out_.progress()) bar->epoch_done(epoch + 1, m.seconds);
      if (why) {
        out_.print_unshown();  // the epoch that stopped it
        out_.log("stopping: " + why->why);
        stop = why->reason;
        break;
      }
    }
    out_.save_checkpoint();  // the end of the run is always checkpointed
  } catch (const Interrupted& in) {
    return interrupted(in);
  } catch (const Diverged& e) {
    // Recording the failure must not replace it with a follow-on error (a full disk fails these too).
    out_.clear_progress();
    best_effort("save the last good checkpoint", [&] { out_.save_checkpoint(); });
    out_.log(std::string("error: ") + e.what() + " (checkpoint/ holds the end of epoch " +
                 std::to_string(out_.saved_epoch()) + ")",
             false);
    best_effort("write metrics.csv and log.txt", [&] { write_metrics(); });
    best_effort("write summary.json", [&] { out_.write_summary(summary("diverged", "diverged", e.what()), *table_); });
    throw;
  } catch (const Error& e) {
    out_.clear_progress();
    out_.log(std::string("error: ") + e.what(), false);
    best_effort("write metrics.csv and log.txt", [&] { write_metrics(); });
    best_effort("write summary.json", [&] { out_.write_summary(summary("failed", "error", e.what()), *table_); });
    throw;
  }
  return finish(stop);
}

RunResult Trainer::interrupted(const Interrupted& in) {
  out_.clear_progress();
  out_.save_checkpoint();
  out_.log("interrupted at epoch " + std::to_string(in.epoch + 1) + ", batch " + std::to_string(in.batch + 1) +
           "; the checkpoint holds the end of epoch " + std::to_string(out_.saved_epoch()) +
           " (the partial epoch is discarded and redone on resume)");
  out_.log("resume with: unroll run --resume " + opt_.out_dir);
  write_metrics();
  out_.write_summary(summary("interrupted", "interrupted"), *table_);
  RunResult result;
  result.dir = opt_.out_dir;
  result.status = "interrupted";
  result.stop_reason = "interrupted";
  result.epochs = static_cast<int>(table_->rows().size());
  return result;
}

// checkpoint.test_on: best. checkpoint/ already holds the end of the run, so the model can take
// best/'s parameters for the test pass. Returns the epoch whose parameters the test split sees.
int Trainer::load_best_for_test() {
  const int last = static_cast<int>(table_->rows().size());
  if (best_.epoch <= 0) {
    out_.log("test on the last epoch: no epoch has a finite " + best_.monitor.name + " for best/");
    return last;
  }
  if (best_.epoch == last) return last;
  // This process's copy when it saved best/; after a resume, best/ as an earlier process left it.
  const Snapshot* kept = out_.best_snapshot();
  const Snapshot read = kept ? Snapshot() : read_checkpoint(opt_.out_dir + "/best");
  restore(kept ? *kept : read, *c_.model, *c_.optimizer, c_.schedule.get());
  out_.log("test on best/: epoch " + std::to_string(best_.epoch) + " (" + best_.monitor.name + " " +
           fmt(best_.value, 4) + ")");
  return best_.epoch;
}

RunResult Trainer::finish(const std::string& stop) {
  out_.clear_progress();
  RunResult result;
  result.dir = opt_.out_dir;
  result.final_metrics = table_->last_row();
  RunSummary done = summary("completed", stop);
  if (!samples_.test.empty()) {
    marker::set_phase("test");
    done.test_epoch = static_cast<int>(table_->rows().size());
    if (s_.test_on_best) done.test_epoch = load_best_for_test();
    const Tally test = evaluate(Split::Test, samples_.test);
    std::string line = "test_loss " + fmt(test.mean(), 4);
    if (c_.accuracy) line += "  test_accuracy " + fmt(test.accuracy(), 4);
    out_.log(line);
    done.test = table_->test_metrics(test);
    for (const auto& [k, v] : done.test) result.final_metrics[k] = v;
  }
  write_metrics();
  out_.write_summary(done, *table_);
  result.stop_reason = stop;
  result.epochs = static_cast<int>(table_->rows().size());
  return result;
}

}  // namespace

RunResult run_experiment(const Experiment& exp, PluginHost& host, const RunOptions& opt) {
  Trainer t(exp, host, opt);
  return t.run();
}

}  // namespace unroll
