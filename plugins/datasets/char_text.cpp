// Language-model data from a text file: the input at step t is token x_t, the target is the next
// token x_{t+1}, at every step. Tokens are bytes (tokens: char) or words and punctuation marks
// (tokens: word); inputs are one-hot vectors, or token indices for an embedding layer
// (input: index). The vocabulary is reported to the host, which saves it with the run
// (vocab.txt) and gives it back through the `vocab` option when the data is read again.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <unordered_map>
#include <unroll/files.hpp>
#include <unroll/plugin.hpp>
#include <unroll/vocabulary.hpp>

namespace {

using unroll::Error;
using unroll::Split;
using unroll::Vocabulary;

const std::string kUnk = "<unk>";

struct Settings {
  std::string path;
  int length = 50;
  double test_fraction = 0.1;
  bool words = false;      // tokens: word
  bool lowercase = false;  // ASCII letters folded to lower case before tokenizing
  int min_count = 1;       // rarer tokens become <unk>
  int max_vocab = 0;       // at most this many tokens, <unk> included (0: no limit)
  bool index = false;      // input: index
  std::string vocab;       // a vocabulary file to use instead of building one
};

/// A token of the text: its bytes are text[start, start + size).
struct Span {
  std::size_t start, size;
};

bool word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }  // UTF-8 stays whole

/// Words are runs of letters, digits, '_' and non-ASCII bytes, with an apostrophe inside a word
/// kept ("don't"); every other non-space byte is a token of its own; white space separates.
std::vector<Span> split_words(const std::string& text) {
  std::vector<Span> out;
  const std::size_t n = text.size();
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < n;) {
    if (std::isspace(at(i))) {
      ++i;
    } else if (word_byte(at(i))) {
      std::size_t j = i + 1;
      while (j < n && (word_byte(at(j)) || (text[j] == '\'' && j + 1 < n && word_byte(at(j + 1))))) ++j;
      out.push_back({i, j - i});
      i = j;
    } else {
      out.push_back({i, 1});
      ++i;
    }
  }
  return out;
}

