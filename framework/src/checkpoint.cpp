#include "unroll/host/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/host/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/npy.hpp"
#include "unroll/host/run_marker.hpp"
#include "unroll/optimizer.hpp"
#include "unroll/rng.hpp"
#include "unroll/schedule.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace unroll {

namespace {

constexpr int kFormat = 2;

// File names keep the tensor name readable: "dense0.W" -> "dense0.W.npy"; optimizer and schedule
// state get a section prefix so their names cannot collide: "optimizer@dense0.W@m.npy".
std::string file_for(const std::string& prefix, const std::string& name) {
  std::string f = prefix + name;
  for (char& c : f)
    if (c == '/') c = '@';
  return f + ".npy";
}

// JSON has no NaN: null stands for it.
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double num(const json& j) { return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>(); }

std::string shape_text(long r, long c) { return std::to_string(r) + "x" + std::to_string(c); }

}  // namespace

std::string config_hash(const std::string& yaml) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Rng::hash(yaml)));
  return buf;
}

Snapshot capture(Model& model, Optimizer& optimizer, Schedule* schedule, const TrainProgress& progress) {
  Snapshot s;
  s.progress = progress;
  for (Param* p : model.params()) s.params.emplace_back(p->name, p->value);
  for (auto& [name, m] : model.buffers()) s.buffers.emplace_back(name, *m);
  for (auto& [name, m] : optimizer.state()) s.optimizer.emplace_back(name, m);
  if (schedule)
    if (StateMap* st = schedule->state())
      for (auto& [name, m] : *st) s.schedule.emplace_back(name, m);
  return s;
}

namespace {
template <class FsError>
void save_checkpoint_files(const std::string& dir, const std::string& tmp, const Snapshot& s, FsError fs_error) {
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (ec) throw fs_error("remove", tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw fs_error("create", tmp, ec);
  json manifest;
  manifest["format"] = kFormat;
  const TrainProgress& p = s.progress;
  manifest["epoch"] = p.epoch;
  manifest["step"] = p.step;
  manifest["config_hash"] = config_hash(s.config_yaml);
  manifest["base_dir"] = s.base_dir;
  auto add = [&](const char* section, const char* prefix, const NamedTensors& list) {
    manifest[section] = json::array();
    for (const auto& [name, m] : list) {
      const std::string file = file_for(prefix, name);
      save_npy(tmp + "/" + file, m);
      manifest[section].push_back({{"name", name}, {"shape", {m.rows(), m.cols()}}, {"file", file}});
    }
  };
  add("params", "", s.params);
  add("buffers", "", s.buffers);
  add("optimizer", "optimizer@", s.optimizer);
  add("schedule", "schedule@", s.schedule);
  json tr;
  tr["columns"] = p.columns;
  tr["rows"] = json::array();
  for (const auto& row : p.rows) {
    json r = json::array();
    for (double v : row) r.push_back(num(v));
    tr["rows"].push_back(r);
  }
  tr["best"] = {{"metric", p.best_metric}, {"value", num(p.best_value)}, {"epoch", p.best_epoch}};
  tr["early_stopping"] = {{"best", num(p.early_best)}, {"bad_epochs", p.early_bad}};
  tr["seconds"] = p.seconds;
  manifest["trainer"] = tr;
  manifest["config"] = s.config_yaml;
  write_file_atomic(tmp + "/manifest.json", manifest.dump(2) + "\n");
  // Swap: the old checkpoint is removed only after the new one is complete.
  const std::string old = dir + ".old";
  fs::remove_all(old, ec);
  if (ec) throw fs_error("remove", old, ec);
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    if (ec) throw fs_error("rename " + dir + " to", old, ec);
  }
  fs::rename(tmp, dir, ec);
  if (ec) throw fs_error("rename " + tmp + " to", dir, ec);
  fs::remove_all(old, ec);
}
}  // namespace

void save_checkpoint(const std::string& dir, const Snapshot& s) {
  marker::PhaseScope phase("checkpoint");
  const std::string tmp = dir + ".tmp";
  // Failures name the path and the errno; the partial copy is removed so that a full disk is not
  // kept full by it, and the previous checkpoint stays as it was.
  auto fs_error = [](const std::string& what, const std::string& path, const std::error_code& ec) {
    return Error("cannot " + what + " " + path + ": " + ec.message() + " (errno " + std::to_string(ec.value()) + ")");
  };
  try {
    save_checkpoint_files(dir, tmp, s, fs_error);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    // Failed between the two renames: put the previous checkpoint back in place.
    if (!fs::exists(dir, ignored) && fs::exists(dir + ".old", ignored)) fs::rename(dir + ".old", dir, ignored);
    throw;
  }
}

