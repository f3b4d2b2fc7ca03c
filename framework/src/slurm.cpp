#include "unroll/host/slurm.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/host/child_process.hpp"
#include "unroll/host/fatal_signal.hpp"
#include "unroll/files.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace unroll {

namespace {

// Quoted for a POSIX shell; plain words stay as they are (readable commands), unless `always`.
std::string shell_quote(const std::string& s, bool always = false) {
  if (!always && !s.empty() &&
      s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.:=@%+,-") ==
          std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join_quoted(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {  // appended: `(...) + std::string` trips GCC 12's -Wrestrict (bug 105651)
    if (!cmd.empty()) cmd += ' ';
    cmd += shell_quote(a);
  }
  return cmd;
}

// Run a Slurm client command; its stdout goes to *out (stderr too when `with_stderr`). Returns
// the exit code (127 when the command does not exist).
int run_capture(const std::vector<std::string>& argv, std::string* out, bool with_stderr = false) {
  const std::string cmd = join_quoted(argv) + (with_stderr ? " 2>&1" : " 2>/dev/null");
  out->clear();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return 127;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!trim(l).empty()) out.push_back(trim(l));
  return out;
}

// Task indices of an array expression: "4", "2-5", "2-5%2", "[1,3-4%1]".
std::vector<long> expand_tasks(std::string expr) {
  std::vector<long> out;
  if (!expr.empty() && expr.front() == '[') expr = expr.substr(1);
  if (!expr.empty() && expr.back() == ']') expr.pop_back();
  if (const size_t pct = expr.find('%'); pct != std::string::npos) expr = expr.substr(0, pct);
  std::istringstream in(expr);
  for (std::string part; std::getline(in, part, ',');) {
    try {
      const size_t dash = part.find('-');
      const long a = std::stol(part.substr(0, dash));
      const long b = dash == std::string::npos ? a : std::stol(part.substr(dash + 1));
      for (long i = a; i <= b && i - a < 100000; ++i) out.push_back(i);
    } catch (...) {
    }
  }
  return out;
}

struct TaskInfo {
  std::string state, exit_code, source;
};

// What Slurm knows about the tasks of array job `job`, by task index; empty when no source
// answers (the job has been purged and there is no accounting).
std::map<long, TaskInfo> query_array(const std::string& job) {
  std::map<long, TaskInfo> tasks;
  std::string out;
  // sacct: complete history, but only with accounting storage (slurmdbd).
  if (run_capture({"sacct", "-n", "-P", "-X", "-j", job, "-o", "JobID,State,ExitCode"}, &out) == 0) {
    for (const auto& l : lines_of(out)) {
      std::vector<std::string> f;
      std::istringstream in(l);
      for (std::string x; std::getline(in, x, '|');) f.push_back(x);
      if (f.size() < 3 || f[0].rfind(job + "_", 0) != 0) continue;
      const std::string state = f[1].substr(0, f[1].find(' '));  // "CANCELLED by 0"
      for (long t : expand_tasks(f[0].substr(job.size() + 1))) tasks[t] = {state, f[2], "sacct"};
    }
    if (!tasks.empty()) return tasks;
  }
  // scontrol: the controller's memory (ended jobs stay MinJobAge seconds).
  if (run_capture({"scontrol", "-o", "show", "job", job}, &out) == 0) {
    for (const auto& l : lines_of(out)) {
      std::map<std::string, std::string> kv;
      std::istringstream in(l);
      for (std::string tok; in >> tok;)
        if (const size_t eq = tok.find('='); eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
      if (kv["ArrayJobId"] != job || kv["ArrayTaskId"].empty()) continue;
      for (long t : expand_tasks(kv["ArrayTaskId"])) tasks[t] = {kv["JobState"], kv["ExitCode"], "scontrol"};
    }
    if (!tasks.empty()) return tasks;
  }
  // squeue: states only.
  if (run_capture({"squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T"}, &out) == 0) {
    for (const auto& l : lines_of(out)) {
      const size_t bar = l.find('|');
      if (bar == std::string::npos || l.rfind(job + "_", 0) != 0) continue;
      for (long t : expand_tasks(l.substr(job.size() + 1, bar - job.size() - 1)))
        tasks[t] = {l.substr(bar + 1), "", "squeue"};
    }
  }
  return tasks;
}

bool is_queued(const std::string& s) {
  return s == "PENDING" || s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED" || s == "SUSPENDED";
}
bool is_running(const std::string& s) {
  return s == "RUNNING" || s == "CONFIGURING" || s == "COMPLETING" || s == "RESIZING" || s == "SIGNALING" ||
         s == "STAGE_OUT";
}

Json read_json_or_null(const fs::path& p) {
  try {
    if (fs::exists(p)) return Json::parse(read_file(p.string()));
  } catch (...) {
  }
  return Json();
}

std::string job_name(const std::string& sweep_name) {
  std::string n = "unroll-";
  for (unsigned char c : sweep_name)
    n += std::isalnum(c) || c == '-' || c == '_' || c == '.' ? static_cast<char>(c) : '_';
  return n.substr(0, 60);
}

// "123" from sbatch --parsable's "123" or "123;cluster".
std::string parse_job_id(const std::string& out) {
  const auto ls = lines_of(out);
  if (ls.empty()) return "";
  std::string id = ls.back().substr(0, ls.back().find(';'));
  for (char c : id)
    if (!std::isdigit(static_cast<unsigned char>(c))) return "";
  return id;
}

std::string sbatch(const std::vector<std::string>& argv) {
  std::string out;
  const int rc = run_capture(argv, &out, true);
  if (rc == 127)
    throw Error("sbatch not found: submit from a Slurm login node (the Debian package slurm-client provides sbatch)");
  const std::string id = parse_job_id(out);
  if (rc != 0 || id.empty())
    throw Error("`" + join_quoted(argv) + "` failed (exit code " + std::to_string(rc) + "): " + trim(out));
  return id;
}

}  // namespace

std::vector<RunStatus> sweep_status(const std::string& sweep_dir, bool record) {
  const std::vector<SweepRun> runs = list_sweep_runs(sweep_dir);
  const Json man = read_json_or_null(fs::path(sweep_dir) / "sweep.json");
  // The latest submission of each run: (array job, task index).
  std::map<std::string, std::pair<std::string, long>> task_of;
  if (man.contains("slurm") && man["slurm"].contains("submissions"))
    for (const auto& s : man["slurm"]["submissions"]) {
      if (!s.contains("array_job") || !s["array_job"].is_string()) continue;
      long i = 0;
      for (const auto& r : s.value("runs", Json::array())) task_of[r.get<std::string>()] = {s["array_job"], i++};
    }
  // Is there a controller to ask at all? Without one (no Slurm client here, or the controller
  // is down) nothing may be concluded from a job's absence: such runs are "unknown", and
  // nothing is recorded.
  std::string slurm_down;
  if (!task_of.empty()) {
    std::string probe;
    const int rc = run_capture({"sinfo", "-h", "-o", "%P"}, &probe, true);
    if (rc != 0) {
      const auto ls = lines_of(probe);
      slurm_down =
          rc == 127 ? "sinfo not found" : "sinfo: " + (ls.empty() ? "exit code " + std::to_string(rc) : ls.back());
    }
  }
  std::map<std::string, std::map<long, TaskInfo>> arrays;
  for (const auto& [rel, t] : task_of)
    if (!arrays.count(t.first) && slurm_down.empty()) arrays[t.first] = query_array(t.first);

  std::vector<RunStatus> out;
  for (const auto& run : runs) {
    RunStatus st;
    st.run = run;
    const std::string folder = run_folder_state(run.dir);
    const Json rec = read_json_or_null(fs::path(run.dir) / "sweep_run.json");
    const Json sum = read_json_or_null(fs::path(run.dir) / "summary.json");
    std::string folder_error = rec.is_object() && rec.contains("error")   ? rec["error"].get<std::string>()
                               : sum.is_object() && sum.contains("error") ? sum["error"].get<std::string>()
                                                                          : "";
    const TaskInfo* info = nullptr;
    if (auto it = task_of.find(run.rel); it != task_of.end()) {
      st.job = it->second.first + "_" + std::to_string(it->second.second);
      const auto& tasks = arrays[it->second.first];
      if (auto t = tasks.find(it->second.second); t != tasks.end()) info = &t->second;
    }
    if (folder == "completed") {
      st.state = "done";
      st.source = "run folder";
      if (sum.contains("epochs")) st.detail = std::to_string(sum["epochs"].get<long long>()) + " epochs";
    } else if (info && (is_queued(info->state) || is_running(info->state))) {
      st.state = is_queued(info->state) ? "pending" : "running";
      st.source = info->source;
      st.detail = "Slurm " + info->state + " (job " + st.job + ")";
      st.in_slurm_queue = true;
    } else if (folder == "diverged") {
      // Its end is in the folder, whatever state Slurm gave the task (FAILED, exit code 1).
      st.state = "diverged";
      st.source = "run folder";
      st.detail = folder_error.empty() ? "diverged" : folder_error;
    } else if (info) {
      // Slurm says the task has ended, and the run did not complete.
      st.state = "failed";
      st.source = info->source;
      st.detail = "Slurm " + info->state + (info->exit_code.empty() ? "" : ", exit code " + info->exit_code) +
                  " (job " + st.job + ")";
      if (!folder_error.empty()) st.detail += ": " + folder_error;
      if (record) {
        Json r = rec.is_object() ? rec : Json::object();
        if (!r.contains("variant")) {
          r["variant"] = run.variant;
          r["seed"] = run.seed;
        }
        const bool had_end = r.value("status", "") != "running" && r.contains("status");
        r["status"] = "failed";
        if (!had_end && !r.contains("error"))
          r["error"] =
              "the task ended without recording its run's end (killed outright: out of memory, node "
              "failure, SIGKILL, or cancelled before it started)";
        Json sl = r.contains("slurm") && r["slurm"].is_object() ? r["slurm"] : Json::object();
        sl["job"] = st.job;
        sl["state"] = info->state;
        if (!info->exit_code.empty()) sl["exit_code"] = info->exit_code;
        sl["source"] = info->source;
        r["slurm"] = sl;
        fs::create_directories(run.dir);
        write_file_atomic((fs::path(run.dir) / "sweep_run.json").string(), r.dump(2) + "\n");
      }
    } else if (!slurm_down.empty() && !st.job.empty() && (folder == "running" || folder.empty())) {
      st.state = "unknown";
      st.source = "run folder";
      st.detail = "Slurm does not answer (" + slurm_down + "); the run folder says " +
                  (folder.empty() ? std::string("it has not started") : "running") + " (job " + st.job + ")";
    } else if (folder == "running") {
      // Slurm does not (or no longer) know the task; only the folder speaks.
      const bool local = rec.value("launcher", "") == "local" && rec.value("host", "") == short_hostname();
      const bool alive = local && process_start_ticks(rec.value("pid", -1)) == rec.value("pid_start", -2LL);
      st.source = "run folder";
      if (alive) {
        st.state = "running";
        st.detail = "local run, pid " + std::to_string(rec.value("pid", -1));
      } else {
        st.state = "failed";
        st.detail = local ? "its sweep was killed (the folder says running; no such process)"
                          : "the folder says running, but Slurm no longer knows job " +
                                (st.job.empty() ? std::string("?") : st.job) +
                                " (ended jobs are forgotten after MinJobAge without accounting)";
      }
    } else if (folder == "failed" || folder == "resumable") {
      st.state = "failed";
      st.source = "run folder";
      st.detail = folder_error.empty() ? "no completed summary" : folder_error;
      if (rec.is_object() && rec.contains("slurm") && rec["slurm"].contains("state"))
        st.detail =
            "Slurm " + rec["slurm"]["state"].get<std::string>() +
            (rec["slurm"].contains("exit_code") ? ", exit code " + rec["slurm"]["exit_code"].get<std::string>() : "") +
            " (job " + rec["slurm"].value("job", std::string("?")) + ", recorded): " + st.detail;
    } else if (st.job.empty()) {
      st.state = "pending";
      st.source = "run folder";
      st.detail = "not submitted";
    } else {
      // Submitted, never started, and Slurm does not list it: a task cancelled while pending
      // leaves no record of its own (or the whole job was forgotten). It will not run by itself.
      st.state = "failed";
      const auto& listed = arrays[task_of[run.rel].first];
      st.source = listed.empty() ? "run folder" : listed.begin()->second.source;
      st.detail = "submitted as " + st.job + ", never started, and Slurm no longer lists it (cancelled while pending?)";
      if (record) {
        Json r = {
            {"variant", run.variant}, {"seed", run.seed},
            {"status", "failed"},     {"launcher", "slurm"},
            {"error", st.detail},     {"slurm", {{"job", st.job}, {"state", "NOT_LISTED"}, {"source", st.source}}}};
        fs::create_directories(run.dir);
        write_file_atomic((fs::path(run.dir) / "sweep_run.json").string(), r.dump(2) + "\n");
      }
    }
    if (st.state == "failed" && folder == "resumable") {
      const Json m = read_json_or_null(fs::path(run.dir) / "checkpoint" / "manifest.json");
      st.detail += "; resumes from its checkpoint (epoch " + std::to_string(m.is_object() ? m.value("epoch", 0) : 0) +
                   ") when submitted again";
    }
    out.push_back(std::move(st));
  }
  return out;
}

SlurmSubmission submit_sweep_to_slurm(const SweepSpec& spec, const std::string& sweep_dir, const SlurmOptions& opt) {
  if (opt.cpus_per_task < 1) throw Error("--cpus-per-task must be >= 1");
  if (opt.max_parallel < 0) throw Error("--max-parallel must be >= 0");
  for (const auto& a : opt.sbatch_args)
    if (a.find('\n') != std::string::npos || a.rfind("-", 0) != 0)
      throw Error("--sbatch-arg '" + a + "' must be one sbatch option, e.g. --sbatch-arg=--account=lab");
  if (opt.unroll_binary.empty() || !fs::path(opt.unroll_binary).is_absolute())
    throw Error("the unroll executable for the tasks must be an absolute path, got '" + opt.unroll_binary + "'");
  const fs::path dir = fs::absolute(sweep_dir).lexically_normal();
  SweepLock lock(dir.string());
  SlurmSubmission sub;
  prepare_sweep_folder(spec, dir.string());

  std::vector<std::string> to_submit;
  for (const auto& s : sweep_status(dir.string(), true)) {
    if (s.state == "unknown")
      throw Error("cannot tell which runs of " + dir.string() + " are still queued: " + s.detail +
                  "; submit from a machine where squeue answers");
    ++sub.total;
    if (s.state == "done")
      ++sub.completed;
    else if (s.state == "diverged" && !opt.retry_diverged)
      ++sub.diverged;
    else if (s.in_slurm_queue)
      ++sub.active;
    else
      to_submit.push_back(s.run.rel);
  }
  sub.submitted = static_cast<int>(to_submit.size());
  sub.script = (dir / "slurm" / "array.sbatch").string();
  if (to_submit.empty()) return sub;

  fs::create_directories(dir / "slurm" / "logs");
  const std::string n = std::to_string(to_submit.size());
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Sweep '" << spec.name << "' on Slurm, written by `unroll sweep --slurm` at " << utc_now() << ":\n"
    << "# one array task per run that was neither completed nor queued (" << n << " runs). Task i runs\n"
    << "# RUNS[i] with `unroll sweep-task`, which starts the run (or resumes it from its checkpoint),\n"
    << "# passes on the SIGTERM that --signal sends before the time limit so the run checkpoints,\n"
    << "# and records the outcome in runs/RUN/sweep_run.json. The sweep folder must be on a file\n"
    << "# system shared by the login node and the compute nodes.\n"
    << "#SBATCH --job-name=" << job_name(spec.name) << "\n"
    << "#SBATCH --array=0-" << to_submit.size() - 1
    << (opt.max_parallel > 0 ? "%" + std::to_string(opt.max_parallel) : "") << "\n"
    << "#SBATCH --output=" << (dir / "slurm" / "logs" / "%A_%a.out").string() << "\n"
    << "#SBATCH --cpus-per-task=" << opt.cpus_per_task << "\n"
    << "#SBATCH --ntasks=1\n";
  if (!opt.signal.empty()) s << "#SBATCH --signal=" << opt.signal << "\n";
  if (!opt.partition.empty()) s << "#SBATCH --partition=" << opt.partition << "\n";
  if (!opt.time.empty()) s << "#SBATCH --time=" << opt.time << "\n";
  if (!opt.mem.empty()) s << "#SBATCH --mem=" << opt.mem << "\n";
  for (const auto& a : opt.sbatch_args) s << "#SBATCH " << a << "\n";
  s << "RUNS=(\n";
  for (const auto& r : to_submit) s << "  " << shell_quote(r, true) << "\n";
  s << ")\n";
  std::vector<std::string> task{opt.unroll_binary, "sweep-task", dir.string()};
  s << "exec " << join_quoted(task) << " \"${RUNS[$SLURM_ARRAY_TASK_ID]}\" --threads \"${SLURM_CPUS_PER_TASK:-"
    << opt.cpus_per_task << "}\"";
  for (const auto& d : opt.plugin_dirs) s << " --plugin-dir " << shell_quote(d);
  s << "\n";
  write_file_atomic(sub.script, s.str());

  // The report job: reconcile every task's end with Slurm (the controller still knows them when
  // it starts), then write the report.
  const std::string report_script = (dir / "slurm" / "report.sbatch").string();
  std::ostringstream r;
  r << "#!/bin/bash\n"
    << "# Runs when the array job ends (however it ends: --dependency=afterany): records each\n"
    << "# task's Slurm state in its run's sweep_run.json and writes report.md.\n"
    << "#SBATCH --job-name=" << job_name(spec.name) << "-report\n"
    << "#SBATCH --output=" << (dir / "slurm" / "logs" / "report_%j.out").string() << "\n"
    << "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n#SBATCH --time=10\n";
  if (!opt.partition.empty()) r << "#SBATCH --partition=" << opt.partition << "\n";
  for (const auto& a : opt.sbatch_args) r << "#SBATCH " << a << "\n";
  r << join_quoted({opt.unroll_binary, "sweep", dir.string(), "--status"}) << "\n"
    << "exec " << join_quoted({opt.unroll_binary, "report", dir.string()}) << "\n";
  write_file_atomic(report_script, r.str());

  const std::vector<std::string> array_cmd{"sbatch", "--parsable", sub.script};
  sub.commands.push_back(join_quoted(array_cmd));
  if (opt.dry_run) {
    sub.commands.push_back(join_quoted({"sbatch", "--parsable", "--dependency=afterany:ARRAY_JOB_ID", report_script}));
    return sub;
  }
  sub.array_job = sbatch(array_cmd);
  const std::vector<std::string> report_cmd{"sbatch", "--parsable", "--dependency=afterany:" + sub.array_job,
                                            report_script};
  sub.commands.push_back(join_quoted(report_cmd));
  std::string report_error;
  try {
    sub.report_job = sbatch(report_cmd);
  } catch (const Error& e) {
    report_error = e.what();  // the array runs anyway; `unroll report` writes the report by hand
  }

  Json man = read_json_or_null(dir / "sweep.json");
  Json entry;
  entry["array_job"] = sub.array_job;
  if (!sub.report_job.empty()) entry["report_job"] = sub.report_job;
  entry["submitted"] = utc_now();
  entry["script"] = "slurm/array.sbatch";
  entry["runs"] = to_submit;
  man["slurm"]["submissions"].push_back(entry);
  write_file_atomic((dir / "sweep.json").string(), man.dump(2) + "\n");
  if (!report_error.empty())
    throw Error("submitted array job " + sub.array_job + ", but not the report job: " + report_error +
                "; run `unroll report " + dir.string() + "` when the array has ended");
  return sub;
}

int run_slurm_task(const std::string& sweep_dir, const std::string& rel, RunCommand cmd) {
  const SweepRun* run = nullptr;
  const std::vector<SweepRun> runs = list_sweep_runs(sweep_dir);
  for (const auto& r : runs)
    if (r.rel == rel) run = &r;
  if (!run)
    throw Error("sweep " + sweep_dir + " has no run '" + rel + "' (expected VARIANT_DIR/seedS from its sweep.json)");
  auto env = [](const char* k) {
    const char* v = std::getenv(k);
    return v ? std::string(v) : std::string();
  };
  const std::string job_id = env("SLURM_JOB_ID");
  cmd.launcher = "slurm";
  if (!env("SLURM_ARRAY_JOB_ID").empty()) {
    cmd.slurm["job"] = env("SLURM_ARRAY_JOB_ID") + "_" + env("SLURM_ARRAY_TASK_ID");
    cmd.slurm["array_job"] = env("SLURM_ARRAY_JOB_ID");
    cmd.slurm["task"] = env("SLURM_ARRAY_TASK_ID");
  }
  if (!job_id.empty()) cmd.slurm["job_id"] = job_id;
  if (!env("SLURMD_NODENAME").empty()) cmd.slurm["node"] = env("SLURMD_NODENAME");

  install_stop_handlers();
  const StartedRun started = start_run(*run, sweep_dir, cmd);
  std::fprintf(stderr, "sweep-task: %s %s (pid %d)\n", started.resumed ? "resumed" : "started", rel.c_str(),
               static_cast<int>(started.pid));
  int stop_signal = 0;
  std::string reason;
  std::chrono::steady_clock::time_point kill_at{};
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(started.pid, &status, WNOHANG);
    if (r == started.pid || (r < 0 && errno != EINTR)) break;
    if (!stop_signal && stop_requested()) {
      stop_signal = stop_requested();
      // Why: Slurm's --signal warning before the time limit, or a cancellation. Ask the controller.
      std::string out;
      if (!job_id.empty() && run_capture({"squeue", "-h", "-j", job_id, "-o", "%T|%L"}, &out) == 0 &&
          !lines_of(out).empty()) {
        const std::string l = lines_of(out)[0];
        const size_t bar = l.find('|');
        reason = "Slurm job state " + l.substr(0, bar) +
                 (bar == std::string::npos ? "" : ", time left " + l.substr(bar + 1));
      } else {
        reason = "from Slurm or a user";
      }
      std::fprintf(stderr, "sweep-task: %s (%s): passing it on to the run\n",
                   std::string(signal_name(stop_signal)).c_str(), reason.c_str());
      signal_child_group(started.pid, SIGTERM);
      // Slurm sends SIGKILL KillWait (default 30 s) after SIGTERM on a cancel; stay well inside.
      kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(25);
    }
    if (stop_signal && std::chrono::steady_clock::now() > kill_at) signal_child_group(started.pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string error;
  const std::string st = finish_run(started, status, stop_signal, reason, &error);
  std::fprintf(stderr, "sweep-task: %s %s%s\n", rel.c_str(), st.c_str(), error.empty() ? "" : (": " + error).c_str());
  if (st == "completed") return 0;
  return stop_signal ? 128 + SIGTERM : 1;
}

}  // namespace unroll
