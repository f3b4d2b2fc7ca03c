#pragma once
// A token vocabulary and its file: what makes token indices mean the same thing in training,
// on resume, in eval and in predict. A dataset whose inputs are tokens (char_text) reports its
// vocabulary; the host saves it as RUN_DIR/vocab.txt and hands that file back to the dataset
// (its `vocab` option) whenever the run's data is built again.
//
// The file is plain text, one token per line, the line's position its index:
//
//   #unroll-vocab tokens=word lowercase=true
//   <unk>	0
//   the	523
//   ,	410
//
// The first line holds the settings the tokens were made with (key=value, space separated);
// each further line is the token, a tab, and how often it occurred where the vocabulary was
// built (0 when unknown). Inside a token, bytes that would break the format or be invisible
// (control bytes, space, DEL) and the backslash are written as \xHH; other bytes, UTF-8 included,
// are written as they are. The token `<unk>`, when present, is where unknown tokens go.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace unroll {

struct Vocabulary {
  /// How the tokens were made ("tokens" -> "word", "lowercase" -> "true"): a reader compares
  /// them with its own settings, so a char vocabulary is never used to read words.
  std::map<std::string, std::string> settings;
  std::vector<std::string> tokens;    // index -> token (raw bytes)
  std::vector<std::uint64_t> counts;  // index -> occurrences where it was built; same length as tokens
  bool empty() const { return tokens.empty(); }
};

/// The token as written in the file: control bytes, space, DEL and '\' as \xHH.
std::string escape_token(std::string_view token);

/// The file's text.
std::string format_vocabulary(const Vocabulary& v);

/// Parse a vocabulary file's text. Every problem — no header line, a line without its tab or
/// count, a bad escape, an empty or repeated token, no tokens at all — is an Error naming
/// `path`, the line and the column.
Vocabulary parse_vocabulary(std::string_view text, const std::string& path);

/// Read and parse the file `path` (an Error names it when it is missing or unreadable).
Vocabulary read_vocabulary(const std::string& path);

/// Write the file atomically (a temporary name, then rename).
void write_vocabulary(const std::string& path, const Vocabulary& v);

}  // namespace unroll
