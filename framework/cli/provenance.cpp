#include "provenance.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unroll/eigen.hpp"
#include <algorithm>
#include <boost/version.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/version.hpp"

namespace fs = std::filesystem;

namespace unroll::build_info {
extern const char* const kCommit;  // generated at build time (cmake/BuildInfo.cmake)
extern const bool kDirty;
}  // namespace unroll::build_info

namespace unroll::cli {

namespace {

std::string now_iso() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string sha256_uncached(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the file to hash it");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string cache_file() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/unroll/sha256.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/unroll/sha256.json";
  return "";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

/// Every file a data block names: its string options that are files (or folders: their files),
/// resolved against the experiment's folder.
std::vector<std::string> data_files(const Node& data, const std::string& base_dir) {
  std::vector<std::string> out;
  for (const auto& [key, value] : data.entries()) {
    if (!value.is_scalar() || value.text().empty() || key == "kind") continue;
    fs::path p = value.text();
    if (p.is_relative()) p = fs::path(base_dir) / p;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      out.push_back(fs::absolute(p).lexically_normal().string());
    } else if (fs::is_directory(p, ec)) {
      std::vector<std::string> inside;
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.is_regular_file()) inside.push_back(fs::absolute(e.path()).lexically_normal().string());
      std::sort(inside.begin(), inside.end());
      out.insert(out.end(), inside.begin(), inside.end());
    }
  }
  return out;
}

nlohmann::json file_entry(const std::string& path) {
  std::error_code ec;
  return {{"path", path}, {"size", fs::file_size(path, ec)}, {"sha256", file_sha256(path)}};
}

}  // namespace

std::string file_sha256(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot read the file to hash it");
  const std::string key = fs::absolute(path).lexically_normal().string();
  const std::string stamp =
      std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  const std::string cache = cache_file();
  nlohmann::json c = nlohmann::json::object();
  if (!cache.empty() && fs::exists(cache)) {
    try {
      c = nlohmann::json::parse(read_file(cache));
    } catch (const std::exception&) {
      c = nlohmann::json::object();  // a damaged cache is only a cache: start again
    }
    if (c.contains(key) && c[key].value("stamp", "") == stamp) return c[key].value("sha256", "");
  }
  const std::string sha = sha256_uncached(path);
  if (!cache.empty()) {
    try {
      fs::create_directories(fs::path(cache).parent_path());
      c[key] = {{"stamp", stamp}, {"sha256", sha}};
      write_file_atomic(cache, c.dump(1) + "\n");
    } catch (const std::exception&) {
      // A read-only home only costs hashing again next time.
    }
  }
  return sha;
}

Provenance::Provenance(const std::string& run_dir, const Experiment& exp, const PluginHost& host,
                       const std::vector<std::string>& command_line)
    : path_(run_dir + "/provenance.json") {
  j_["unroll"] = {{"version", UNROLL_VERSION},
                  {"api_version", UNROLL_API_VERSION},
                  {"commit", build_info::kCommit},
                  {"dirty", build_info::kDirty}};
  j_["build"] = {{"type", UNROLL_BUILD_TYPE},
                 {"flags", UNROLL_BUILD_FLAGS},
                 {"compiler", std::string(UNROLL_COMPILER_ID) + " " + __VERSION__},
                 {"abi", UNROLL_ABI_FINGERPRINT}};
  j_["libraries"] = {
      {"eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                    std::to_string(EIGEN_MINOR_VERSION)},
      {"boost", std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                    std::to_string(BOOST_VERSION % 100)},
      {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH)},
      {"yaml-cpp", UNROLL_YAML_CPP_VERSION},
      {"openssl", OpenSSL_version(OPENSSL_VERSION)}};
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& lib : host.loaded())
    plugins.push_back({{"path", fs::absolute(lib).lexically_normal().string()},
                       {"sha256", file_sha256(lib)},
                       {"api_version", UNROLL_API_VERSION}});  // the host refuses any other
  j_["plugins"] = plugins;
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  j_["machine"] = {{"host", name}, {"cpu", cpu_model()}, {"cores", std::thread::hardware_concurrency()}};
  std::string cmd = "unroll";
  for (const auto& a : command_line) cmd += " " + a;
  j_["command"] = cmd;
  j_["cwd"] = fs::current_path().string();
  j_["experiment"] = exp.file;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : data_files(exp.config.at("data"), exp.base_dir)) files.push_back(file_entry(f));
  j_["data_files"] = files;
  j_["start"] = now_iso();
  j_["end"] = nullptr;
  j_["status"] = "running";
  // A resumed run keeps what produced its earlier part.
  if (fs::exists(path_)) {
    try {
      nlohmann::json before = nlohmann::json::parse(read_file(path_));
      nlohmann::json previous = before.contains("previous") ? before["previous"] : nlohmann::json::array();
      before.erase("previous");
      previous.push_back(before);
      j_["previous"] = previous;
    } catch (const nlohmann::json::exception&) {
      // An unreadable earlier record is replaced rather than blocking the run.
    }
  }
  fs::create_directories(run_dir);
  write();
}

void Provenance::finish(const std::string& status) {
  j_["end"] = now_iso();
  j_["status"] = status;
  write();
}

void Provenance::record(const std::string& key, const nlohmann::json& value) {
  j_[key] = value;
  write();
}

void Provenance::write() const { write_file_atomic(path_, j_.dump(2) + "\n"); }

}  // namespace unroll::cli
