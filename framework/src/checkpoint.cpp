#include "unroll/host/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "fault_point.hpp"
#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/npy.hpp"
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

std::string parent_of(const std::string& dir) {
  const fs::path p = fs::absolute(dir).parent_path();
  return p.empty() ? "." : p.string();
}

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
      sync_path(tmp + "/" + file, false);
      manifest[section].push_back({{"name", name}, {"shape", {m.rows(), m.cols()}}, {"file", file}});
    }
  };
  add("params", "", s.params);
  add("buffers", "", s.buffers);
  add("optimizer", "optimizer@", s.optimizer);
  add("schedule", "schedule@", s.schedule);
  fault_point("checkpoint-before-manifest");
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
  // The manifest is written last: a folder with a manifest is complete (recover_checkpoint
  // relies on it).
  write_file_atomic(tmp + "/manifest.json", manifest.dump(2) + "\n");
  sync_path(tmp + "/manifest.json", false);
  sync_path(tmp, true);
  // Swap: the old checkpoint is removed only after the new one is complete. A kill between the
  // two renames leaves DIR.old and DIR.tmp, both complete; recover_checkpoint puts one back.
  const std::string old = dir + ".old";
  fs::remove_all(old, ec);
  if (ec) throw fs_error("remove", old, ec);
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    if (ec) throw fs_error("rename " + dir + " to", old, ec);
  }
  fault_point("checkpoint-between-renames");
  fs::rename(tmp, dir, ec);
  if (ec) throw fs_error("rename " + tmp + " to", dir, ec);
  sync_path(parent_of(dir), true);
  fault_point("checkpoint-before-removing-old");
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

Manifest parse_manifest(const std::string& text, const std::string& mf) {
  json m;
  try {
    m = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(mf + ": cannot parse the manifest: " + e.what());
  }
  Manifest out;
  auto bad = [&](const std::string& what) { return Error(mf + ": malformed manifest: " + what); };
  // Whole numbers only: a digit string too long for an integer parses as a float, and casting an
  // out-of-range float to an integer is undefined behaviour (the manifest fuzzer found it).
  auto whole = [&](const json& v, const std::string& what) {
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<unsigned long long>() > (1ull << 62)))
      throw bad(what + " is not a whole number in range: " + v.dump().substr(0, 40));
    return v.get<long long>();
  };
  try {
    if (!m.is_object()) throw bad("not a JSON object");
    TrainProgress& p = out.progress;
    const long long epoch = whole(m.at("epoch"), "epoch");
    if (epoch < 0 || epoch > std::numeric_limits<int>::max())
      throw bad("epoch " + std::to_string(epoch) + " is out of range");
    p.epoch = static_cast<int>(epoch);
    p.step = whole(m.at("step"), "step");
    if (p.step < 0) throw bad("step " + std::to_string(p.step) + " is negative");
    out.base_dir = m.value("base_dir", std::string());
    out.config_yaml = m.value("config", std::string());
    // The tensor tables are the part of the format plugins read too (<unroll/checkpoint_reader.hpp>).
    TensorTables tables = parse_tensor_tables(text, mf);
    out.params = std::move(tables.params);
    out.buffers = std::move(tables.buffers);
    out.optimizer = std::move(tables.optimizer);
    out.schedule = std::move(tables.schedule);
    if (m.contains("trainer")) {
      const json& tr = m.at("trainer");
      p.columns = tr.at("columns").get<std::vector<std::string>>();
      if (!tr.at("rows").is_array()) throw bad("trainer.rows is not a list");
      for (const auto& r : tr.at("rows")) {
        if (!r.is_array() || r.size() != p.columns.size())
          throw bad("metrics row " + std::to_string(p.rows.size() + 1) + " has " +
                    std::to_string(r.is_array() ? r.size() : 0) + " values for " + std::to_string(p.columns.size()) +
                    " columns");
        std::vector<double> row;
        for (const auto& v : r) row.push_back(num(v));
        p.rows.push_back(std::move(row));
      }
      if (p.rows.size() != static_cast<size_t>(p.epoch))
        throw bad(std::to_string(p.rows.size()) + " metrics rows for " + std::to_string(p.epoch) +
                  " completed epochs (one row per epoch)");
      p.best_metric = tr.at("best").at("metric").get<std::string>();
      p.best_value = num(tr.at("best").at("value"));
      const long long best_epoch = whole(tr.at("best").at("epoch"), "best epoch");
      if (best_epoch < 0 || best_epoch > p.epoch)
        throw bad("best epoch " + std::to_string(best_epoch) + " is not in [0, " + std::to_string(p.epoch) + "]");
      p.best_epoch = static_cast<int>(best_epoch);
      p.early_best = num(tr.at("early_stopping").at("best"));
      const long long early_bad = whole(tr.at("early_stopping").at("bad_epochs"), "early_stopping.bad_epochs");
      if (early_bad < 0 || early_bad > p.epoch)
        throw bad("early_stopping.bad_epochs " + std::to_string(early_bad) + " is not in [0, " +
                  std::to_string(p.epoch) + "]");
      p.early_bad = static_cast<int>(early_bad);
      p.seconds = tr.value("seconds", 0.0);
      if (!(p.seconds >= 0)) throw bad("trainer.seconds is negative");
    }
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
  return out;
}

Snapshot read_checkpoint(const std::string& dir) {
  recover_checkpoint(dir);  // a save killed between its two renames left complete copies
  const std::string mf = dir + "/manifest.json";
  if (!fs::exists(mf)) throw Error(dir + ": not a checkpoint folder (no manifest.json)");
  const Manifest man = parse_manifest(read_file(mf), mf);
  Snapshot s;
  s.progress = man.progress;
  s.base_dir = man.base_dir;
  s.config_yaml = man.config_yaml;
  auto read = [&](const std::vector<TensorEntry>& list, NamedTensors& out) {
    for (const TensorEntry& e : list) {
      Matrix t = load_npy(dir + "/" + e.file);
      if (t.rows() != e.rows || t.cols() != e.cols)
        throw Error(dir + ": " + e.name + " is " + shape_text(t.rows(), t.cols()) + " in its .npy file but " +
                    shape_text(e.rows, e.cols) + " in manifest.json");
      out.emplace_back(e.name, std::move(t));
    }
  };
  read(man.params, s.params);
  read(man.buffers, s.buffers);
  read(man.optimizer, s.optimizer);
  read(man.schedule, s.schedule);
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

}  // namespace unroll