std::string where(const std::string& path, const std::string& text, std::size_t offset) {
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
  const std::size_t nl = text.rfind('\n', offset == 0 ? std::string::npos : offset - 1);
  const std::size_t col = offset - (nl == std::string::npos || nl >= offset ? 0 : nl + 1) + 1;
  return path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

class CharText final : public unroll::Dataset {
 public:
  explicit CharText(Settings s) : s_(std::move(s)) {
    std::ifstream in(s_.path, std::ios::binary);
    if (!in) throw Error("char_text: cannot open text file " + s_.path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.empty()) throw Error("char_text: " + s_.path + " is empty: there is no text to learn from");
    if (s_.lowercase)
      for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

    std::vector<Span> spans;
    if (s_.words) {
      spans = split_words(text);
      if (spans.empty()) throw Error("char_text: " + s_.path + " has no words (only white space)");
    } else {
      spans.reserve(text.size());
      for (std::size_t i = 0; i < text.size(); ++i) spans.push_back({i, 1});
    }
    const std::size_t n = spans.size();
    const std::size_t test_tokens = static_cast<std::size_t>(s_.test_fraction * static_cast<double>(n));
    train_end_ = n - test_tokens;

    if (!s_.vocab.empty()) {
      load_vocabulary();
    } else if (s_.words) {
      build_vocabulary(text, std::span<const Span>(spans).first(train_end_));  // unseen test words are <unk>
    } else {
      build_vocabulary(text, spans);  // the bytes of the whole file
    }
    const int V = static_cast<int>(vocab_.tokens.size());
    if (s_.index && V >= (1 << 24))
      throw Error("char_text: " + std::to_string(V) +
                  " tokens are too many for input: index (exact up to 16777215); "
                  "set max_vocab");

    std::unordered_map<std::string, uint32_t> id;
    for (int i = 0; i < V; ++i) id.emplace(vocab_.tokens[static_cast<std::size_t>(i)], static_cast<uint32_t>(i));
    const auto unk = id.find(kUnk);
    ids_.reserve(n);
    for (const Span& sp : spans) {
      const auto it = id.find(text.substr(sp.start, sp.size));
      if (it != id.end()) {
        ids_.push_back(it->second);
      } else if (unk != id.end()) {
        ids_.push_back(unk->second);
      } else {
        throw Error("char_text: " + where(s_.path, text, sp.start) + ": token '" +
                    unroll::escape_token(text.substr(sp.start, sp.size)) + "' is not in the vocabulary" +
                    (s_.vocab.empty() ? "" : " " + s_.vocab) + ", which has no " + kUnk + " token to stand for it");
      }
    }

    const int T = s_.length;
    const char* unit = s_.words ? " tokens" : " characters";
    windows_[0] = train_end_ > 0 ? (train_end_ - 1) / T : 0;
    windows_[1] = test_tokens > 0 ? (test_tokens - 1) / T : 0;
    if (windows_[0] == 0)
      throw Error("char_text: " + s_.path + " has " + std::to_string(n) + unit + "; the training part (" +
                  std::to_string(train_end_) + ") needs at least length + 1 = " + std::to_string(T + 1));
    if (s_.test_fraction > 0 && windows_[1] == 0)
      throw Error("char_text: the test part of " + s_.path + " (" + std::to_string(test_tokens) + unit +
                  ", test_fraction " + std::to_string(s_.test_fraction) +
                  ") needs at least length + 1 = " + std::to_string(T + 1) + "; raise test_fraction or set it to 0");
  }

  unroll::DatasetInfo info() const override {
    const int V = static_cast<int>(vocab_.tokens.size());
    return {.input_size = s_.index ? 1 : V,
            .steps = s_.length,
            .output_size = V,
            .labels = true,
            .every_step = true,
            .has_test = windows_[1] > 0,
            .bits_per_symbol = true,
            .input_vocab = s_.index ? V : 0};
  }
  std::size_t size(Split s) const override { return windows_[s == Split::Train ? 0 : 1]; }
  Vocabulary vocabulary() const override { return vocab_; }

  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const std::size_t start = s == Split::Train ? 0 : train_end_;
    const int B = static_cast<int>(indices.size()), T = s_.length;
    x.resize(s_.index ? 1 : static_cast<int>(vocab_.tokens.size()), T, B);
    x.data.setZero();
    y.steps = T;
    y.batch = B;
    y.labels.resize(static_cast<std::size_t>(T) * B);
    y.values.resize(0, 0);
    for (int b = 0; b < B; ++b) {
      if (indices[b] >= size(s))
        throw Error("char_text: window " + std::to_string(indices[b]) + " requested, the split has " +
                    std::to_string(size(s)));
      const uint32_t* w = &ids_[start + indices[b] * T];
      for (int t = 0; t < T; ++t) {
        const auto col = static_cast<Eigen::Index>(static_cast<std::size_t>(t) * B + b);
        if (s_.index)
          x.data(0, col) = static_cast<float>(w[t]);
        else
          x.data(w[t], col) = 1.0f;
        y.labels[static_cast<std::size_t>(col)] = static_cast<int>(w[t + 1]);
      }
    }
  }

 private:
  std::map<std::string, std::string> settings() const {
    return {{"tokens", s_.words ? "word" : "char"}, {"lowercase", s_.lowercase ? "true" : "false"}};
  }

  // Char tokens without min_count or max_vocab: the sorted set of bytes, no <unk> (the classic
  // character model). Otherwise <unk> is index 0 and stands for every token left out; words
  // follow by falling count (ties in byte order), bytes in byte order.
  void build_vocabulary(const std::string& text, std::span<const Span> spans) {
    std::map<std::string, std::uint64_t> count;
    for (const Span& sp : spans) ++count[text.substr(sp.start, sp.size)];
    const bool prune = s_.words || s_.min_count > 1 || s_.max_vocab > 0;
    std::vector<std::pair<std::string, std::uint64_t>> kept;
    for (const auto& [tok, c] : count)
      if (c >= static_cast<std::uint64_t>(s_.min_count)) kept.emplace_back(tok, c);
    if (s_.words)
      std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (s_.max_vocab > 0 && kept.size() > static_cast<std::size_t>(s_.max_vocab - 1)) {
      if (!s_.words)  // the most frequent bytes, then back in byte order
        std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      kept.resize(static_cast<std::size_t>(s_.max_vocab - 1));
      if (!s_.words) std::sort(kept.begin(), kept.end());
    }
    vocab_.settings = settings();
    if (prune) {
      std::uint64_t known = 0;
      for (const auto& k : kept) known += k.second;
      vocab_.tokens.push_back(kUnk);
      vocab_.counts.push_back(static_cast<std::uint64_t>(spans.size()) - known);
    }
    for (auto& [tok, c] : kept) {
      if (tok == kUnk) continue;  // the text's own "<unk>" is the unknown token
      vocab_.tokens.push_back(tok);
      vocab_.counts.push_back(c);
    }
  }

  void load_vocabulary() {
    vocab_ = unroll::read_vocabulary(s_.vocab);
    for (const auto& [key, want] : settings()) {
      const auto it = vocab_.settings.find(key);
      if (it != vocab_.settings.end() && it->second != want)
        throw Error("char_text: the vocabulary " + s_.vocab + " was made with " + key + "=" + it->second +
                    ", but this data block has " + key + ": " + want +
                    "; a vocabulary only fits the tokens it was "
                    "made from");
    }
    vocab_.settings = settings();
  }

  Settings s_;
  Vocabulary vocab_;
  std::vector<uint32_t> ids_;  // the text as token indices
  std::size_t train_end_ = 0;  // tokens [0, train_end_) are the training part
  std::size_t windows_[2] = {0, 0};
};