Snapshot read_checkpoint(const std::string& dir) {
  const std::string mf = dir + "/manifest.json";
  if (!fs::exists(mf)) throw Error(dir + ": not a checkpoint folder (no manifest.json)");
  json m;
  try {
    m = json::parse(read_file(mf));
  } catch (const json::exception& e) {
    throw Error(mf + ": cannot parse the manifest: " + e.what());
  }
  Snapshot s;
  try {
    TrainProgress& p = s.progress;
    p.epoch = m.at("epoch").get<int>();
    p.step = m.at("step").get<long long>();
    s.base_dir = m.value("base_dir", std::string());
    s.config_yaml = m.value("config", std::string());
    auto read = [&](const char* section, NamedTensors& out) {
      if (!m.contains(section)) return;
      for (const auto& e : m.at(section)) {
        const std::string name = e.at("name").get<std::string>();
        Matrix t = load_npy(dir + "/" + e.at("file").get<std::string>());
        const long r = e.at("shape").at(0).get<long>(), c = e.at("shape").at(1).get<long>();
        if (t.rows() != r || t.cols() != c)
          throw Error(dir + ": " + name + " is " + shape_text(t.rows(), t.cols()) + " in its .npy file but " +
                      shape_text(r, c) + " in manifest.json");
        out.emplace_back(name, std::move(t));
      }
    };
    read("params", s.params);
    read("buffers", s.buffers);
    read("optimizer", s.optimizer);
    read("schedule", s.schedule);
    if (m.contains("trainer")) {
      const json& tr = m.at("trainer");
      p.columns = tr.at("columns").get<std::vector<std::string>>();
      for (const auto& r : tr.at("rows")) {
        std::vector<double> row;
        for (const auto& v : r) row.push_back(num(v));
        p.rows.push_back(std::move(row));
      }
      p.best_metric = tr.at("best").at("metric").get<std::string>();
      p.best_value = num(tr.at("best").at("value"));
      p.best_epoch = tr.at("best").at("epoch").get<int>();
      p.early_best = num(tr.at("early_stopping").at("best"));
      p.early_bad = tr.at("early_stopping").at("bad_epochs").get<int>();
      p.seconds = tr.value("seconds", 0.0);
    }
  } catch (const json::exception& e) {
    throw Error(mf + ": malformed manifest: " + e.what());
  }
  return s;
}

void restore(const Snapshot& s, Model& model, Optimizer& optimizer, Schedule* schedule) {
  auto put = [](const char* what, const NamedTensors& from, const std::string& name, Matrix& into) {
    for (const auto& [n, m] : from)
      if (n == name) {
        if (m.rows() != into.rows() || m.cols() != into.cols())
          throw Error(std::string("checkpoint ") + what + " '" + name + "' is " + shape_text(m.rows(), m.cols()) +
                      " but the model's is " + shape_text(into.rows(), into.cols()) +
                      " (a checkpoint of a different model?)");
        into = m;
        return;
      }
    throw Error(std::string("the checkpoint has no ") + what + " '" + name + "' (a checkpoint of a different model?)");
  };
  for (Param* p : model.params()) put("parameter", s.params, p->name, p->value);
  for (auto& [name, m] : model.buffers()) put("buffer", s.buffers, name, *m);
  StateMap& os = optimizer.state();
  os.clear();
  for (const auto& [n, m] : s.optimizer) os[n] = m;
  StateMap* ss = schedule ? schedule->state() : nullptr;
  if (ss) {
    ss->clear();
    for (const auto& [n, m] : s.schedule) (*ss)[n] = m;
  } else if (!s.schedule.empty()) {
    throw Error("the checkpoint has schedule state (" + s.schedule.front().first +
                ", ...) but this run's schedule keeps none (a checkpoint of a different schedule?)");
  }
}

TrainProgress load_checkpoint(const std::string& dir, Model& model, Optimizer& optimizer, Schedule* schedule) {
  Snapshot s = read_checkpoint(dir);
  restore(s, model, optimizer, schedule);
  return s.progress;
}

std::string find_checkpoint_dir(const std::string& dir, const std::string& which) {
  if (fs::exists(fs::path(dir) / "manifest.json")) return dir;
  if (fs::exists(fs::path(dir) / which / "manifest.json")) return (fs::path(dir) / which).string();
  throw Error(dir + ": neither a checkpoint folder nor a run folder with a checkpoint (no manifest.json in it or in " +
              which + "/)");
}

std::vector<TensorEntry> checkpoint_params(const std::string& dir) {
  const std::string mf = dir + "/manifest.json";
  std::vector<TensorEntry> out;
  try {
    json m = json::parse(read_file(mf));
    for (const auto& e : m.at("params"))
      out.push_back({e.at("name").get<std::string>(), e.at("file").get<std::string>(),
                     e.at("shape").at(0).get<long>(), e.at("shape").at(1).get<long>()});
  } catch (const json::exception& e) {
    throw Error(mf + ": malformed manifest: " + e.what());
  }
  return out;
}

}  // namespace unroll
