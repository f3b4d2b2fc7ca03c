// The Provenance section of a sweep's report.md: which runs were produced by different code,
// builds, libraries, plugins, machines or data than the sweep's first run, so a difference
// between variants can be told apart from a difference in what ran them.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "unroll/files.hpp"
#include "unroll/host/report.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace unroll {

namespace {

/// The parts of provenance.json that say what produced a run (not when, or from which folder).
std::map<std::string, std::string> identity(const Json& p) {
  std::map<std::string, std::string> m;
  auto put = [&](const std::string& key, const Json& v) { m[key] = v.is_string() ? v.get<std::string>() : v.dump(); };
  for (const char* k : {"version", "commit", "dirty", "api_version"})
    if (p.contains("unroll") && p["unroll"].contains(k)) put(std::string("unroll.") + k, p["unroll"][k]);
  for (const char* section : {"build", "libraries"})
    if (p.contains(section))
      for (const auto& [k, v] : p[section].items()) put(std::string(section) + "." + k, v);
  if (p.contains("machine"))
    for (const char* k : {"host", "cpu", "cores"})
      if (p["machine"].contains(k)) put(std::string("machine.") + k, p["machine"][k]);
  if (p.contains("plugins"))
    for (const auto& lib : p["plugins"])
      put("plugin " + fs::path(lib.value("path", "")).filename().string(), lib.value("sha256", ""));
  if (p.contains("data_files"))
    for (const auto& f : p["data_files"]) put("data " + f.value("path", ""), f.value("sha256", ""));
  return m;
}

std::string short_value(const std::string& v) { return v.size() > 16 ? v.substr(0, 12) + "…" : v; }

}  // namespace

std::string provenance_report(const std::string& sweep_dir) {
  const fs::path dir = sweep_dir;
  Json man;
  try {
    man = Json::parse(read_file((dir / "sweep.json").string()));
  } catch (const std::exception&) {
    return "";
  }
  std::ostringstream md;
  md << "\n## Provenance\n\n";
  bool have_ref = false;
  std::map<std::string, std::string> ref;
  std::string ref_name;
  std::vector<std::string> lines;
  int runs = 0, missing = 0;
  for (const auto& v : man["variants"])
    for (const auto& s : man["seeds"]) {
      const std::string name = v["name"].get<std::string>() + " seed " + std::to_string(s.get<long long>());
      const fs::path p = dir / "runs" / v["dir"].get<std::string>() / ("seed" + std::to_string(s.get<long long>())) /
                         "provenance.json";
      ++runs;
      Json j;
      try {
        j = Json::parse(read_file(p.string()));
      } catch (const std::exception&) {
        ++missing;
        lines.push_back("| " + name + " | no provenance.json |");
        continue;
      }
      const auto id = identity(j);
      if (!have_ref) {
        ref = id;
        ref_name = name;
        have_ref = true;
        continue;
      }
      std::string diff;
      for (const auto& [k, val] : id) {
        const auto it = ref.find(k);
        if (it == ref.end())
          diff += (diff.empty() ? "" : "; ") + k + " (only here)";
        else if (it->second != val)
          diff += (diff.empty() ? "" : "; ") + k + ": " + short_value(it->second) + " → " + short_value(val);
      }
      for (const auto& [k, val] : ref)
        if (!id.count(k)) diff += (diff.empty() ? "" : "; ") + k + " (missing)";
      if (!diff.empty()) lines.push_back("| " + name + " | " + diff + " |");
    }
  if (!have_ref) return md.str() + "No run has a provenance.json.\n";
  if (lines.empty()) {
    md << "All " << runs << " runs were produced by the same unroll commit ("
       << short_value(ref.count("unroll.commit") ? ref["unroll.commit"] : "unknown")
       << (ref["unroll.dirty"] == "true" ? ", with uncommitted changes" : "")
       << "), build, libraries, plugin libraries, machine and data files.\n";
    return md.str();
  }
  md << "Runs whose provenance differs from " << ref_name << " (commit, build, libraries, plugin and data file "
     << "SHA-256, machine):\n\n| run | differs in |\n|---|---|\n";
  for (const auto& l : lines) md << l << "\n";
  return md.str();
}

}  // namespace unroll
