#pragma once
// The subcommands of the unroll CLI; each returns the process exit code.
#include <stdexcept>
#include <string>
#include <vector>

namespace unroll::cli {

/// Bad command-line usage (exit code 2), as opposed to unroll::Error (bad input, exit code 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int cmd_run(const std::vector<std::string>& args);
int cmd_plugins(const std::vector<std::string>& args);

}  // namespace unroll::cli
