#include "unroll/vocabulary.hpp"

#include <charconv>
#include <filesystem>
#include <unordered_map>

#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace unroll {

namespace {

constexpr std::string_view kHeader = "#unroll-vocab";

bool needs_escape(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '\\'; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void fail(const std::string& path, std::size_t line, std::size_t col, const std::string& what) {
  throw Error(path + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + what);
}

}  // namespace

std::string escape_token(std::string_view token) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (needs_escape(c)) {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string format_vocabulary(const Vocabulary& v) {
  std::string out(kHeader);
  for (const auto& [k, val] : v.settings) out += " " + k + "=" + val;
  out += "\n";
  for (std::size_t i = 0; i < v.tokens.size(); ++i)
    out += escape_token(v.tokens[i]) + "\t" + std::to_string(i < v.counts.size() ? v.counts[i] : 0) + "\n";
  return out;
}

Vocabulary parse_vocabulary(std::string_view text, const std::string& path) {
  Vocabulary v;
  std::unordered_map<std::string, std::size_t> seen;  // token -> its line
  std::size_t line_no = 0, at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // written on Windows
    if (line_no == 1) {
      if (line.substr(0, kHeader.size()) != kHeader)
        fail(path, 1, 1,
             "not an unroll vocabulary file: the first line must start with '" + std::string(kHeader) +
                 "' (then the settings, e.g. tokens=word lowercase=false)");
      std::string_view rest = line.substr(kHeader.size());
      std::size_t p = 0;
      while (p < rest.size()) {
        while (p < rest.size() && rest[p] == ' ') ++p;
        if (p >= rest.size()) break;
        std::size_t q = rest.find(' ', p);
        if (q == std::string_view::npos) q = rest.size();
        const std::string_view kv = rest.substr(p, q - p);
        const std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0)
          fail(path, 1, kHeader.size() + p + 1, "expected a setting KEY=VALUE, got '" + std::string(kv) + "'");
        v.settings[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
        p = q;
      }
      continue;
    }
    if (line.empty()) {
      if (at >= text.size()) break;  // the final newline
      fail(path, line_no, 1, "empty line: each line is a token, a tab and its count");
    }
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
      fail(path, line_no, line.size() + 1, "expected a tab and the token's count after the token");
    if (tab == 0) fail(path, line_no, 1, "empty token (write a space or a tab as \\x20, \\x09)");
    std::string token;
    for (std::size_t i = 0; i < tab; ++i) {
      const char c = line[i];
      if (c != '\\') {
        token += c;
        continue;
      }
      const bool room = i + 3 < tab;  // \xHH fits before the tab
      const int hi = room ? hex_digit(line[i + 2]) : -1;
      const int lo = room ? hex_digit(line[i + 3]) : -1;
      if (!room || line[i + 1] != 'x' || hi < 0 || lo < 0)
        fail(path, line_no, i + 1, "bad escape: a backslash starts \\xHH (two hex digits)");
      token += static_cast<char>(hi * 16 + lo);
      i += 3;
    }
    const std::string_view count_text = line.substr(tab + 1);
    std::uint64_t count = 0;
    const auto [ptr, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (count_text.empty() || ec != std::errc() || ptr != count_text.data() + count_text.size())
      fail(path, line_no, tab + 2,
           "expected the token's count (a non-negative integer), got '" + std::string(count_text) + "'");
    if (auto [it, fresh] = seen.emplace(token, line_no); !fresh)
      fail(path, line_no, 1,
           "token '" + escape_token(token) + "' is already on line " + std::to_string(it->second) +
               ": each token has one index");
    v.tokens.push_back(std::move(token));
    v.counts.push_back(count);
  }
  if (line_no == 0) fail(path, 1, 1, "the vocabulary file is empty");
  if (v.tokens.empty()) fail(path, line_no, 1, "the vocabulary has no tokens (only its header line)");
  return v;
}

Vocabulary read_vocabulary(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": vocabulary file not found");
  return parse_vocabulary(read_file(path), path);
}

void write_vocabulary(const std::string& path, const Vocabulary& v) { write_file_atomic(path, format_vocabulary(v)); }

}  // namespace unroll
