// provenance.json: what produced a run (commit, build, libraries, plugins, machine, command,
// times, data files with SHA-256), and the hash cache keyed by path, size and mtime.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "support.hpp"
#include "unroll/files.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

TEST_CASE("every run folder gets provenance.json, data files are hashed once and cached", "[provenance][cli]") {
  TempDir dir;
  // A data file whose SHA-256 is known: the CSV below.
  const std::string csv = "a,y\n1,0\n2,1\n3,0\n4,1\n";
  std::ofstream(dir.file("d.csv")) << csv;
  std::ofstream(dir.file("exp.yaml")) << "data: {kind: csv, path: d.csv, target: y}\n"
                                         "model: [{kind: dense, units: 2}]\ntrain: {epochs: 1, batch: 2}\n";
  const std::string exe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";
  const std::string env = "XDG_CACHE_HOME=" + dir.file("cache") + " ";
  auto run = [&](const std::string& out) {
    const std::string cmd = env + exe + " run " + dir.file("exp.yaml") + " --quiet --out " + dir.file(out) + " > " +
                            dir.file("log") + " 2>&1";
    REQUIRE(WEXITSTATUS(std::system(cmd.c_str())) == 0);
    return nlohmann::json::parse(read_file(dir.file(out + "/provenance.json")));
  };
  // sha256 of "a,y\n1,0\n2,1\n3,0\n4,1\n", from sha256sum.
  std::system(("sha256sum " + dir.file("d.csv") + " | cut -c1-64 > " + dir.file("sum")).c_str());
  const std::string expected = read_file(dir.file("sum")).substr(0, 64);
  REQUIRE(expected.size() == 64);

  const auto p = run("r1");
  CHECK(std::regex_match(p["unroll"]["commit"].get<std::string>(), std::regex("[0-9a-f]{40}|unknown")));
  CHECK(p["unroll"]["dirty"].is_boolean());
  CHECK(p["unroll"]["api_version"].is_number());
  CHECK_FALSE(p["build"]["compiler"].get<std::string>().empty());
  CHECK(p["libraries"].contains("eigen"));
  CHECK(p["libraries"].contains("boost"));
  CHECK(p["machine"]["cores"].get<int>() >= 1);
  CHECK_FALSE(p["machine"]["host"].get<std::string>().empty());
  CHECK_THAT(p["command"].get<std::string>(), Contains("unroll run") && Contains("exp.yaml"));
  CHECK(p["status"] == "completed");
  CHECK_FALSE(p["end"].is_null());
  REQUIRE(p["plugins"].size() > 5);
  CHECK(p["plugins"][0]["sha256"].get<std::string>().size() == 64);
  REQUIRE(p["data_files"].size() == 1);
  CHECK(p["data_files"][0]["size"] == csv.size());
  CHECK(p["data_files"][0]["sha256"] == expected);

  // The cache is used while size and mtime hold: a planted hash comes back ...
  const std::string cache = dir.file("cache/unroll/sha256.json");
  auto c = nlohmann::json::parse(read_file(cache));
  const std::string key = std::filesystem::absolute(dir.file("d.csv")).lexically_normal().string();
  REQUIRE(c.contains(key));
  c[key]["sha256"] = std::string(64, 'f');
  write_file_atomic(cache, c.dump());
  CHECK(run("r2")["data_files"][0]["sha256"] == std::string(64, 'f'));
  // ... and a changed file (another mtime) is hashed again.
  std::filesystem::last_write_time(dir.file("d.csv"),
                                   std::filesystem::last_write_time(dir.file("d.csv")) + std::chrono::seconds(5));
  CHECK(run("r3")["data_files"][0]["sha256"] == expected);
}
