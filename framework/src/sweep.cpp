#include "unroll/host/sweep.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/host/compose.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/child_process.hpp"
#include "unroll/host/fatal_signal.hpp"
#include "unroll/host/sweep_run.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace unroll {

namespace {

const std::vector<std::string> kSweepKeys{
    "seeds", "vary", "grid", "variants", "metric", "metrics", "jobs", "threads_per_run", "base_name"};

// Folder names: readable, but nothing a shell or a file system minds.
std::string dir_name(const std::string& name) {
  std::string out;
  for (unsigned char c : name)
    out += (std::isalnum(c) || std::string("._=,+-[]()").find(c) != std::string::npos) ? static_cast<char>(c) : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out.substr(0, 120);
}

MetricSpec metric_from(const Node& n) {
  MetricSpec m;
  if (n.is_scalar()) {
    m.name = n.text();
  } else if (n.is_map()) {
    for (const auto& [k, v] : n.entries())
      if (k != "name" && k != "higher_is_better")
        throw Error(v.key_loc().str() + ": unknown key '" + k + "' in a metric; valid keys: name, higher_is_better");
    const Node* name = n.find("name");
    if (!name || !name->is_scalar() || name->text().empty())
      throw Error(n.loc().str() + ": a metric needs a name, e.g. {name: test_accuracy, higher_is_better: true}");
    m.name = name->text();
    if (const Node* h = n.find("higher_is_better")) {
      auto b = h->as_bool();
      if (!b) throw Error(h->loc().str() + ": 'higher_is_better' expects true or false");
      m.higher_is_better = *b;
      return m;
    }
  } else {
    throw Error(n.loc().str() + ": a metric is a name or {name: ..., higher_is_better: ...}");
  }
  m.higher_is_better = m.name.find("accuracy") != std::string::npos;  // losses and bpc: lower is better
  return m;
}

int positive_int(const Node& n, const char* what) {
  auto v = n.as_int();
  if (!v || *v < 1) throw Error(n.loc().str() + ": '" + what + "' expects an integer >= 1");
  return static_cast<int>(*v);
}

const Node& values_of(const Node& factor, const std::string& key, const char* section) {
  if (!factor.is_sequence() || factor.items().empty())
    throw Error(factor.loc().str() + ": '" + key + "' in '" + section +
                "' expects a non-empty list of values, e.g. [0.0, 0.9] (a single value: [0.5])");
  return factor;
}

struct Draft {
  std::string name, origin;
  Node tree;
};

std::string strip_locs_yaml(const Node& n) { return to_yaml(n); }

std::string fmt_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

}  // namespace

std::string value_label(const Node& v) {
  switch (v.type()) {
    case Node::Type::Null: return "null";
    case Node::Type::Scalar: return v.text();
    case Node::Type::Sequence: {
      std::string s = "[";
      // Appended: GCC 12 misreads `(...) + std::string` as an overlapping copy (-Wrestrict, bug 105651).
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) s += ',';
        s += value_label(v.items()[i]);
      }
      return s + "]";
    }
    case Node::Type::Map: {
      std::string head, args;
      for (const auto& [k, x] : v.entries()) {
        if (k == "kind" && x.is_scalar())
          head = x.text();
        else
          args += (args.empty() ? "" : ",") + k + "=" + value_label(x);
      }
      if (head.empty()) return "{" + args + "}";
      return args.empty() ? head : head + "(" + args + ")";
    }
  }
  return "?";
}

