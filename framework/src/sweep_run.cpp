#include "unroll/host/sweep_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/host/child_process.hpp"
#include "unroll/host/fatal_signal.hpp"
#include "unroll/files.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace unroll {

namespace {

Json read_json_or_null(const fs::path& p) {
  try {
    if (fs::exists(p)) return Json::parse(read_file(p.string()));
  } catch (...) {
  }
  return Json();
}

std::string str_of(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The last `lines` lines of a text file ("" when it is missing or empty).
std::string tail_lines(const std::string& path, int lines) {
  std::string text;
  try {
    text = read_file(path);
  } catch (...) {
    return "";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return "";  // a child killed before it wrote anything
  size_t pos = text.size();
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace

std::string short_hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<SweepRun> list_sweep_runs(const std::string& sweep_dir) {
  const fs::path man_path = fs::path(sweep_dir) / "sweep.json";
  if (!fs::exists(man_path))
    throw Error(sweep_dir + " is not a sweep folder (no sweep.json); run `unroll sweep FILE` first");
  Json man;
  try {
    man = Json::parse(read_file(man_path.string()));
  } catch (const std::exception& e) {
    throw Error(man_path.string() + ": cannot parse: " + e.what());
  }
  std::vector<SweepRun> runs;
  for (const auto& v : man.at("variants"))
    for (const auto& s : man.at("seeds")) {
      SweepRun r;
      r.variant = v.at("name").get<std::string>();
      r.variant_dir = v.at("dir").get<std::string>();
      r.seed = s.get<long long>();
      r.rel = r.variant_dir + "/seed" + std::to_string(r.seed);
      r.dir = (fs::path(sweep_dir) / "runs" / r.variant_dir / ("seed" + std::to_string(r.seed))).string();
      runs.push_back(std::move(r));
    }
  return runs;
}

std::string run_folder_state(const std::string& run_dir, bool trust_running) {
  const fs::path d = run_dir;
  const Json sum = read_json_or_null(d / "summary.json");
  const std::string s = str_of(sum, "status");
  if (s == "completed") return "completed";
  if (s == "diverged") return "diverged";
  const Json rec = read_json_or_null(d / "sweep_run.json");
  if (trust_running && str_of(rec, "status") == "running") return "running";
  const bool ckpt = fs::exists(d / "checkpoint" / "manifest.json") && fs::exists(d / "config.yaml");
  // Stopped, killed with its supervisor ("running" left behind), crashed (a signal, the OOM
  // killer) or killed before it wrote a summary: the last good checkpoint is where to go on.
  // A failed run starts over: resuming would replay the same end.
  if (ckpt && (s == "interrupted" || s == "running" || s == "crashed" || s.empty())) return "resumable";
  if (!s.empty() || rec.is_object()) return "failed";
  return "";
}

StartedRun start_run(const SweepRun& run, const std::string& sweep_dir, const RunCommand& cmd) {
  const fs::path dir = run.dir;
  Json old = read_json_or_null(dir / "sweep_run.json");
  Json previous = old.is_object() && old.contains("previous") ? old["previous"] : Json::array();
  int attempt = 1;
  if (old.is_object()) {
    attempt = old.value("attempt", 1) + 1;
    old.erase("previous");
    previous.push_back(old);
  }
  StartedRun r;
  r.run = run;
  r.resumed = run_folder_state(run.dir, false) == "resumable";  // a stale "running" record is not a run
  if (r.resumed) {
    const Json m = read_json_or_null(dir / "checkpoint" / "manifest.json");
    r.resumed_from_epoch = m.is_object() ? m.value("epoch", 0) : 0;
  } else {
    fs::remove_all(dir);  // a failed attempt starts over
  }
  fs::create_directories(dir);

  std::vector<std::string> args{cmd.unroll_binary, "run"};
  if (r.resumed) {
    args.insert(args.end(), {"--resume", dir.string()});
  } else {
    args.insert(args.end(), {(fs::path(sweep_dir) / "variants" / (run.variant_dir + ".yaml")).string(), "--set",
                             "seed=" + std::to_string(run.seed), "--out", dir.string()});
  }
  args.insert(args.end(), {"--threads", std::to_string(cmd.threads), "--quiet"});
  for (const auto& d : cmd.plugin_dirs) args.insert(args.end(), {"--plugin-dir", d});
  r.start_seconds = steady_seconds();
  r.pid = spawn_guarded(args, (dir / "stderr.txt").string(), r.resumed);

  Json rec;
  rec["variant"] = run.variant;
  rec["seed"] = run.seed;
  rec["status"] = "running";
  rec["launcher"] = cmd.launcher;
  rec["host"] = short_hostname();
  rec["pid"] = r.pid;
  rec["pid_start"] = process_start_ticks(r.pid);
  rec["attempt"] = attempt;
  rec["started"] = utc_now();
  if (r.resumed) rec["resumed_from_epoch"] = r.resumed_from_epoch;
  if (!cmd.slurm.empty()) rec["slurm"] = cmd.slurm;
  if (!previous.empty()) rec["previous"] = previous;
  write_file_atomic((dir / "sweep_run.json").string(), rec.dump(2) + "\n");
  return r;
}

std::string finish_run(const StartedRun& r, int wait_status, int stop_signal, const std::string& stop_reason,
                       std::string* error_out) {
  const fs::path dir = r.run.dir;
  Json rec = read_json_or_null(dir / "sweep_run.json");
  if (!rec.is_object()) rec = Json::object();
  const Json sum = read_json_or_null(dir / "summary.json");
  const std::string summary_status = str_of(sum, "status");
  std::string error = str_of(sum, "error");
  const ChildExit ex = decode_wait_status(wait_status);
  const bool ok = !ex.signaled && ex.code == 0 && summary_status == "completed";
  std::string status = ok ? "completed" : "failed";
  // A run we asked to stop, that checkpointed and said so, is interrupted, not broken.
  if (!ok && stop_signal && summary_status == "interrupted") status = "interrupted";
  if (!ok && summary_status == "diverged") status = "diverged";
  if (!ok) {
    if (status == "interrupted") {
      error = "stopped by " + std::string(signal_name(stop_signal)) +
              (stop_reason.empty() ? "" : " (" + stop_reason + ")") + "; checkpointed, the next sweep resumes it";
    } else if (error.empty()) {
      error = ex.describe();
      if (!ex.signaled && ex.code == 0) error += " without a completed summary.json";
      if (stop_signal)
        error +=
            " after " + std::string(signal_name(stop_signal)) + (stop_reason.empty() ? "" : " (" + stop_reason + ")");
      const std::string tail = tail_lines((dir / "stderr.txt").string(), 5);
      if (!tail.empty()) error += ": " + tail;
    }
  }
  rec["status"] = status;
  rec.erase("exit_code");
  rec.erase("signal");
  if (ex.signaled)
    rec["signal"] = std::string(signal_name(ex.signal));
  else
    rec["exit_code"] = ex.code;
  if (ok)
    rec.erase("error");
  else
    rec["error"] = error;
  if (const Json m = read_json_or_null(dir / "checkpoint" / "manifest.json"); !ok && m.is_object())
    rec["checkpoint_epoch"] = m.value("epoch", 0);
  rec["seconds"] = steady_seconds() - r.start_seconds;
  rec["ended"] = utc_now();
  write_file_atomic((dir / "sweep_run.json").string(), rec.dump(2) + "\n");
  if (error_out) *error_out = ok ? "" : error;
  return status;
}

std::vector<std::string> reap_stale_children(const std::string& sweep_dir, double grace_seconds) {
  std::vector<std::string> notes;
  const fs::path runs = fs::path(sweep_dir) / "runs";
  if (!fs::exists(runs)) return notes;
  const std::string host = short_hostname();
  std::vector<std::pair<pid_t, fs::path>> stale;
  for (const auto& e : fs::recursive_directory_iterator(runs)) {
    if (e.path().filename() != "sweep_run.json") continue;
    const Json rec = read_json_or_null(e.path());
    if (str_of(rec, "status") != "running" || str_of(rec, "launcher") != "local" || str_of(rec, "host") != host)
      continue;
    const pid_t pid = rec.value("pid", -1);
    const long long start = rec.value("pid_start", -2LL);
    if (pid > 0 && pid != ::getpid() && process_start_ticks(pid) == start)
      stale.push_back({pid, e.path().parent_path()});
  }
  for (const auto& [pid, dir] : stale) signal_child_group(pid, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_seconds);
  for (const auto& [pid, dir] : stale) {
    // Not our child: wait by polling /proc until it is gone.
    const long long start = process_start_ticks(pid);
    while (process_start_ticks(pid) == start && start >= 0 && std::chrono::steady_clock::now() < end) ::usleep(50000);
    if (process_start_ticks(pid) == start && start >= 0) signal_child_group(pid, SIGKILL);
    notes.push_back("stopped pid " + std::to_string(pid) + ", left running by an earlier sweep in " + dir.string());
  }
  return notes;
}

SweepLock::SweepLock(const std::string& sweep_dir) {
  fs::create_directories(sweep_dir);
  const std::string path = (fs::path(sweep_dir) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    try {
      holder = read_file(path);
    } catch (...) {
    }
    ::close(fd_);
    fd_ = -1;
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw Error("another `unroll sweep` is using " + sweep_dir + (holder.empty() ? "" : " (" + holder + ")") +
                "; wait for it or stop it first");
  }
  const std::string me = "pid " + std::to_string(::getpid()) + " on " + short_hostname() + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

SweepLock::~SweepLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace unroll
