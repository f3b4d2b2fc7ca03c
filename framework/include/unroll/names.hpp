#pragma once
// "Did you mean ...?" for error messages: the host uses it for YAML keys, kinds and choices,
// plugins for their own names (the pretrained initializer for checkpoint parameter names).
#include <cstddef>
#include <string>
#include <vector>

namespace unroll {

/// Levenshtein distance: insertions, deletions and substitutions, each costing 1.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The closest candidate by edit distance (a substring of 3+ characters counts as close), or ""
/// when nothing is close.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace unroll
