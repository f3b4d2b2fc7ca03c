// Character-level language modelling on a text file: predict the next byte at every step.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unroll/plugin.hpp>

namespace {

using unroll::Error;
using unroll::Split;

// The file as symbol ids (indices into the sorted byte vocabulary), cut into non-overlapping
// windows of `length` inputs; window w of a part starts at w * length and its targets are the
// same characters shifted by one.
class CharText final : public unroll::Dataset {
 public:
  CharText(const std::string& path, int T, double test_fraction) : T_(T) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("char_text: cannot open text file " + path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::array<int, 256> id;
    id.fill(-1);
    for (unsigned char c : text) id[c] = 0;
    for (int c = 0; c < 256; ++c)
      if (id[c] == 0) id[c] = vocab_++;
    ids_.reserve(text.size());
    for (unsigned char c : text) ids_.push_back(static_cast<uint8_t>(id[c]));

    const std::size_t n = ids_.size();
    const std::size_t test_chars = static_cast<std::size_t>(test_fraction * static_cast<double>(n));
    train_end_ = n - test_chars;
    windows_[0] = train_end_ > 0 ? (train_end_ - 1) / T : 0;
    windows_[1] = test_chars > 0 ? (test_chars - 1) / T : 0;
    if (windows_[0] == 0)
      throw Error("char_text: " + path + " has " + std::to_string(n) + " characters; the training part (" +
                  std::to_string(train_end_) + ") needs at least length + 1 = " + std::to_string(T + 1));
    if (test_fraction > 0 && windows_[1] == 0)
      throw Error("char_text: the test part of " + path + " (" + std::to_string(test_chars) +
                  " characters, test_fraction " + std::to_string(test_fraction) + ") needs at least length + 1 = " +
                  std::to_string(T + 1) + "; raise test_fraction or set it to 0");
  }
  unroll::DatasetInfo info() const override {
    return {.input_size = vocab_, .steps = T_, .output_size = vocab_, .labels = true, .every_step = true,
            .has_test = windows_[1] > 0, .bits_per_symbol = true};
  }
  std::size_t size(Split s) const override { return windows_[s == Split::Train ? 0 : 1]; }
  void batch(Split s, std::span<const std::size_t> indices, unroll::Seq& x, unroll::Targets& y) override {
    const std::size_t start = s == Split::Train ? 0 : train_end_;
    const int B = static_cast<int>(indices.size());
    x.resize(vocab_, T_, B);
    x.data.setZero();
    y.steps = T_;
    y.batch = B;
    y.labels.resize(static_cast<std::size_t>(T_) * B);
    y.values.resize(0, 0);
    for (int b = 0; b < B; ++b) {
      if (indices[b] >= size(s))
        throw Error("char_text: window " + std::to_string(indices[b]) + " requested, the split has " +
                    std::to_string(size(s)));
      const uint8_t* w = &ids_[start + indices[b] * T_];
      for (int t = 0; t < T_; ++t) {
        const std::size_t col = static_cast<std::size_t>(t) * B + b;
        x.data(w[t], static_cast<Eigen::Index>(col)) = 1.0f;
        y.labels[col] = w[t + 1];
      }
    }
  }

 private:
  int T_;
  int vocab_ = 0;
  std::vector<uint8_t> ids_;
  std::size_t train_end_ = 0;
  std::size_t windows_[2] = {0, 0};
};

unroll::Schema schema() {
  unroll::Schema s("char_text",
                   "Character-level language model data (Elman 1990; Sutskever, Martens & Hinton 2011): one-hot "
                   "byte x_t, target x_{t+1} at every step; vocabulary = the sorted set of bytes in the file");
  s.string("path", "", "text file; relative to the experiment file").required = true;
  s.integer("length", 50, "steps T per sequence (consecutive, non-overlapping windows)").at_least(1);
  s.real("test_fraction", 0.1, "fraction of the file, taken from its end, used as the test split").range(0, 0.9);
  return s;
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    std::string path = o.has("path") ? o.string("path") : std::string();
    if (path.empty()) throw Error("char_text: option 'path' (the text file) is required");
    if (!ctx.base_dir.empty() && std::filesystem::path(path).is_relative())
      path = (std::filesystem::path(ctx.base_dir) / path).string();
    return std::make_unique<CharText>(path, o.i("length"), o.real("test_fraction"));
  });
}
