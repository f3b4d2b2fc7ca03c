#include "support.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <random>

#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/rng.hpp"
#include "spawn.hpp"

namespace unroll::testing {

PluginHost& host() {
  static PluginHost* h = [] {
    auto* p = new PluginHost();
    p->load_directory(PluginHost::builtin_dir());
    return p;
  }();
  return *h;
}

namespace {
template <class T>
std::shared_ptr<T> make(Kind kind, const std::string& yaml, TestContext& ctx) {
  return host().build<T>(kind, validate_component(parse_yaml(yaml, "<test>"), kind, host()), ctx);
}
}  // namespace

std::shared_ptr<Layer> make_layer(const std::string& yaml, int input_size, const std::string& name) {
  TestContext ctx(name, input_size);
  auto layer = make<Layer>(Kind::Layer, yaml, ctx);
  layer->bind(LayerContext{name, input_size});
  initialize(*layer);
  return layer;
}
std::shared_ptr<Loss> make_loss(const std::string& yaml) {
  TestContext ctx("loss");
  return make<Loss>(Kind::Loss, yaml, ctx);
}
std::shared_ptr<Initializer> make_initializer(const std::string& yaml) {
  TestContext ctx("init");
  return make<Initializer>(Kind::Initializer, yaml, ctx);
}
std::shared_ptr<Optimizer> make_optimizer(const std::string& yaml) {
  TestContext ctx("optimizer");
  return make<Optimizer>(Kind::Optimizer, yaml, ctx);
}
std::shared_ptr<Schedule> make_schedule(const std::string& yaml) {
  TestContext ctx("schedule");
  return make<Schedule>(Kind::Schedule, yaml, ctx);
}
std::shared_ptr<Regularizer> make_regularizer(const std::string& yaml) {
  TestContext ctx("regularizer");
  return make<Regularizer>(Kind::Regularizer, yaml, ctx);
}
std::shared_ptr<Dataset> make_dataset(const std::string& yaml) {
  TestContext ctx("data");
  return make<Dataset>(Kind::Dataset, yaml, ctx);
}

void initialize(Layer& layer, uint64_t seed) {
  for (Param* p : layer.params()) initialize_param(*p, host(), seed, ".");
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

std::string metrics_without_seconds(const std::string& metrics_csv) {
  const auto rows = read_csv(metrics_csv);
  const auto& header = rows.at(0);
  const size_t secs = static_cast<size_t>(std::find(header.begin(), header.end(), "seconds") - header.begin());
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      if (i != secs) out += r[i] + ",";
    out += "\n";
  }
  return out;
}

RunResult run_text(const TempDir& dir, const std::string& text, const std::string& out,
                   const std::vector<std::string>& sets, int threads) {
  const std::string path = dir.file(out + ".yaml");
  std::ofstream(path) << text;
  Experiment e = load_experiment(path, sets, host());
  RunOptions o;
  o.out_dir = dir.file(out);
  o.threads = threads;
  o.quiet = true;
  const RunResult r = run_experiment(e, host(), o);
  if (threads != 1) configure_threads(1);  // later tests in this process start from 1 thread
  return r;
}

const std::string& unroll_exe() {
  static const std::string path = UNROLL_BINARY_DIR "/bin/unroll";
  return path;
}

ShellResult shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cannot start /bin/sh for: " + cmd + " (" + std::strerror(errno) + ")");
  ShellResult r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

int spawn_unroll(const std::vector<std::string>& args, const std::string& log_path, int stdout_fd, bool own_group) {
  const std::string& bin = unroll_exe();
  std::vector<std::string> a = args;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    const rlimit no_core{0, 0};  // crash tests must not leave core files behind
    ::setrlimit(RLIMIT_CORE, &no_core);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(stdout_fd >= 0 ? stdout_fd : log, 1);
    ::dup2(log, 2);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string ranks_without_leak_check() {
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string options = asan && *asan ? std::string(asan) + ":detect_leaks=0" : "detect_leaks=0";
  return "env ASAN_OPTIONS=" + shell_quote(options) + " ";  // env: also right after `exec`
}

int wait_for(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

int run_unroll(const std::vector<std::string>& args, const std::string& log_path) {
  const int status = wait_for(spawn_unroll(args, log_path));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    auto p = base / ("unroll-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path = p.string();
      break;
    }
  }
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

Matrix normal(Eigen::Index rows, Eigen::Index cols, Rng& rng, double scale) {
  Matrix m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<Scalar>(scale * rng.normal());
  return m;
}

Matrix normal(Eigen::Index rows, Eigen::Index cols, uint64_t seed, double scale) {
  Rng rng(seed);
  return normal(rows, cols, rng, scale);
}

void randomize(Layer& l, uint64_t seed, double scale) {
  Rng rng(seed);
  for (Param* p : l.params()) p->value = normal(p->value.rows(), p->value.cols(), rng, scale);
}

std::string load_error(const std::string& text, const std::vector<std::string>& sets) {
  TempDir dir;
  const std::string path = dir.file("exp.yaml");
  std::ofstream(path) << text;
  try {
    load_experiment(path, sets, host());
  } catch (const Error& e) {
    std::string msg = e.what();
    // Make messages independent of the temp folder.
    for (size_t at; (at = msg.find(path)) != std::string::npos;) msg.replace(at, path.size(), "exp.yaml");
    return msg;
  }
  return "";
}

}  // namespace unroll::testing
