#pragma once
// What the data-parallel tests (tests/test_mpi*.cpp, tag [mpi]) share: launching
//   mpirun --allow-run-as-root --oversubscribe -np N bin/unroll run ...
// failing (never skipping) when mpirun cannot start, and comparing run folders within the
// tolerance of float summation order.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "file_support.hpp"
#include "spawn.hpp"
#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/checkpoint.hpp"

namespace unroll::testing::mpi {

// Short names for the command lines below (spawn.hpp).
inline const std::string& kBin = unroll::testing::unroll_exe();
inline std::string q(const std::string& s) { return unroll::testing::shell_quote(s); }

// Open MPI 4 makes its session folder (/tmp/ompi.HOST.UID) racily: two mpiruns starting at the
// same moment (ctest -j2 runs two [mpi] tests at once) can fail with "mkdir ... File exists".
// Each test process gets a session folder of its own, removed when it exits.
inline const std::string& mpi_session_base() {
  struct Dir {
    std::string path;
    Dir() : path((std::filesystem::temp_directory_path() / ("unroll-ompi-" + std::to_string(::getpid()))).string()) {
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// mpirun as root in a container on 2 cores: --allow-run-as-root, --oversubscribe (more ranks
// than cores is allowed), no binding (other processes share the cores).
inline std::string mpirun(int ranks) {
  return ranks_without_leak_check() +
         "mpirun --allow-run-as-root --oversubscribe --bind-to none --mca orte_tmpdir_base " +
         shell_quote(mpi_session_base()) + " -np " + std::to_string(ranks) + " ";
}

// Fails (never skips) when mpirun is missing or cannot start two processes.
inline void require_mpirun() {
  const ShellResult r = shell(mpirun(2) + "true");
  INFO("mpirun could not start 2 processes (install openmpi-bin with tools/setup); its output:\n" << r.out);
  REQUIRE(r.code == 0);
}

// `unroll run` with N ranks (0: a plain one-process run, no mpirun) into dir/out.
inline ShellResult run(int ranks, const TempDir& dir, const std::string& file, const std::string& out,
                       const std::string& extra = "") {
  const std::string launcher = ranks > 0 ? mpirun(ranks) : "";
  return shell(launcher + q(kBin) + " run " + q(dir.file(file)) + " --quiet --threads 1 --out " + q(dir.file(out)) +
               " " + extra);
}

// A command that must succeed (its output is shown when it does not).
inline void require_ok(const ShellResult& r) {
  INFO(r.out);
  REQUIRE(r.code == 0);
}

// run(), required to succeed.
inline void run_ok(int ranks, const TempDir& dir, const std::string& file, const std::string& out,
                   const std::string& extra = "") {
  require_ok(run(ranks, dir, file, out, extra));
}

using unroll::testing::write;  // file_support.hpp

// Every numeric column but `seconds` of two metrics.csv files, row by row: losses and norms within
// a relative `rel`, accuracies within 1% of the samples.
inline void require_close_metrics(const std::string& a_csv, const std::string& b_csv, double rel = 1e-3) {
  const auto a = unroll::testing::read_csv(a_csv), b = unroll::testing::read_csv(b_csv);
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() > 1);
  REQUIRE(a[0] == b[0]);
  for (size_t r = 1; r < a.size(); ++r)
    for (size_t c = 0; c < a[0].size(); ++c) {
      const std::string& col = a[0][c];
      if (col == "seconds") continue;
      const double x = std::stod(a[r][c]), y = std::stod(b[r][c]);
      INFO("metrics.csv row " << r << ", column " << col << ": " << x << " vs " << y);
      if (col.find("accuracy") != std::string::npos)
        CHECK(std::abs(x - y) <= 0.01);
      else
        CHECK(std::abs(x - y) <= rel * std::max(1.0, std::abs(x)));
    }
}

// Every tensor of two checkpoints (same names, same shapes) within `rel` of its largest entry.
inline void require_close_tensors(const unroll::NamedTensors& a, const unroll::NamedTensors& b, double rel = 1e-3) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& [name, m] = a[i];
    INFO("tensor " << name);
    REQUIRE(b[i].first == name);
    const unroll::Matrix& n = b[i].second;
    REQUIRE(m.rows() == n.rows());
    REQUIRE(m.cols() == n.cols());
    const double scale = std::max(1.0, static_cast<double>(m.cwiseAbs().maxCoeff()));
    CHECK(static_cast<double>((m - n).cwiseAbs().maxCoeff()) <= rel * scale);
  }
}

inline void require_close_checkpoints(const std::string& a_dir, const std::string& b_dir, double rel = 1e-3) {
  const unroll::Snapshot a = unroll::read_checkpoint(a_dir), b = unroll::read_checkpoint(b_dir);
  require_close_tensors(a.params, b.params, rel);
  require_close_tensors(a.buffers, b.buffers, rel);
  require_close_tensors(a.optimizer, b.optimizer, rel);
}

inline std::string metrics(const std::string& dir) {
  return unroll::testing::metrics_without_seconds(dir + "/metrics.csv");
}

// Continue the run in `run_dir`, trained for `from` epochs, to `to` epochs with `ranks` ranks (0: one
// process) as an interrupted run is continued: its config.yaml gets the `to` epochs back (the
// uninterrupted run's config) and its summary is removed.
inline ShellResult resume_to_epochs(int ranks, const std::string& run_dir, int from, int to) {
  std::string cfg = unroll::read_file(run_dir + "/config.yaml");
  const std::string was = "epochs: " + std::to_string(from);
  const size_t at = cfg.find(was);
  REQUIRE(at != std::string::npos);
  cfg.replace(at, was.size(), "epochs: " + std::to_string(to));
  write(run_dir + "/config.yaml", cfg);
  std::filesystem::remove(run_dir + "/summary.json");
  const std::string launcher = ranks > 0 ? mpirun(ranks) : "";
  return shell(launcher + q(kBin) + " run --quiet --threads 1 --resume " + q(run_dir));
}

}  // namespace unroll::testing::mpi