SweepSpec load_sweep(const std::string& file, const std::vector<std::string>& sets, PluginHost& host) {
  Node root = load_composed(file);
  for (const auto& s : sets) apply_set(root, s);
  SweepSpec spec;
  spec.file = file;
  const std::string base_dir = fs::absolute(fs::path(file)).parent_path().string();

  Node sweep = Node::map(root.loc());
  for (const auto& k : kSweepKeys)
    if (const Node* v = root.find(k)) {
      sweep.set(k, *v);
      root.erase(k);
    }

  // Seeds: a list, or a count N meaning 1..N; absent: the base experiment's seed.
  if (const Node* s = sweep.find("seeds"); s && !s->is_null()) {
    if (s->is_scalar()) {
      const int n = positive_int(*s, "seeds");
      for (int i = 1; i <= n; ++i) spec.seeds.push_back(i);
    } else if (s->is_sequence() && !s->items().empty()) {
      std::set<long long> seen;
      for (const Node& i : s->items()) {
        auto v = i.as_int();
        if (!v || *v < 0) throw Error(i.loc().str() + ": a seed must be an integer >= 0, got '" + i.text() + "'");
        if (!seen.insert(*v).second) throw Error(i.loc().str() + ": seed " + i.text() + " is listed twice");
        spec.seeds.push_back(*v);
      }
    } else {
      throw Error(s->loc().str() + ": 'seeds' expects a count (3) or a list of seeds ([1, 2, 3])");
    }
  }
  spec.metric = {"test_loss", false};
  if (const Node* m = sweep.find("metric"); m && !m->is_null()) spec.metric = metric_from(*m);
  if (const Node* m = sweep.find("metrics"); m && !m->is_null()) {
    if (!m->is_sequence()) throw Error(m->loc().str() + ": 'metrics' expects a list of metric names");
    for (const Node& i : m->items()) spec.extra_metrics.push_back(metric_from(i));
  }
  if (const Node* j = sweep.find("jobs"); j && !j->is_null()) spec.jobs = positive_int(*j, "jobs");
  if (const Node* t = sweep.find("threads_per_run"); t && !t->is_null())
    spec.threads_per_run = positive_int(*t, "threads_per_run");

  // The base variant's name: its run folder and its row in the report ("base" unless named).
  std::string base_name = "base";
  if (const Node* b = sweep.find("base_name"); b && !b->is_null()) {
    if (!b->is_scalar() || b->text().empty())
      throw Error(b->loc().str() +
                  ": 'base_name' expects a non-empty name for the base variant, e.g. base_name: baseline");
    base_name = b->text();
  }

  absolutize_paths(root);
  std::vector<Draft> drafts;
  drafts.push_back({base_name, "", root});

  if (const Node* vary = sweep.find("vary"); vary && !vary->is_null()) {
    if (!vary->is_map()) throw Error(vary->loc().str() + ": 'vary' expects a mapping PATH: [values ...]");
    for (const auto& [key, factor] : vary->entries())
      for (const Node& v : values_of(factor, key, "vary").items()) {
        Draft d{key + "=" + value_label(v), v.loc().str(), root};
        try {
          set_path(d.tree, key, v, factor.key_loc());
        } catch (const Error& e) {
          throw Error("variant '" + d.name + "': " + e.what());
        }
        drafts.push_back(std::move(d));
      }
  }
  if (const Node* grid = sweep.find("grid"); grid && !grid->is_null()) {
    if (!grid->is_map() || grid->entries().empty())
      throw Error(grid->loc().str() + ": 'grid' expects a mapping PATH: [values ...] or FACTOR: {LEVEL: {overrides}}");
    // A factor is either PATH: [values] (each value set at PATH) or FACTOR: {LEVEL: {overrides}},
    // named levels that each change several values at once (a cell and its learning rate, a lag
    // and the sequence length it needs); the variant's name then shows FACTOR=LEVEL.
    const auto& factors = grid->entries();
    std::vector<std::vector<std::pair<std::string, const Node*>>> levels;
    for (const auto& [key, factor] : factors) {
      auto& l = levels.emplace_back();
      if (factor.is_map()) {
        if (factor.entries().empty())
          throw Error(factor.loc().str() + ": factor '" + key + "' in 'grid' has no levels");
        for (const auto& [name, over] : factor.entries()) {
          if (!over.is_map())
            throw Error(over.loc().str() + ": level '" + name + "' of grid factor '" + key +
                        "' expects a mapping of overrides, e.g. {optimizer.lr: 0.01}");
          l.emplace_back(name, &over);
        }
      } else {
        for (const Node& v : values_of(factor, key, "grid").items()) l.emplace_back(value_label(v), &v);
      }
    }
    std::vector<size_t> idx(factors.size(), 0);
    while (true) {
      Draft d{"", grid->loc().str(), root};
      for (size_t f = 0; f < factors.size(); ++f) {
        const auto& [label, v] = levels[f][idx[f]];
        const std::string part = factors[f].first + "=" + label;
        d.name += (f ? "," : "") + part;
        try {
          if (factors[f].second.is_map()) {
            Node o = *v;
            absolutize_paths(o);
            merge_into(d.tree, o);
          } else {
            set_path(d.tree, factors[f].first, *v, factors[f].second.key_loc());
          }
        } catch (const Error& e) {
          throw Error("grid variant with " + part + ": " + e.what());
        }
      }
      drafts.push_back(std::move(d));
      // Odometer: the last factor turns fastest.
      bool carry = true;
      for (size_t f = factors.size(); f > 0 && carry;) {
        --f;
        carry = ++idx[f] == levels[f].size();
        if (carry) idx[f] = 0;
      }
      if (carry) break;
    }
  }
  if (const Node* named = sweep.find("variants"); named && !named->is_null()) {
    if (!named->is_map()) throw Error(named->loc().str() + ": 'variants' expects a mapping NAME: {overrides ...}");
    for (const auto& [name, over] : named->entries()) {
      if (name == base_name)
        throw Error(over.key_loc().str() + ": variant '" + name + "' has the name of the base variant; rename it" +
                    (base_name == "base" ? " or name the base otherwise (base_name: ...)" : " or change base_name"));
      if (!over.is_map())
        throw Error(over.loc().str() + ": variant '" + name +
                    "' expects a mapping of overrides, e.g. {optimizer.lr: 0.01}");
      Draft d{name, over.key_loc().str(), root};
      Node o = over;
      absolutize_paths(o);
      try {
        merge_into(d.tree, o);
      } catch (const Error& e) {
        throw Error("variant '" + name + "': " + e.what());
      }
      drafts.push_back(std::move(d));
    }
  }

  // Resolve every variant before anything runs.
  std::set<std::string> names, dirs;
  std::string base_yaml;
  for (size_t i = 0; i < drafts.size(); ++i) {
    Draft& d = drafts[i];
    Variant v;
    v.name = d.name;
    v.origin = d.origin;
    const std::string which = "variant '" + d.name + "'" + (d.origin.empty() ? "" : " (" + d.origin + ")") + ": ";
    try {
      v.config = resolve_experiment(d.tree, host, base_dir);
    } catch (const ConfigErrors& e) {  // every error of the variant, each naming it
      std::vector<std::string> named;
      for (const auto& m : e.messages()) named.push_back(which + m);
      throw ConfigErrors(named, e.more());
    } catch (const Error& e) {
      throw Error(which + e.what());
    }
    if (v.config.at("name").text().empty())
      v.config.set("name", Node::scalar(fs::path(file).stem().string(), SourceLoc{"file name", 0, 0}));
    if (spec.name.empty()) spec.name = v.config.at("name").text();
    const std::string y = strip_locs_yaml(v.config);
    if (i == 0) {
      base_yaml = y;
    } else if (y == base_yaml) {
      spec.notes.push_back("variant '" + d.name + "' equals the base experiment; the base runs once");
      continue;
    }
    if (!names.insert(v.name).second) {
      spec.notes.push_back("variant '" + d.name + "' appears twice; it runs once");
      continue;
    }
    v.dir = dir_name(v.name);
    for (int i = 2; dirs.count(v.dir); ++i) v.dir = dir_name(v.name) + "-" + std::to_string(i);
    dirs.insert(v.dir);
    spec.variants.push_back(std::move(v));
  }
  if (spec.seeds.empty()) spec.seeds.push_back(*spec.variants[0].config.at("seed").as_int());
  return spec;
}

