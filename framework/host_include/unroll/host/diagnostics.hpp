#pragma once
// Validation reports every mistake of a file at once, not the first one only: the checks of an
// experiment add their errors to a Diagnostics and go on with the next key, block or section,
// and the whole list is thrown at the end as one ConfigErrors.
#include <cstddef>
#include <string>
#include <vector>

#include "unroll/error.hpp"

namespace unroll {

/// Every validation error of one file (each "file:line:column: what"), in the order found.
/// An Error whose what() is the messages one per line; `unroll` prints each as "error: ...".
class ConfigErrors : public Error {
 public:
  explicit ConfigErrors(std::vector<std::string> messages, std::size_t more = 0)
      : Error(join(messages, more)), messages_(std::move(messages)), more_(more) {}
  ~ConfigErrors() override;  // defined in libunroll (config.cpp): one home for its type_info, as Error's
  const std::vector<std::string>& messages() const { return messages_; }
  /// Errors found past the limit and not listed.
  std::size_t more() const { return more_; }

 private:
  static std::string join(const std::vector<std::string>& m, std::size_t more) {
    std::string out;
    for (const auto& s : m) out += (out.empty() ? "" : "\n") + s;
    if (more) out += "\n(" + std::to_string(more) + " more error" + (more == 1 ? "" : "s") + " not shown)";
    return out;
  }
  std::vector<std::string> messages_;
  std::size_t more_ = 0;
};

/// Collects validation errors up to a limit (20: a screenful; past it the rest are counted).
class Diagnostics {
 public:
  static constexpr std::size_t kLimit = 20;

  /// Record an error; a ConfigErrors adds each of its messages.
  void add(const Error& e) {
    if (const auto* many = dynamic_cast<const ConfigErrors*>(&e)) {
      for (const auto& m : many->messages()) add(m);
      more_ += many->more();
      return;
    }
    add(std::string(e.what()));
  }
  void add(const std::string& message) {
    if (messages_.size() < kLimit)
      messages_.push_back(message);
    else
      ++more_;
  }
  /// Run check(); an Error it throws is recorded instead of ending validation. Returns whether
  /// check() completed.
  template <class F>
  bool attempt(F&& check) {
    try {
      check();
      return true;
    } catch (const Error& e) {
      add(e);
      return false;
    }
  }
  bool empty() const { return messages_.empty(); }
  std::size_t count() const { return messages_.size() + more_; }
  /// Throws the errors so far as one ConfigErrors (nothing when there are none).
  void throw_if_any() const {
    if (!messages_.empty()) throw ConfigErrors(messages_, more_);
  }

 private:
  std::vector<std::string> messages_;
  std::size_t more_ = 0;
};

}  // namespace unroll
