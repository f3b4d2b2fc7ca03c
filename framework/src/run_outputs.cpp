#include "run_outputs.hpp"

#include <sys/resource.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "grad_lags.hpp"
#include "metrics_table.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/huge_pages.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_folder.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace unroll {

RunOutputs::RunOutputs(std::string dir, bool quiet) : dir_(std::move(dir)), quiet_(quiet), start_(Clock::now()) {}

std::string RunOutputs::begin(const Node& config, bool resume) {
  if (!writing_) return to_yaml(config);
  fs::create_directories(dir_);
  const std::string config_file = dir_ + "/config.yaml";
  if (!resume) {
    std::string text = to_yaml(config);
    write_file_atomic(config_file, text);
    return text;
  }
  if (fs::exists(dir_ + "/log.txt")) log_text_ = read_file(dir_ + "/log.txt");
  return fs::exists(config_file) ? read_file(config_file) : to_yaml(config);
}

void RunOutputs::log(const std::string& line, bool echo) {
  log_text_ += line + "\n";
  if (echo && !quiet_ && writing_) {
    clear_progress();
    std::printf("%s\n", line.c_str());
    // A closed stdout (`unroll run ... | head -1`) stops the echo; the run goes on.
    if (std::fflush(stdout) != 0) quiet_ = true;
  }
}

bool RunOutputs::epoch_line(const std::string& line, bool force) {
  const auto now = Clock::now();
  const bool echo = force || now - last_echo_ >= std::chrono::seconds(1);
  log(line, echo);
  if (echo) {
    last_echo_ = now;
    unshown_.clear();
  } else {
    unshown_ = line;
  }
  return echo;
}

void RunOutputs::print_unshown() {
  if (!unshown_.empty() && !quiet_ && writing_) std::printf("%s\n", unshown_.c_str());
}

void RunOutputs::start_progress(int epochs) {
  if (writing_ && !quiet_ && ::isatty(STDERR_FILENO)) progress_ = std::make_unique<Progress>(epochs);
}

void RunOutputs::save_checkpoint() {
  if (snapshot_.progress.epoch == saved_epoch_) return;
  if (writing_) unroll::save_checkpoint(dir_ + "/checkpoint", snapshot_);
  saved_epoch_ = snapshot_.progress.epoch;
}

void RunOutputs::save_best() {
  if (writing_) unroll::save_checkpoint(dir_ + "/best", snapshot_);
  if (keep_best_) best_ = snapshot_;
}

void RunOutputs::write_metrics(const MetricsTable& table, const GradLags* lags) {
  if (!writing_) return;
  write_file_atomic(dir_ + "/metrics.csv", table.csv());
  write_file_atomic(dir_ + "/log.txt", log_text_);
  if (lags) write_file_atomic(dir_ + "/grad_lags.csv", lags->csv());
}

void RunOutputs::write_summary(const RunSummary& s, const MetricsTable& table) {
  if (!writing_) return;
  const auto& rows = table.rows();
  const auto& columns = table.columns();
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["status"] = s.status;
  j["stop_reason"] = s.stop_reason;
  if (!s.error.empty()) j["error"] = s.error;
  j["epochs"] = rows.size();
  double secs = 0;
  for (const auto& r : rows) secs += r.back();
  j["seconds_per_epoch"] = rows.empty() ? 0.0 : secs / rows.size();
  j["seconds_total"] = std::chrono::duration<double>(Clock::now() - start_).count();
  j["threads"] = s.threads;
  j["ranks"] = s.ranks;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);  // ru_maxrss is in KiB on Linux; whole process so far
  j["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
  j["huge_pages_mb"] = huge_pages_mb();  // of it on 2 MiB pages (huge_pages.hpp), now
  j["seed"] = s.seed;
  j["steps"] = s.steps;
  if (s.best_epoch > 0)
    j["best"] = {{"metric", s.best_metric}, {"value", s.best_value}, {"epoch", s.best_epoch}, {"checkpoint", "best"}};
  if (s.resumed_from_epoch > 0) j["resumed_from_epoch"] = s.resumed_from_epoch;
  nlohmann::ordered_json fin;
  if (!rows.empty())
    for (size_t i = 1; i < columns.size(); ++i)
      if (std::isfinite(rows.back()[i])) fin[columns[i]] = rows.back()[i];
  for (const auto& [k, v] : s.test) fin[k] = v;
  j["final"] = fin;
  if (!s.test.empty()) j["test_epoch"] = s.test_epoch;
  // A continued run's history (continuation.hpp), from the summary this one replaces.
  if (const nlohmann::json continued = recorded_continuations(dir_); !continued.empty()) j["continued"] = continued;
  write_file_atomic(dir_ + "/summary.json", j.dump(2) + "\n");
}

}  // namespace unroll