std::vector<SweepRun> prepare_sweep_folder(const SweepSpec& spec, const std::string& out_dir) {
  const fs::path out = out_dir;
  fs::create_directories(out / "variants");
  fs::create_directories(out / "runs");

  // The manifest the report reads, and each variant's resolved config. The record of earlier
  // Slurm submissions is kept: --status and the next submission read it.
  Json man;
  man["name"] = spec.name;
  man["file"] = fs::absolute(spec.file).string();
  man["seeds"] = spec.seeds;
  man["metric"] = {{"name", spec.metric.name}, {"higher_is_better", spec.metric.higher_is_better}};
  Json extra = Json::array();
  for (const auto& m : spec.extra_metrics)
    extra.push_back({{"name", m.name}, {"higher_is_better", m.higher_is_better}});
  man["metrics"] = extra;
  Json vars = Json::array();
  for (const auto& v : spec.variants) {
    vars.push_back({{"name", v.name}, {"dir", v.dir}, {"origin", v.origin}});
    const fs::path y = out / "variants" / (v.dir + ".yaml");
    // The header names no paths, so the comparison below is immune to how the sweep was invoked.
    const std::string text = "# variant '" + v.name + "' of sweep '" + spec.name + "', resolved\n" + to_yaml(v.config);
    if (fs::exists(y) && read_file(y.string()) != text && fs::exists(out / "runs" / v.dir)) {
      std::fprintf(stderr, "sweep: variant '%s' changed since the last invocation; its earlier runs are discarded\n",
                   v.name.c_str());
      fs::remove_all(out / "runs" / v.dir);
    }
    write_file_atomic(y.string(), text);
  }
  man["variants"] = vars;
  if (fs::exists(out / "sweep.json")) {
    try {
      const Json old = Json::parse(read_file((out / "sweep.json").string()));
      if (old.contains("slurm")) man["slurm"] = old["slurm"];
    } catch (...) {
    }
  }
  write_file_atomic((out / "sweep.json").string(), man.dump(2) + "\n");
  return list_sweep_runs(out_dir);
}

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& opt) {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  SweepResult res;
  // Default: one single-threaded run per core. Measured on 2 cores (docs/ablations.md): 12
  // small MLP runs took 13.1 s as 2 x 1 thread and 20.4 s as 1 x 2 threads.
  res.jobs = opt.jobs > 0 ? opt.jobs : spec.jobs > 0 ? spec.jobs : cores;
  res.threads_per_run = opt.threads_per_run > 0    ? opt.threads_per_run
                        : spec.threads_per_run > 0 ? spec.threads_per_run
                                                   : std::max(1, cores / res.jobs);
  if (opt.unroll_binary.empty() || !fs::exists(opt.unroll_binary))
    throw Error("cannot start the runs: the unroll executable '" + opt.unroll_binary + "' does not exist");
  SweepLock lock(opt.out_dir);
  // Children of an earlier sweep that was killed cannot have outlived it (they get SIGTERM when
  // it dies), but a run stuck in a system call might: stop it before its folder is reused.
  for (const auto& n : reap_stale_children(opt.out_dir, opt.stop_grace_seconds)) {
    res.notes.push_back(n);
    if (opt.progress) std::fprintf(stderr, "sweep: %s\n", n.c_str());
  }
  const std::vector<SweepRun> all = prepare_sweep_folder(spec, opt.out_dir);

  std::deque<SweepRun> pending;
  for (const auto& r : all) {
    ++res.total;
    const std::string state = run_folder_state(r.dir, false);
    if (state == "completed") {
      ++res.skipped;
      ++res.completed;
    } else if (state == "diverged" && !opt.retry_diverged) {
      ++res.skipped;
      ++res.diverged;
    } else {
      pending.push_back(r);
    }
  }

  RunCommand cmd;
  cmd.unroll_binary = opt.unroll_binary;
  cmd.threads = res.threads_per_run;
  cmd.plugin_dirs = opt.plugin_dirs;
  const bool tty = opt.progress && ::isatty(STDERR_FILENO);
  using Clock = std::chrono::steady_clock;
  std::vector<StartedRun> running;
  // Whatever ends this function (an exception included), no child outlives it.
  struct Reaper {
    std::vector<StartedRun>& running;
    double grace;
    ~Reaper() {
      for (const auto& r : running) signal_child_group(r.pid, SIGTERM);
      for (const auto& r : running) {
        int st = 0;
        if (!wait_child(r.pid, grace, &st)) {
          signal_child_group(r.pid, SIGKILL);
          wait_child(r.pid, 5, &st);
        }
      }
    }
  } reaper{running, opt.stop_grace_seconds};
  if (opt.handle_signals) install_stop_handlers();
  double seconds_done = 0;
  int finished_now = 0;
  const auto t0 = Clock::now();
  auto last_draw = t0 - std::chrono::seconds(10);
  const int to_run = static_cast<int>(pending.size());
  const std::string kept = res.diverged ? ", " + std::to_string(res.diverged) +
                                              " of them diverged and kept as results: --retry-diverged runs them again"
                                        : "";
  if (opt.progress)
    std::fprintf(stderr,
                 "sweep %s: %zu variant(s) x %zu seed(s) = %d runs (%d done before%s), %d at a time, %d thread(s) "
                 "each\n",
                 spec.name.c_str(), spec.variants.size(), spec.seeds.size(), res.total, res.skipped, kept.c_str(),
                 res.jobs, res.threads_per_run);

  auto status_line = [&] {
    std::ostringstream s;
    s << "sweep: " << res.completed << "/" << res.total << " done, " << running.size() << " running, ";
    if (res.diverged) s << res.diverged << " diverged, ";
    s << res.failed << " failed";
    const int left = static_cast<int>(pending.size() + running.size());
    if (finished_now > 0 && left > 0) {
      const double per = seconds_done / finished_now;
      s << ", ETA " << fmt_duration(per * left / std::max<size_t>(1, std::min<size_t>(res.jobs, left)));
    }
    return s.str();
  };
  auto say = [&](const std::string& line) {
    if (!opt.progress) return;
    if (tty)
      std::fprintf(stderr, "\r\033[K%s\n", line.c_str());
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  };

  int stop_signal = 0;
  Clock::time_point kill_at{};
  while (!pending.empty() || !running.empty()) {
    // A stop request (Ctrl-C, SIGTERM, SIGHUP): no new runs; pass it on to the running ones, which
    // checkpoint and exit; SIGKILL whatever is still there after the grace period.
    if (!stop_signal && stop_requested()) {
      stop_signal = stop_requested();
      res.interrupted = true;
      res.not_started = static_cast<int>(pending.size());
      pending.clear();
      say("sweep: " + std::string(signal_name(stop_signal)) + ": stopping " + std::to_string(running.size()) +
          " run(s); they checkpoint and the next invocation resumes them");
      for (const auto& r : running) signal_child_group(r.pid, SIGTERM);
      kill_at = Clock::now() +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.stop_grace_seconds));
    }
    if (stop_signal && Clock::now() > kill_at)
      for (const auto& r : running) signal_child_group(r.pid, SIGKILL);
    while (!pending.empty() && static_cast<int>(running.size()) < res.jobs) {
      const SweepRun j = pending.front();
      pending.pop_front();
      running.push_back(start_run(j, opt.out_dir, cmd));
      if (running.back().resumed) ++res.resumed;
      if (!tty)
        say((running.back().resumed ? "resumed " : "started ") + j.variant + " seed " + std::to_string(j.seed) +
            (running.back().resumed ? " from epoch " + std::to_string(running.back().resumed_from_epoch) : ""));
    }

    bool changed = false;
    for (size_t i = 0; i < running.size();) {
      int status = 0;
      const pid_t r = ::waitpid(running[i].pid, &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) {
        ++i;
        continue;
      }
      const StartedRun run = running[i];
      running.erase(running.begin() + i);
      changed = true;
      std::string error;
      const std::string st =
          finish_run(run, r > 0 ? status : 0, stop_signal, stop_signal ? "the sweep was stopped" : "", &error);
      const double secs = std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - run.start_seconds;
      seconds_done += secs;
      ++finished_now;
      if (st == "completed")
        ++res.completed;
      else if (st == "diverged")
        ++res.diverged;
      else if (st == "interrupted")
        ++res.interrupted_runs;
      else
        ++res.failed;
      std::ostringstream line;
      line << (st == "completed"     ? "done   "
               : st == "interrupted" ? "stopped "
               : st == "diverged"    ? "DIVERGED "
                                     : "FAILED ")
           << run.run.variant << " seed " << run.run.seed << " (" << fmt_duration(secs) << ")";
      if (st != "completed") line << ": " << error.substr(0, 300);
      say(line.str() + (tty ? "" : "  [" + status_line().substr(7) + "]"));
    }
    if (tty && (changed || Clock::now() - last_draw > std::chrono::seconds(1))) {
      std::fprintf(stderr, "\r\033[K%s", status_line().c_str());
      last_draw = Clock::now();
    }
    if (!running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (opt.progress)
    std::fprintf(stderr, "sweep %s: %d/%d runs completed, %d diverged, %d failed%s (%d run now in %s)\n",
                 spec.name.c_str(), res.completed, res.total, res.diverged, res.failed,
                 res.interrupted ? (", stopped by " + std::string(signal_name(stop_signal))).c_str() : "", to_run,
                 fmt_duration(std::chrono::duration<double>(Clock::now() - t0).count()).c_str());
  return res;
}

}  // namespace unroll