unroll::Schema schema() {
  unroll::Schema s(
      "char_text",
      "Language-model data from a text file (Elman 1990; Sutskever, Martens & Hinton 2011; Bengio et al. "
      "2003): token x_t in, the next token x_{t+1} as the target at every step; tokens are bytes or words");
  s.string("path", "", "text file; relative to the experiment file").required = true;
  s.integer("length", 50, "steps T per sequence (consecutive, non-overlapping windows)").at_least(1);
  s.real("test_fraction", 0.1, "fraction of the tokens, taken from the end of the file, used as the test split")
      .range(0, 0.9);
  s.choice("tokens", "char", {"char", "word"},
           "char: every byte is a token; word: words (letters, digits, '_', non-ASCII bytes, inner apostrophes) and "
           "each punctuation mark, split at white space");
  s.boolean("lowercase", false, "fold ASCII letters to lower case first");
  s.integer("min_count", 1, "tokens seen fewer times (in the training part for words) become <unk>").at_least(1);
  s.integer("max_vocab", 0, "keep at most this many tokens, <unk> included, the most frequent first (0: all)")
      .at_least(0);
  s.choice("input", "onehot", {"onehot", "index"},
           "onehot: a vocabulary-sized one-hot vector per step; index: one feature holding the token index, for an "
           "embedding layer");
  s.string("vocab", "",
           "a vocabulary file (vocab.txt of a run) to use instead of building one; set by the host on resume, eval "
           "and predict; relative to the experiment file");
  return s;
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    Settings s;
    s.path = unroll::resolve_path(o.has("path") ? o.string("path") : std::string(), ctx.base_dir);
    if (s.path.empty()) throw Error("char_text: option 'path' (the text file) is required");
    s.length = o.i("length");
    s.test_fraction = o.real("test_fraction");
    s.words = o.string("tokens") == "word";
    s.lowercase = o.boolean("lowercase");
    s.min_count = o.i("min_count");
    s.max_vocab = o.i("max_vocab");
    if (s.max_vocab == 1) throw Error("char_text: max_vocab 1 leaves only <unk>; give at least 2, or 0 for no limit");
    s.index = o.string("input") == "index";
    s.vocab = unroll::resolve_path(o.string("vocab"), ctx.base_dir);
    return std::make_unique<CharText>(std::move(s));
  });
}
