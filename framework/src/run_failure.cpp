#include "unroll/host/run_failure.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_marker.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace unroll {

namespace {

json read_summary(const std::string& run_dir) {
  try {
    return json::parse(read_file(run_dir + "/summary.json"));
  } catch (const std::exception&) {
    return json::object();
  }
}

// What the run had done when it failed, from metrics.csv (written after every epoch): the
// epochs completed and the last epoch's metrics, as a completed run's summary has them, so
// that `unroll report` and a reader see how far a crashed run got.
void add_progress(json& j, const std::string& run_dir) {
  if (j.contains("epochs")) return;  // the trainer wrote them itself
  std::ifstream in(run_dir + "/metrics.csv");
  std::string header, line, last;
  if (!std::getline(in, header)) return;
  long rows = 0;
  while (std::getline(in, line))
    if (!line.empty()) {
      last = line;
      ++rows;
    }
  j["epochs"] = rows;
  if (rows == 0) return;
  const auto cells = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string c; std::getline(in, c, ',');) out.push_back(c);
    return out;
  };
  const std::vector<std::string> names = cells(header), values = cells(last);
  json fin = json::object();
  for (size_t i = 1; i < names.size() && i < values.size(); ++i) {  // column 0 is the epoch
    char* end = nullptr;
    const double v = std::strtod(values[i].c_str(), &end);
    if (end != values[i].c_str() && std::isfinite(v)) fin[names[i]] = v;
  }
  j["final"] = fin;
}

}  // namespace

std::string summary_status(const std::string& run_dir) {
  const json j = read_summary(run_dir);
  return j.is_object() && j.contains("status") && j["status"].is_string() ? j["status"].get<std::string>() : "";
}

bool is_final_status(const std::string& s) {
  return s == "completed" || s == "failed" || s == "diverged" || s == "crashed" || s == "interrupted";
}

bool record_run_failure(const std::string& run_dir, const std::string& status, const std::string& error,
                        const std::string& extra_key, const std::string& extra_value) {
  try {
    json j = read_summary(run_dir);
    if (!j.is_object()) j = json::object();
    // A final status written earlier (by the trainer, or the fatal-signal handler) stands; what
    // its writer could not know is added: where the run was, and what the checkpoint holds.
    const bool recorded = is_final_status(j.value("status", std::string()));
    if (!recorded) {
      j["status"] = status;
      j["stop_reason"] = status == "failed" ? "error" : status;
      j["error"] = error;
    }
    if (!j.contains("phase")) j["phase"] = marker::phase_text();
    if (!j.contains("component")) j["component"] = marker::component_text();
    if (!extra_key.empty() && !extra_value.empty() && !j.contains(extra_key)) j[extra_key] = extra_value;
    if (!j.contains("checkpoint_epoch")) {
      try {
        j["checkpoint_epoch"] = json::parse(read_file(run_dir + "/checkpoint/manifest.json")).at("epoch");
      } catch (const std::exception&) {
        j["checkpoint_epoch"] = nullptr;  // no (readable) checkpoint yet
      }
    }
    add_progress(j, run_dir);
    j.erase("pid");  // the process is gone
    write_file_atomic(run_dir + "/summary.json", j.dump(2) + "\n");
    if (!recorded) {
      std::ofstream log(run_dir + "/log.txt", std::ios::app);
      log << "error: " << error << "\n";
    }
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: could not record the failure in %s/summary.json: %s\n", run_dir.c_str(), e.what());
    return false;
  }
}

void best_effort(const char* what, const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: could not %s: %s\n", what, e.what());
  }
}

}  // namespace unroll
