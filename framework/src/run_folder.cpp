#include "unroll/host/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "unroll/error.hpp"
#include "unroll/host/checkpoint.hpp"
#include "unroll/files.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

// A temporary file of write_file_atomic ("metrics.csv.tmp1234") or of the crash handler.
bool is_temporary_output(const std::string& name) {
  const auto at = name.find(".tmp");
  return at != std::string::npos && at > 0;
}

}  // namespace

const std::vector<std::string>& run_output_names() {
  static const std::vector<std::string> names{"config.yaml",    "metrics.csv", "summary.json", "log.txt",
                                              "grad_lags.csv",  "crash.stack", "checkpoint",   "checkpoint.tmp",
                                              "checkpoint.old", "best",        "best.tmp",     "best.old"};
  return names;
}

std::vector<std::string> existing_run_outputs(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  for (const auto& n : run_output_names()) {
    if (!fs::exists(fs::path(dir) / n, ec)) continue;
    std::string item = n;
    if (n == "summary.json") {
      try {
        const auto j = nlohmann::json::parse(read_file(dir + "/summary.json"));
        item += " (status " + j.value("status", std::string("?")) + ")";
      } catch (const std::exception&) {
        item += " (unreadable)";
      }
    }
    found.push_back(item);
  }
  return found;
}

void prepare_run_folder(const std::string& dir, bool force) {
  const auto old = existing_run_outputs(dir);
  if (!old.empty() && !force) {
    std::string list;
    for (const auto& o : old) list += (list.empty() ? "" : ", ") + o;
    throw Error(dir + " already holds a run (" + list + "); use --force to replace it, or `unroll run --resume " + dir +
                "` to continue it");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw Error("cannot create the run folder " + dir + ": " +
                (ec ? ec.message() + " (errno " + std::to_string(ec.value()) + ")" : std::string("not a folder")));
}

void clear_run_outputs(const std::string& dir) {
  std::error_code ec;
  for (const auto& n : run_output_names()) {
    fs::remove_all(fs::path(dir) / n, ec);
    if (ec) throw Error("--force: cannot remove " + (fs::path(dir) / n).string() + ": " + ec.message());
  }
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_temporary_output(e.path().filename().string())) fs::remove_all(e.path(), ec);
}

RunFolderLock::RunFolderLock(const std::string& dir, double wait_seconds) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0 && (errno == EROFS || errno == EACCES)) fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    // A read-only folder without a lock file: nobody else can be writing it either.
    if (errno == EROFS || errno == ENOENT) return;
    throw Error("cannot open " + path + ": " + errno_text(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) throw Error("cannot lock " + path + ": " + errno_text(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      char pid[32] = {0};
      const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
      ::close(fd_);
      fd_ = -1;
      throw Error(dir + " is in use by another unroll process" +
                  (n > 0 ? " (pid " + std::string(pid, static_cast<size_t>(n)) + ")" : std::string()) +
                  "; wait for it to end, or stop it first");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string recover_checkpoint_swap(const std::string& dir) {
  std::string done;
  for (const std::string name : {"checkpoint", "best"}) {
    const std::string target = (fs::path(dir) / name).string();
    std::error_code ec;
    if (fs::exists(target + "/manifest.json", ec)) continue;
    if (recover_checkpoint(target))
      done += (done.empty() ? "" : "; ") + target +
              " restored from its complete copy (the last save was interrupted between its two renames)";
  }
  return done;
}

std::string clean_interrupted_writes(const std::string& dir) {
  const std::string note = recover_checkpoint_swap(dir);
  std::error_code ec;
  // Whatever recovery left of a save is incomplete or superseded.
  for (const std::string name : {"checkpoint", "best"})
    for (const char* suffix : {".tmp", ".old"}) fs::remove_all(fs::path(dir) / (name + suffix), ec);
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && is_temporary_output(e.path().filename().string())) fs::remove(e.path(), ec);
  return note;
}

nlohmann::json recorded_continuations(const std::string& dir) {
  try {
    const auto j = nlohmann::json::parse(read_file(dir + "/summary.json"));
    if (j.contains("continued") && j["continued"].is_array()) return j["continued"];
  } catch (const std::exception&) {
  }
  return nlohmann::json::array();
}

void write_running_summary(const std::string& dir, const std::string& name, const std::string& base_dir,
                           const nlohmann::json& continuation) {
  nlohmann::json continued = recorded_continuations(dir);
  if (!continuation.is_null()) continued.push_back(continuation);
  nlohmann::ordered_json j;
  j["name"] = name;
  j["status"] = "running";
  j["pid"] = ::getpid();
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j["started"] = stamp;
  j["base_dir"] = base_dir;
  if (!continued.empty()) j["continued"] = continued;
  write_file_atomic(dir + "/summary.json", j.dump(2) + "\n");
}

std::string recorded_base_dir(const std::string& dir) {
  try {
    return nlohmann::json::parse(read_file(dir + "/summary.json")).value("base_dir", std::string());
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace unroll
