#pragma once
// The `params` option of the parameter-level regularizers (l1, l2, weight_noise,
// gradient_noise, max_norm, and yours): which parameters, by name, a regularizer acts on.
// The host checks every regularizer option named `params` against the model's parameter names
// before training, with this same matcher, so a typo is reported at its file:line:col.
//
//   "*.W|*.U"       globs separated by '|' ('*' = any run of characters, '?' = one character),
//                   each matched against the WHOLE name; the default, weight matrices only
//                   (biases and batch-norm gamma/beta are left alone, as is conventional)
//   "*"             every parameter
//   "/lstm[0-9]+\.U/"  a value between slashes is an ECMAScript regular expression, also
//                   matched against the whole name
//
// A pattern that selects none of the model's parameters is an error (it is almost always a typo).
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/param.hpp"
#include "unroll/schema.hpp"

namespace unroll {

inline constexpr const char* kDefaultParamPattern = "*.W|*.U";

inline void add_params_option(Schema& s) {
  s.string("params", kDefaultParamPattern,
           "parameters to act on: '|'-separated globs, or /regex/; full-name match (default: weight matrices)");
}

inline bool glob_match(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

class ParamSelection {
 public:
  /// `owner` names the regularizer in error messages ("l2 regularizer 'regularizers[0]'").
  ParamSelection(std::string pattern, std::string owner) : pattern_(std::move(pattern)), owner_(std::move(owner)) {
    if (pattern_.size() >= 2 && pattern_.front() == '/' && pattern_.back() == '/') {
      is_regex_ = true;
      try {
        regex_ = std::regex(pattern_.substr(1, pattern_.size() - 2), std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw Error(owner_ + ": params '" + pattern_ + "' is not a valid regular expression (" + e.what() + ")");
      }
    } else {
      for (size_t start = 0;;) {
        const size_t bar = pattern_.find('|', start);
        globs_.push_back(pattern_.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
    }
  }

  bool matches(const std::string& name) const {
    if (is_regex_) return std::regex_match(name, regex_);
    for (const auto& g : globs_)
      if (glob_match(g, name)) return true;
    return false;
  }

  /// The matching subset of `all`. The trainer passes the same list every update, so the
  /// subset is computed once and reused (no per-update matching or allocation).
  const std::vector<Param*>& select(const std::vector<Param*>& all) {
    if (all == last_all_) return selected_;
    last_all_ = all;
    selected_.clear();
    for (Param* p : all)
      if (matches(p->name)) selected_.push_back(p);
    if (selected_.empty()) {
      std::string names;
      for (const Param* p : all) names += (names.empty() ? "" : ", ") + p->name;
      last_all_.clear();
      throw Error(owner_ + ": params '" + pattern_ + "' matches none of the model's parameters (" +
                  (names.empty() ? std::string("the model has none") : names) + ")");
    }
    return selected_;
  }

 private:
  std::string pattern_, owner_;
  bool is_regex_ = false;
  std::regex regex_;
  std::vector<std::string> globs_;
  std::vector<Param*> last_all_, selected_;
};

}  // namespace unroll
